"""Written-out statements over the cards app's tables, for the authorization path.

Each one answers what its ORM twin (named in its docstring) answers, with the same rows
and values and, for the card lookup, the same row lock: the decision runs them on
every request, where building the ORM's statement costs more Python than the database
takes to run it. tests/test_queries.py runs each beside its twin on SQLite and on
PostgreSQL. The machinery they share (values converted as the ORM converts them) is
cardsystem/sql.py.
"""

import datetime
import functools
import uuid

from django.db import connection
from django.db.transaction import TransactionManagementError

from cards.models import Card, Cardholder, LedgerEntry
from cardsystem import sql

_CARD_FIELDS = Card._meta.concrete_fields
_CARDHOLDER_FIELDS = Cardholder._meta.concrete_fields


def card_by_fingerprint(fingerprint: str, *, lock: bool) -> Card | None:
    """The card with this PAN fingerprint, its cardholder with it, or None: what
    `Card.objects.select_related("cardholder").filter(pan_fingerprint=fingerprint).first()`
    returns (pan_fingerprint is unique), with `.select_for_update(of=("self",))` when
    `lock`: the card row, not its cardholder's, stays locked until the caller's
    transaction ends (PostgreSQL; SQLite has no row locks and serialises writers)."""
    lock = lock and connection.features.has_select_for_update
    if lock and connection.get_autocommit():  # as the ORM refuses: the lock would end at once
        raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
    with sql.prepared_cursor() as cursor:
        cursor.execute(_card_by_fingerprint_sql(connection.vendor, lock), [fingerprint])
        row = cursor.fetchone()
    if row is None:
        return None
    card = sql.from_row(Card, _CARD_FIELDS, row[: len(_CARD_FIELDS)])
    if card.cardholder_id is not None:
        card.cardholder = sql.from_row(Cardholder, _CARDHOLDER_FIELDS, row[len(_CARD_FIELDS) :])
    return card


@functools.cache
def _card_by_fingerprint_sql(vendor: str, lock: bool) -> str:
    """Every column of the card and of its cardholder (NULLs when it has none). Cached per
    `vendor`, whose quoting it uses."""
    quote = connection.ops.quote_name
    columns = ", ".join(
        [f"c.{quote(f.column)}" for f in _CARD_FIELDS] + [f"h.{quote(f.column)}" for f in _CARDHOLDER_FIELDS]
    )
    cards, cardholders = quote(Card._meta.db_table), quote(Cardholder._meta.db_table)
    holder_id = quote(Cardholder._meta.pk.column)
    card_holder_id = quote(Card._meta.get_field("cardholder").column)
    fingerprint = quote(Card._meta.get_field("pan_fingerprint").column)
    statement = (
        f"SELECT {columns} FROM {cards} c LEFT OUTER JOIN {cardholders} h "  # noqa: S608
        f"ON h.{holder_id} = c.{card_holder_id} WHERE c.{fingerprint} = %s"
    )
    return statement + " FOR UPDATE OF c" if lock else statement


def card_debit(*, card_id: uuid.UUID, amount_minor: int, now: datetime.datetime) -> bool:
    """Take `amount_minor` off the card's balance unless that would go below zero; True
    when it did. What `Card.objects.filter(pk=card_id, balance_minor__gte=amount_minor)
    .update(balance_minor=F("balance_minor") - amount_minor, updated_at=now)` does."""
    return bool(sql.execute(card_debit_sql(connection.vendor), card_debit_params(card_id, amount_minor, now)))


def card_debit_params(card_id: uuid.UUID, amount_minor: int, now: datetime.datetime) -> list:
    """The parameters of card_debit_sql, in order."""
    return [
        amount_minor,
        _CARD_UPDATED_AT.get_db_prep_save(now, connection),
        Card._meta.pk.get_db_prep_save(card_id, connection),
        amount_minor,
    ]


_CARD_UPDATED_AT = Card._meta.get_field("updated_at")


@functools.cache
def card_debit_sql(vendor: str) -> str:
    """card_debit's UPDATE (transactions/queries.py `approval_insert` makes it part of a
    larger statement)."""
    quote = connection.ops.quote_name
    balance, updated_at, pk = (
        quote(Card._meta.get_field(name).column) for name in ("balance_minor", "updated_at", "id")
    )
    return (
        f"UPDATE {quote(Card._meta.db_table)} "  # noqa: S608
        f"SET {balance} = {balance} - %s, {updated_at} = %s WHERE {pk} = %s AND {balance} >= %s"
    )


def ledger_entry_insert(**values) -> LedgerEntry:
    """`LedgerEntry.objects.create(**values)` as one written-out INSERT: the same row is
    stored, but its id (an AutoField) is left unread (see cardsystem/sql.py `insert`)."""
    return sql.insert(LedgerEntry, **values)
