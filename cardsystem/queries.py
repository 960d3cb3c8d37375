"""Written-out statements over the ground floor's tables, each with its ORM twin.

tests/test_queries.py runs each one beside its twin, on SQLite and on PostgreSQL,
and compares what they give.
"""

import functools

from django.db import connection

from cardsystem.models import ApiClient


@functools.cache
def _api_client_by_key_hash_sql(vendor: str) -> str:
    """Every column, so that nothing is deferred; key_hash is unique, so no ORDER BY.
    Cached per `vendor`, whose quoting it uses."""
    quote = connection.ops.quote_name
    meta = ApiClient._meta
    columns = ", ".join(quote(field.column) for field in meta.concrete_fields)
    key_hash, is_active = (quote(meta.get_field(name).column) for name in ("key_hash", "is_active"))
    return f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {key_hash} = %s AND {is_active}"  # noqa: S608


def api_client_by_key_hash(key_hash: str) -> ApiClient | None:
    """The active API client with this key hash, or None: what
    `ApiClient.objects.filter(key_hash=key_hash, is_active=True).first()` returns.

    Written out because it runs on every API request, where building the ORM's SELECT
    costs more than the indexed read itself."""
    return next(iter(ApiClient.objects.raw(_api_client_by_key_hash_sql(connection.vendor), [key_hash])), None)
