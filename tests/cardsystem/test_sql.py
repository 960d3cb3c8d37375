"""cardsystem/sql.py stores and reads exactly what the ORM does."""

import datetime
import uuid

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save, pre_save

from cards.models import Card, LedgerEntry
from cardsystem import sql
from tests.factories import CardFactory, make_api_client
from transactions.models import Transaction

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=datetime.UTC)


def stored(model, **lookup) -> dict:
    """Every concrete field of one row, as the ORM reads it back."""
    row = model.objects.get(**lookup)
    return {f.attname: getattr(row, f.attname) for f in model._meta.concrete_fields}


def without(values: dict, *names: str) -> dict:
    return {k: v for k, v in values.items() if k not in names}


@pytest.fixture
def card():
    return CardFactory(balance_minor=100_00)


def transaction_values(card) -> dict:
    return {
        "card": card,
        "masked_pan": card.masked_pan,
        "bin_prefix": "400000",
        "amount_minor": 42_50,
        "currency": "EUR",
        "merchant_id": "m-1",
        "merchant_name": "Café Ünïcode",
        "mcc": "5411",
        "merchant_country": "DE",
        "transaction_time": NOW - datetime.timedelta(minutes=3),
        "status": Transaction.Status.APPROVED,
        "response_code": "00",
        "reason": "approved",
    }


@pytest.mark.parametrize(
    "changes",
    [
        {},  # channel, cvv_result, risk_*, flagged and client from their defaults
        {
            "channel": Transaction.Channel.ECOMMERCE,
            "cvv_result": Transaction.CvvResult.MATCH,
            "risk_score": 37,
            "risk_level": Transaction.RiskLevel.MEDIUM,
            "risk_factors": [{"code": "new_merchant", "points": 12, "detail": "ß → ✓"}],
            "risk_features": {"amount_ratio": 1.25, "seen": None, "nested": {"a": [1, 2]}},
            "flagged": True,
            "client": "an API client",
        },
        {"card": None, "masked_pan": "400000******0002", "status": Transaction.Status.DECLINED},
    ],
    ids=["defaults", "every field given", "unknown card"],
)
def test_insert_stores_a_transaction_as_create_does(card, changes):
    values = transaction_values(card) | changes
    if "client" in values:
        values["client"], _ = make_api_client("authorize")

    with time_machine.travel(NOW, tick=False):
        created = Transaction.objects.create(**values)
        inserted = sql.insert(Transaction, **values)

    assert inserted.pk is not None and inserted.pk != created.pk  # the UUID default, as create() sets it
    assert without(stored(Transaction, pk=inserted.pk), "id") == without(
        stored(Transaction, pk=created.pk), "id"
    )
    assert stored(Transaction, pk=inserted.pk)["created_at"] == NOW  # auto_now_add
    assert stored(Transaction, pk=inserted.pk) == {
        f.attname: getattr(inserted, f.attname) for f in Transaction._meta.concrete_fields
    }
    assert (inserted._state.adding, inserted._state.db) == (False, created._state.db)


def test_insert_stores_a_ledger_entry_as_create_does_but_leaves_its_id_unread(card):
    values = {
        "card": card,
        "kind": LedgerEntry.Kind.DEBIT,
        "amount_minor": -42_50,
        "balance_after_minor": 57_50,
        "currency": "EUR",
    }

    with time_machine.travel(NOW, tick=False):
        created = LedgerEntry.objects.create(**values, reference="by create")
        inserted = sql.insert(LedgerEntry, **values, reference="by insert")

    assert inserted.pk is None  # an AutoField: the database's, never read back
    row = stored(LedgerEntry, reference="by insert")
    assert row["id"] is not None and row["id"] != created.pk
    assert without(row, "id", "reference") == without(stored(LedgerEntry, pk=created.pk), "id", "reference")
    assert row["created_at"] == NOW
    assert without(row, "id") == without(
        {f.attname: getattr(inserted, f.attname) for f in LedgerEntry._meta.concrete_fields}, "id"
    )
    assert (inserted._state.adding, inserted._state.db) == (False, created._state.db)


def test_insert_refuses_an_id_it_would_not_send(card):
    with pytest.raises(ValueError, match="leaves id to the database"):
        sql.insert(
            LedgerEntry,
            id=123,
            card=card,
            kind=LedgerEntry.Kind.TOP_UP,
            amount_minor=1,
            balance_after_minor=1,
            currency="EUR",
        )

    assert not LedgerEntry.objects.filter(pk=123).exists()


def test_a_failed_insert_marks_the_transaction_for_rollback_as_create_does(card):
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            sql.insert(
                LedgerEntry,
                card=card,
                kind=LedgerEntry.Kind.DEBIT,
                amount_minor=0,  # ledger_amount_not_zero
                balance_after_minor=1,
                currency="EUR",
            )
        assert transaction.get_rollback()

    assert not LedgerEntry.objects.filter(card=card, amount_minor=0).exists()


def test_execute_returns_the_row_count(card):
    table = connection.ops.quote_name(Card._meta.db_table)
    update = f"UPDATE {table} SET status_reason = %s WHERE id = %s"  # noqa: S608

    for pk, count in [(card.pk, 1), (uuid.uuid4(), 0)]:
        assert sql.execute(update, ["x", Card._meta.pk.get_db_prep_save(pk, connection)]) == count


@pytest.mark.parametrize("model", [Transaction, LedgerEntry])
def test_models_written_by_insert_have_no_save_receivers_it_would_skip(model):
    assert not pre_save.has_listeners(model)
    assert not post_save.has_listeners(model)


@pytest.mark.parametrize("model", [Transaction, Card])
def test_from_row_builds_what_the_orm_reads(card, model):
    client, _ = make_api_client("authorize")
    with time_machine.travel(NOW, tick=False):
        recorded = Transaction.objects.create(
            **transaction_values(card),
            client=client,
            risk_factors=[{"code": "x"}],
            risk_features={"f": 0.5},
        )
    pk = recorded.pk if model is Transaction else card.pk
    fields = model._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {table} WHERE id = %s",  # noqa: S608
            [model._meta.pk.get_db_prep_value(pk, connection)],
        )
        row = cursor.fetchone()

    built = sql.from_row(model, fields, row)

    assert isinstance(built.pk, uuid.UUID)
    assert {f.attname: getattr(built, f.attname) for f in fields} == stored(model, pk=pk)
    assert (built._state.adding, built._state.db) == (False, connection.alias)
