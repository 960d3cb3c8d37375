"""The floor of an authorization's work, as a bare WSGI callable: the baseline that
bench/authorizations.py serves beside cardsystem.wsgi:application.

Per request: parse the JSON body, read the card by its keyed fingerprint (one indexed
read), debit it with one conditional UPDATE, insert one transactions_transaction row,
all in one database transaction, and answer a small JSON 201. No URL routing, no
middleware, no DRF, no serializers, no risk scoring, no ledger entry, no logging: only
Django's settings and database connection (same DATABASES options as the real server:
IMMEDIATE transactions and WAL on SQLite, persistent connections on PostgreSQL).
"""

import json
import os
import uuid

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")
django.setup()

from django.core.exceptions import ImproperlyConfigured  # noqa: E402  (after django.setup())
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from cards.models import Card  # noqa: E402
from cards.pan import pan_fingerprint  # noqa: E402
from cardsystem.money import MoneyError, to_minor  # noqa: E402
from transactions.models import Transaction  # noqa: E402

CARDS = Card._meta.db_table
READ_CARD = f"SELECT id, masked_pan, currency FROM {CARDS} WHERE pan_fingerprint = %s"  # noqa: S608
DEBIT = f"UPDATE {CARDS} SET balance_minor = balance_minor - %s WHERE id = %s AND balance_minor >= %s"  # noqa: S608

# The INSERT covers every column of the model as it is today (other columns get their
# defaults, adapted once), so the baseline keeps up with migrations of the schema.
FILLED = [
    "id", "card", "masked_pan", "amount_minor", "currency", "merchant_id", "merchant_name", "mcc",
    "merchant_country", "channel", "transaction_time", "status", "response_code", "reason", "created_at",
]  # fmt: skip
_FIELDS = {field.name: field for field in Transaction._meta.concrete_fields}


def _default(field):
    # What the ORM would write for a field left out: its default, else "" or NULL.
    if not (field.has_default() or field.null or field.empty_strings_allowed):
        raise ImproperlyConfigured(f"bench/baseline_wsgi.py does not fill the new column {field.column}.")
    return field.get_db_prep_save(field.get_default(), connection)


_DEFAULTS = {name: _default(field) for name, field in _FIELDS.items() if name not in FILLED}
_COLUMNS = [_FIELDS[name].column for name in FILLED] + [_FIELDS[name].column for name in _DEFAULTS]
INSERT = (
    f"INSERT INTO {Transaction._meta.db_table} ({', '.join(_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
)


def _answer(start_response, status: str, body: dict):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _authorize(request: dict) -> dict:
    amount = to_minor(request["amount"], request["currency"])
    now = timezone.now()
    transaction_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(READ_CARD, [pan_fingerprint(request["card_number"])])
        row = cursor.fetchone()
        if row is None:
            return {"id": None, "status": "declined", "response_code": "14"}
        card_id, masked_pan, currency = row
        cursor.execute(DEBIT, [amount, card_id, amount])
        approved = cursor.rowcount == 1
        values = {
            "id": transaction_id,
            "card": card_id,
            "masked_pan": masked_pan,
            "amount_minor": amount,
            "currency": currency,
            "merchant_id": request["merchant_id"],
            "merchant_name": request.get("merchant_name", ""),
            "mcc": request["mcc"],
            "merchant_country": request["merchant_country"],
            "channel": request.get("channel", "pos"),
            "transaction_time": now,
            "status": "approved" if approved else "declined",
            "response_code": "00" if approved else "51",
            "reason": "approved" if approved else "insufficient_funds",
            "created_at": now,
        }
        cursor.execute(
            INSERT,
            [_FIELDS[name].get_db_prep_save(values[name], connection) for name in FILLED]
            + list(_DEFAULTS.values()),
        )
    return {
        "id": str(transaction_id),
        "status": "approved" if approved else "declined",
        "response_code": "00" if approved else "51",
    }


def application(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":
        return _answer(start_response, "405 Method Not Allowed", {"detail": "POST only."})
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length))
        body = _authorize(request)
    except (ValueError, KeyError, TypeError, MoneyError) as error:
        return _answer(start_response, "400 Bad Request", {"detail": type(error).__name__})
    return _answer(start_response, "201 Created", body)
