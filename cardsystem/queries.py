"""Written-out statements over the ground floor's tables, each with its ORM twin.

tests/test_queries.py runs each one beside its twin, on SQLite and on PostgreSQL,
and compares what they give.
"""

import functools

from django.db import connection

from cardsystem import sql
from cardsystem.models import ApiClient


@functools.cache
def _api_client_by_key_hash_sql(vendor: str) -> str:
    """Every column, so that nothing is deferred. key_hash and previous_key_hash are each
    unique and keys are 256-bit random, so at most one row matches: no ORDER BY. Each
    column has its own unique index, which both databases combine for the OR.
    Cached per `vendor`, whose quoting it uses."""
    quote = connection.ops.quote_name
    meta = ApiClient._meta
    columns = ", ".join(quote(field.column) for field in meta.concrete_fields)
    key_hash, previous_key_hash, is_active = (
        quote(meta.get_field(name).column) for name in ("key_hash", "previous_key_hash", "is_active")
    )
    return (
        f"SELECT {columns} FROM {quote(meta.db_table)} "  # noqa: S608
        f"WHERE ({key_hash} = %s OR {previous_key_hash} = %s) AND {is_active}"
    )


def api_client_by_key_hash(key_hash: str) -> ApiClient | None:
    """The active API client whose current or previous key has this hash, or None: what
    `ApiClient.objects.filter(Q(key_hash=key_hash) | Q(previous_key_hash=key_hash),
    is_active=True).first()` returns. Expiry is the caller's to check (one read serves
    both keys, whose ends differ).

    Written out because it runs on every API request, where building the ORM's SELECT
    costs more than the indexed read itself; the request's first statement, it is also
    its connection's health check (`sql.first_read`)."""
    row = sql.first_read(_api_client_by_key_hash_sql(connection.vendor), [key_hash, key_hash])
    return None if row is None else sql.from_row(ApiClient, ApiClient._meta.concrete_fields, row)
