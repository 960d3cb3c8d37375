"""Every written-out statement (the queries modules) against its ORM twin, and the
machinery they share (cardsystem/sql.py): same rows, same values, same row locks.

The suite runs on SQLite and on PostgreSQL, so each comparison runs on both."""

import datetime
import random
import uuid

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.signals import post_save, pre_save
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from cards.models import Card, Cardholder, LedgerEntry
from cards.queries import card_by_fingerprint, card_debit, ledger_entry_insert
from cardsystem import sql
from cardsystem.audit import Actor
from cardsystem.models import ApiClient
from cardsystem.queries import api_client_by_key_hash
from cardsystem.services import api_client_revoke, api_client_rotate_key, hash_api_key
from tests.factories import CardFactory, make_api_client
from tests.query_twins import (
    APPROVED,
    AT,
    DAY,
    DECLINED,
    HOUR,
    REVERSED,
    SECOND,
    TICK,
    a_history,
    card_history_twin,
    cross_card_twin,
    fields_of,
    locked_from_elsewhere,
    orm_card_by_fingerprint,
    record,
    reported,
    stored,
    without,
)
from transactions.cross_card_queries import (
    MERCHANT_SAMPLE,
    WINDOW_CAP,
    card_and_cross_card_rows,
    cross_card_row,
    window_bounds,
)
from transactions.models import Transaction
from transactions.queries import approval_insert, card_history_row, transaction_insert

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=datetime.UTC)


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
        inserted = transaction_insert(**values)

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
        inserted = ledger_entry_insert(**values, reference="by insert")

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
        ledger_entry_insert(
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
            ledger_entry_insert(
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


# --- cardsystem/queries.py -------------------------------------------------------------------


@pytest.mark.parametrize(
    "state", ["active", "revoked", "unknown", "previous key", "previous key, revoked", "expired"]
)
def test_the_api_key_lookup_gives_what_its_orm_twin_gives(state):
    client, key = make_api_client("authorize")
    other, _ = make_api_client("manage")  # another client, never found
    api_client_rotate_key(client=other, actor=Actor.system("tests"), overlap=HOUR)  # a previous key too
    if state.startswith("previous key"):
        _, new_key = api_client_rotate_key(client=client, actor=Actor.system("tests"), overlap=HOUR)
        assert new_key != key
    if state == "expired":
        # Expiry is the service's to check: the statement finds the row, as its twin does.
        ApiClient.objects.filter(pk=client.pk).update(expires_at=NOW)
    if "revoked" in state:
        api_client_revoke(client=client, actor=Actor.system("tests"))
    key_hash = hash_api_key(key if state != "unknown" else key + "x")

    found = api_client_by_key_hash(key_hash)
    twin = ApiClient.objects.filter(
        Q(key_hash=key_hash) | Q(previous_key_hash=key_hash), is_active=True
    ).first()

    assert (found is None) == (twin is None) == (state in ("revoked", "unknown", "previous key, revoked"))
    if twin is not None:
        assert fields_of(found) == fields_of(twin) == stored(ApiClient, pk=client.pk)
        assert found.get_deferred_fields() == set()
        assert (found.previous_key_hash == key_hash) == (state == "previous key")


# --- cards/queries.py: the card and its cardholder, locked or not ----------------------------


@pytest.mark.parametrize("lock", [False, True], ids=["unlocked", "locked"])
@pytest.mark.parametrize("holder", ["with a cardholder", "without a cardholder", "unknown card"])
def test_the_card_lookup_gives_what_its_orm_twin_gives(django_assert_num_queries, holder, lock):
    card = CardFactory(balance_minor=12_34, limits={"daily": 500_00})
    CardFactory()  # another card, never found
    fingerprint = card.pan_fingerprint
    if holder == "without a cardholder":
        Card.objects.filter(pk=card.pk).update(cardholder=None)
    elif holder == "unknown card":
        fingerprint = "0" * len(fingerprint)

    with transaction.atomic():
        found = card_by_fingerprint(fingerprint, lock=lock)
        twin = orm_card_by_fingerprint(fingerprint, lock=lock)

    if holder == "unknown card":
        assert found is None and twin is None
        return
    assert fields_of(found) == fields_of(twin) == stored(Card, pk=card.pk)
    assert (found._state.adding, found._state.db) == (twin._state.adding, twin._state.db)
    with django_assert_num_queries(0):  # the cardholder came with the card, or there is none
        holders = found.cardholder, twin.cardholder
    if holder == "without a cardholder":
        assert holders == (None, None)
    else:
        assert fields_of(holders[0]) == fields_of(holders[1]) == stored(Cardholder, pk=card.cardholder_id)


@pytest.mark.django_db(transaction=True)  # outside any transaction, as a caller may be
@pytest.mark.parametrize("lock", [False, True], ids=["unlocked", "locked"])
def test_the_card_lookup_locks_outside_a_transaction_no_more_than_its_twin(lock):
    card = CardFactory()
    outcomes = []
    for lookup in (card_by_fingerprint, orm_card_by_fingerprint):
        try:
            lookup(card.pan_fingerprint, lock=lock)
            outcomes.append("read")
        except TransactionManagementError:
            outcomes.append("refused")

    # PostgreSQL refuses a lock that would end at once; SQLite takes none to refuse.
    refused = lock and connection.features.has_select_for_update
    assert outcomes == ["refused" if refused else "read"] * 2


@pytest.mark.parametrize("lock", [False, True], ids=["unlocked", "locked"])
def test_the_card_lookup_asks_for_the_row_lock_its_twin_asks_for(lock):
    card = CardFactory()
    statements = []
    for lookup in (card_by_fingerprint, orm_card_by_fingerprint):
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            lookup(card.pan_fingerprint, lock=lock)
        (statement,) = [q["sql"] for q in queries.captured_queries if "pan_fingerprint" in q["sql"]]
        statements.append(statement)

    # Of the card alone (`of=("self",)`): FOR UPDATE OF its table's alias. SQLite has no
    # row locks: neither statement asks for one.
    locking = lock and connection.features.has_select_for_update
    assert ["FOR UPDATE OF" in statement for statement in statements] == [locking, locking]
    assert all(statement.count("FOR UPDATE") == int(locking) for statement in statements)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lock", [False, True], ids=["unlocked", "locked"])
def test_the_locked_card_lookup_holds_the_cards_row_and_not_its_cardholders(lock):
    card = CardFactory()
    held = []
    for lookup in (card_by_fingerprint, orm_card_by_fingerprint):
        with transaction.atomic():
            lookup(card.pan_fingerprint, lock=lock)
            held.append(
                (locked_from_elsewhere(Card, card.pk), locked_from_elsewhere(Cardholder, card.cardholder_id))
            )
        held.append((locked_from_elsewhere(Card, card.pk), False))  # released at commit

    # PostgreSQL: the card's row alone, and only when asked. SQLite has no row locks: its
    # transaction holds the whole database, whatever the statement asks.
    inside = (lock, False) if connection.features.has_select_for_update else (True, True)
    assert held == [inside, (False, False)] * 2


# --- cards/queries.py: the debit ---------------------------------------------------------------


def card_outcome(card, run) -> tuple:
    """What `run` returns and the card's row after it, then undone."""
    with transaction.atomic():
        result = run()
        after = stored(Card, pk=card.pk)
        transaction.set_rollback(True)
    return result, after


@pytest.mark.parametrize(
    ("amount", "debited"),
    [(40_00, True), (100_00, True), (100_01, False), (None, False)],
    ids=["within the balance", "the whole balance", "more than the balance", "unknown card"],
)
def test_the_debit_does_what_its_orm_twin_does(card, amount, debited):
    card_id = card.pk if amount is not None else uuid.uuid4()
    amount = amount or 1_00
    before = stored(Card, pk=card.pk)

    with time_machine.travel(NOW, tick=False):
        ours = card_outcome(card, lambda: card_debit(card_id=card_id, amount_minor=amount, now=NOW))
        twin = card_outcome(
            card,
            lambda: bool(
                Card.objects.filter(pk=card_id, balance_minor__gte=amount).update(
                    balance_minor=F("balance_minor") - amount, updated_at=NOW
                )
            ),
        )

    assert ours == twin
    assert ours[0] is debited
    expected = before | {"balance_minor": 100_00 - amount, "updated_at": NOW} if debited else before
    assert ours[1] == expected


def approval(card, amount: int, values: dict, run) -> tuple:
    """What `run` (an approval's writes) returns and leaves: the card's row, the rows of
    the transaction and ledger entry it wrote (ids aside), then undone."""
    with transaction.atomic():
        result = run()
        rows = (
            stored(Card, pk=card.pk),
            [without(stored(Transaction, pk=t.pk), "id") for t in Transaction.objects.filter(card=card)],
            [
                without(stored(LedgerEntry, pk=e.pk), "id")
                for e in LedgerEntry.objects.filter(card=card, kind="debit")
            ],
        )
        transaction.set_rollback(True)
    return result, rows


@pytest.mark.parametrize(("amount", "debited"), [(100_00, True), (100_01, False)])
def test_an_approvals_writes_are_those_of_its_orm_twin_all_or_nothing(card, amount, debited):
    txn_id = uuid.uuid4()
    values = transaction_values(card) | {
        "id": txn_id,
        "amount_minor": amount,
        "risk_features": {"a": [1, None]},
    }
    ledger = {
        "card": card,
        "kind": LedgerEntry.Kind.DEBIT,
        "amount_minor": -amount,
        "balance_after_minor": 100_00 - amount,
        "currency": "EUR",
        "reference": str(txn_id),
    }

    def twin():
        if not Card.objects.filter(pk=card.pk, balance_minor__gte=amount).update(
            balance_minor=F("balance_minor") - amount, updated_at=NOW
        ):
            return None
        LedgerEntry.objects.create(**ledger)
        return Transaction.objects.create(**values)

    with time_machine.travel(NOW, tick=False):
        ours = approval(
            card,
            amount,
            values,
            lambda: approval_insert(
                card_id=card.pk, amount_minor=amount, now=NOW, transaction=values, ledger=ledger
            ),
        )
        theirs = approval(card, amount, values, twin)

    assert ours[1] == theirs[1]
    assert (ours[0] is not None) is debited and (theirs[0] is not None) is debited
    if debited:
        assert ours[0].pk == txn_id and not ours[0]._state.adding
        assert len(ours[1][1]) == len(ours[1][2]) == 1 and ours[1][0]["balance_minor"] == 0
    else:
        assert ours[1][1:] == ([], [])


def test_an_approvals_writes_are_one_statement_on_postgresql(card):
    values = transaction_values(card)
    ledger = {
        "card": card,
        "kind": "debit",
        "amount_minor": -1,
        "balance_after_minor": 99_99,
        "currency": "EUR",
    }

    with CaptureQueriesContext(connection) as captured:
        approval_insert(
            card_id=card.pk, amount_minor=1, now=NOW, transaction=values, ledger=ledger | {"currency": "EUR"}
        )

    assert len(captured.captured_queries) == (1 if connection.vendor == "postgresql" else 3)


# --- transactions/queries.py: the feature windows -----------------------------------------------


def both_card_histories(**arguments) -> tuple[dict, dict]:
    return card_history_row(**arguments), card_history_twin(**arguments)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("offset", [-300, 0, 330, 840], ids=["New York", "UTC", "India", "Kiribati"])
def test_the_card_history_gives_what_the_orm_aggregation_gives(card, seed, offset):
    a_history(card, seed=seed)
    a_history(CardFactory(), seed=seed + 100)  # another card's, never counted

    ours, twin = both_card_histories(
        card_id=card.pk,
        at=AT,
        merchant_id="M-1",
        merchant_country="FR",
        mcc="7995",
        channel=Transaction.Channel.ATM,
        utc_offset_minutes=offset,
        night_ends_minute=6 * 60,
        device_hash="device-a",
    )

    assert ours == twin
    assert {type(v) for v in ours.values()} <= {int, float, bool, str, datetime.datetime}
    assert ours["count_30d"] > ours["count_7d"] > ours["count_1m"] > 0  # the windows hold rows
    assert ours["previous_time"] == AT and ours["previous_present_country"] == "US"
    counted = ("chip_reads_30d", "device_approvals_30d", "approvals_with_device_30d")
    assert all(ours[name] > 0 for name in counted)  # the authentication facts are counted too


@pytest.mark.parametrize("kind", ["no transactions", "only later ones", "only declines, long ago"])
def test_the_card_history_of_a_card_with_nothing_to_count_gives_what_the_orm_gives(card, kind):
    if kind == "only later ones":
        record(card, at=AT + SECOND)
    elif kind == "only declines, long ago":
        record(card, at=AT - 300 * DAY, status=DECLINED)

    ours, twin = both_card_histories(
        card_id=card.pk,
        at=AT,
        merchant_id="M-1",
        merchant_country="US",
        mcc="5814",
        channel=Transaction.Channel.POS,
        utc_offset_minutes=0,
        night_ends_minute=6 * 60,
    )

    assert ours == twin
    assert ours["count_30d"] == ours["approved_amount_30d"] == 0 and ours["approved_square_sum_30d"] == 0.0
    assert not any(ours[f"seen_{what}"] for what in ("merchant", "country", "mcc", "channel"))
    assert ours["previous_present_time"] is ours["previous_present_country"] is None
    assert ours["previous_time"] == (AT - 300 * DAY if kind == "only declines, long ago" else None)
    assert ours["device_approvals_30d"] == ours["approvals_with_device_30d"] == ours["magstripe_24h"] == 0
    assert ours["last_pin_failure_24h"] is ours["last_pin_verified_24h"] is None


def test_a_use_long_ago_is_seen_as_the_orm_sees_it(card):
    record(card, at=AT - 300 * DAY, merchant_id="M-old", merchant_country="JP", mcc="4111")

    ours, twin = both_card_histories(
        card_id=card.pk,
        at=AT,
        merchant_id="M-old",
        merchant_country="JP",
        mcc="4111",
        channel=Transaction.Channel.POS,
        utc_offset_minutes=0,
        night_ends_minute=6 * 60,
    )

    assert ours == twin
    assert all(ours[f"seen_{what}"] for what in ("merchant", "country", "mcc", "channel"))
    assert ours["count_30d"] == 0 and ours["previous_time"] == AT - 300 * DAY


@pytest.mark.parametrize(
    ("cap", "sample"), [(1000, 5000), (3, 4)], ids=["the real bounds", "bounds that cut the windows"]
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_cross_card_activity_gives_what_the_orm_aggregation_gives(seed, cap, sample):
    rng = random.Random(seed)
    cards = [CardFactory(), CardFactory(), None]  # None: attempts on made-up numbers
    made = []
    for _ in range(80):
        made.append(
            record(
                rng.choice(cards),
                at=AT - rng.uniform(-0.2, 2) * rng.choice([HOUR, 60 * DAY]),
                status=rng.choice([APPROVED, DECLINED, REVERSED]),
                merchant_id=rng.choice(["M-1", "M-2"]),
                bin_prefix=rng.choice(["400000", "510000"]),
                cvv_result=rng.choice(list(Transaction.CvvResult)),
            )
        )
    # The hour's edges are whole minutes (in, a tick outside out); the fraud window's, instants.
    since, until = window_bounds(AT, HOUR)
    for edge in (since, since - TICK, AT, until - TICK, until, AT - 90 * DAY, AT - 90 * DAY - TICK):
        made.append(
            record(
                cards[0],
                at=edge,
                status=DECLINED,
                merchant_id="M-1",
                cvv_result=Transaction.CvvResult.MISMATCH,
            )
        )
    latest = record(cards[1], at=AT - 2 * TICK, merchant_id="M-1")
    reported(latest, at=AT - TICK)  # in every sample, reported just in time
    for txn in rng.sample(made, 30):
        reported(txn, at=max(txn.transaction_time, AT - DAY) + rng.choice([-HOUR, TICK, HOUR]) * rng.random())

    arguments = {
        "merchant_id": "M-1",
        "bin_prefix": "400000",
        "at": AT,
        "fraud_window": 90 * DAY,
        "cap": cap,
        "sample": sample,
    }
    ours, twin = cross_card_row(**arguments), cross_card_twin(**arguments)

    assert ours == twin
    assert {type(v) for v in ours.values()} == {int, type(None)}  # long failures: not asked for
    assert ours["merchant_count_1h"] > 0 and ours["merchant_recent_fraud"] > 0
    if cap == 3:  # the declines are cut, the counts are not
        assert ours["merchant_declines_1h"] == ours["bin_declines_1h"] == 3 < ours["merchant_count_1h"]
        assert ours["merchant_recent_count"] == 4


def test_the_cross_card_activity_of_a_quiet_merchant_gives_what_the_orm_gives(card):
    record(card, at=window_bounds(AT, HOUR)[1], merchant_id="M-quiet")  # the next minute: not yet
    reported(record(card, at=AT - DAY, merchant_id="M-quiet"), at=AT + SECOND)  # reported later
    arguments = {
        "merchant_id": "M-quiet",
        "bin_prefix": "999999",
        "at": AT,
        "fraud_window": 90 * DAY,
        "cap": 1000,
        "sample": 5000,
    }

    ours, twin = cross_card_row(**arguments), cross_card_twin(**arguments)

    assert ours == twin
    long_not_read = {"merchant_failures_long": None, "merchant_attempts_long": None}
    assert ours == dict.fromkeys(twin, 0) | long_not_read  # no report yet: its history is not read


def test_a_merchants_history_is_read_for_its_fraud_share_only_once_it_has_reported_fraud(card):
    for minutes in range(1, 6):
        record(card, at=AT - minutes * HOUR, merchant_id="M-busy")
    arguments = {"merchant_id": "M-busy", "bin_prefix": "999999", "at": AT, "fraud_window": 90 * DAY}
    before = cross_card_row(**arguments)
    reported(record(card, at=AT - DAY, merchant_id="M-busy"), at=AT - SECOND)

    after = cross_card_row(**arguments)

    assert (before["merchant_recent_count"], before["merchant_recent_fraud"]) == (0, 0)
    assert (after["merchant_recent_count"], after["merchant_recent_fraud"]) == (6, 1)
    assert after["merchant_fraud_cards_90d"] == 1
    assert after == cross_card_twin(**arguments, cap=WINDOW_CAP, sample=MERCHANT_SAMPLE)


@pytest.mark.parametrize("tested", [None, 2 * HOUR], ids=["no tested-card window", "a tested-card window"])
@pytest.mark.parametrize("seed", [1, 2])
def test_the_card_and_cross_card_reads_in_one_statement_give_what_each_gives(card, seed, tested):
    rng = random.Random(seed)
    a_history(card, seed=seed)
    for _ in range(40):
        record(
            rng.choice([card, CardFactory(), None]),
            at=AT - rng.uniform(-0.1, 2) * HOUR,
            status=rng.choice([APPROVED, DECLINED]),
            merchant_id=rng.choice(["M-1", "M-2"]),
            cvv_result=rng.choice(list(Transaction.CvvResult)),
        )
    history = {
        "card_id": card.pk,
        "at": AT,
        "merchant_id": "M-1",
        "merchant_country": "FR",
        "mcc": "7995",
        "channel": Transaction.Channel.POS,
        "utc_offset_minutes": 60,
        "night_ends_minute": 6 * 60,
    }
    cross = {"merchant_id": "M-1", "bin_prefix": "400000", "at": AT, "fraud_window": 90 * DAY}

    *ours, extra = card_and_cross_card_rows(
        history=history, cross=cross | {"tested_window": tested}, also=("(SELECT 7)", "(SELECT NULL)")
    )
    ours = tuple(ours)

    twin_cross = cross_card_twin(**cross, cap=WINDOW_CAP, sample=MERCHANT_SAMPLE, tested_window=tested)
    assert ours == (card_history_twin(**history), twin_cross)
    assert ours == (card_history_row(**history), cross_card_row(**cross, tested_window=tested))
    assert ours[0]["count_30d"] > 0 and ours[1]["merchant_count_1h"] > 0
    assert (ours[1]["merchant_failures_long"] is None) is (tested is None)
    assert (ours[1]["merchant_attempts_long"] is None) is (tested is None)
    assert extra == (7, None)  # the caller's scalar subqueries, read in the same round trip
