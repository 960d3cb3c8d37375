import datetime
import itertools

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection

from cards import pan as card_data
from cards.models import Card, LedgerEntry
from cards.services import (
    TRANSITIONS,
    card_assign,
    card_change_status,
    card_credentials,
    card_get_by_pan,
    card_issue,
    card_set_limits,
    card_top_up,
    cardholder_create,
    ledger_mismatches,
)
from cardsystem.exceptions import ConflictError
from cardsystem.models import AuditLog
from tests.factories import TEST_ACTOR, BinFactory, CardFactory, CardholderFactory

pytestmark = pytest.mark.django_db
Status = Card.Status


# --- Issuing ------------------------------------------------------------------------------


@time_machine.travel(datetime.datetime(2026, 11, 24, 12, tzinfo=datetime.UTC))
def test_issuing_stores_only_ciphertext_fingerprint_and_mask_and_defaults_to_three_years():
    issued = card_issue(bin=BinFactory(bin="400000"), cardholder=CardholderFactory(), actor=TEST_ACTOR)
    card = Card.objects.get(pk=issued.card.pk)
    assert (card.expiry_month, card.expiry_year) == (11, 2029)
    assert card.status == Status.ACTIVE and card.currency == "USD" and card.balance_minor == 0
    assert card.masked_pan == card_data.mask_pan(issued.pan) and card.last4 == issued.pan[-4:]
    assert card_data.decrypt_pan(card.pan_key_id, card.pan_encrypted) == issued.pan
    assert card.pan_fingerprint == card_data.pan_fingerprint(issued.pan)
    audit = AuditLog.objects.get(action=AuditLog.Action.CARD_ISSUED)
    assert audit.target_id == str(card.pk) and issued.pan not in str(audit.details) + audit.target_label


def test_no_database_column_anywhere_holds_the_pan_or_the_cvv_in_clear():
    card = CardFactory(balance_minor=1000)
    card_change_status(card=card, status=Status.BLOCKED, reason="testing", actor=TEST_ACTOR)
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (table names from introspection)
            for row in cursor.fetchall():
                text = " ".join(str(bytes(v) if isinstance(v, memoryview) else v) for v in row)
                assert card.pan not in text, table
                assert f"cvv={card.cvv}" not in text and f'"cvv": "{card.cvv}"' not in text, table


def test_many_cards_on_one_bin_get_distinct_numbers():
    bin, holder = BinFactory(), CardholderFactory()
    numbers = {card_issue(bin=bin, cardholder=holder, actor=TEST_ACTOR).pan for _ in range(100)}
    assert len(numbers) == 100 == Card.objects.filter(bin=bin).count()


def test_a_full_bin_range_is_a_clear_error_not_a_loop():
    # An 8-digit BIN with 12-digit PANs has 1,000 numbers; fill them all but by collision.
    bin = BinFactory(bin="99000000", network="other", pan_length=12)
    holder = CardholderFactory()
    with pytest.raises(ValidationError) as error:
        for _ in range(1100):
            card_issue(bin=bin, cardholder=holder, actor=TEST_ACTOR)
    assert "bin" in error.value.message_dict
    assert Card.objects.filter(bin=bin).count() <= 1000


def test_an_inactive_bin_issues_nothing():
    with pytest.raises(ValidationError) as error:
        card_issue(bin=BinFactory(is_active=False), cardholder=CardholderFactory(), actor=TEST_ACTOR)
    assert "bin" in error.value.message_dict
    assert not Card.objects.exists() and not AuditLog.objects.exists()


@time_machine.travel(datetime.datetime(2026, 11, 24, 12, tzinfo=datetime.UTC))
@pytest.mark.parametrize(
    ("month", "year", "field"),
    [
        (10, 2026, "expiry_year"),
        (13, 2027, "expiry_month"),
        (1, 2037, "expiry_year"),
        (None, 2028, "expiry_month"),
    ],
)
def test_an_impossible_expiry_is_refused(month, year, field):
    with pytest.raises(ValidationError) as error:
        card_issue(
            bin=BinFactory(),
            cardholder=CardholderFactory(),
            actor=TEST_ACTOR,
            expiry_month=month,
            expiry_year=year,
        )
    assert field in error.value.message_dict
    assert not Card.objects.exists()


def test_credentials_are_recovered_for_the_issuing_replay_only_from_the_stored_card():
    card = CardFactory()
    again = card_credentials(Card.objects.get(pk=card.pk))
    assert (again.pan, again.cvv) == (card.pan, card.cvv)


def test_cards_are_found_by_number_through_their_fingerprint():
    card = CardFactory()
    assert card_get_by_pan(card.pan).pk == card.pk
    assert card_get_by_pan(card_data.generate_pan("400000", 16)) is None


def test_cards_issued_before_a_key_rotation_are_still_found_and_verified(settings):
    card = CardFactory()
    settings.CARD_DATA_OLD_KEYS = [settings.CARD_DATA_KEY]
    settings.CARD_DATA_KEY = "the-rotated-key-of-at-least-thirty-two-chars"
    found = card_get_by_pan(card.pan)
    assert found.pk == card.pk
    assert card_credentials(found).cvv == card.cvv
    newer = CardFactory()
    assert newer.pan_key_id != card.pan_key_id and card_get_by_pan(newer.pan).pk == newer.pk


# --- Cardholders ----------------------------------------------------------------------------


@pytest.mark.parametrize("born", [datetime.date(2999, 1, 1), datetime.date(1899, 12, 31)])
def test_a_cardholder_must_be_born_in_the_past_and_after_1900(born):
    with pytest.raises(ValidationError) as error:
        cardholder_create(name="Ada", date_of_birth=born, country="GB", actor=TEST_ACTOR)
    assert "date_of_birth" in error.value.message_dict


def test_a_cardholder_with_an_unknown_country_is_refused():
    with pytest.raises(ValidationError) as error:
        cardholder_create(name="Ada", date_of_birth=datetime.date(1990, 1, 1), country="XX", actor=TEST_ACTOR)
    assert "country" in error.value.message_dict


# --- Lifecycle ---------------------------------------------------------------------------------


ALL_PAIRS = [(a, b) for a, b in itertools.product(Status.values, repeat=2) if a != b]


def _card_in(status):
    card = CardFactory()
    Card.objects.filter(pk=card.pk).update(status=status)
    card.refresh_from_db()
    return card


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_every_status_change_follows_the_transition_table(current, target):
    card = _card_in(current)
    if target in TRANSITIONS[current]:
        card_change_status(card=card, status=target, reason="table", actor=TEST_ACTOR)
        assert Card.objects.get(pk=card.pk).status == target
        audit = AuditLog.objects.get(action=AuditLog.Action.CARD_STATUS_CHANGED, target_id=str(card.pk))
        assert audit.details == {"from": current, "to": target, "reason": "table"}
    else:
        with pytest.raises(ConflictError):
            card_change_status(card=card, status=target, reason="table", actor=TEST_ACTOR)
        assert Card.objects.get(pk=card.pk).status == current
        assert not AuditLog.objects.filter(action=AuditLog.Action.CARD_STATUS_CHANGED).exists()


def test_lost_stolen_and_closed_cards_never_return_to_active():
    for status in (Status.LOST, Status.STOLEN, Status.CLOSED, Status.EXPIRED):
        assert Status.ACTIVE not in TRANSITIONS[status]


def test_a_status_change_needs_a_reason():
    card = CardFactory()
    with pytest.raises(ValidationError) as error:
        card_change_status(card=card, status=Status.BLOCKED, reason="  ", actor=TEST_ACTOR)
    assert "reason" in error.value.message_dict
    assert Card.objects.get(pk=card.pk).status == Status.ACTIVE


def test_an_expired_card_cannot_be_activated():
    card = _card_in(Status.BLOCKED)
    Card.objects.filter(pk=card.pk).update(expiry_month=1, expiry_year=2020)
    with pytest.raises(ConflictError):
        card_change_status(card=card, status=Status.ACTIVE, reason="unblock", actor=TEST_ACTOR)


def test_unassigned_stock_is_assigned_before_it_can_be_activated():
    card = _card_in(Status.INACTIVE)
    Card.objects.filter(pk=card.pk).update(cardholder=None)
    card.refresh_from_db()
    with pytest.raises(ConflictError):
        card_change_status(card=card, status=Status.ACTIVE, reason="hand over", actor=TEST_ACTOR)
    holder = CardholderFactory()
    card_assign(card=card, cardholder=holder, actor=TEST_ACTOR)
    card_change_status(card=card, status=Status.ACTIVE, reason="hand over", actor=TEST_ACTOR)
    assert Card.objects.get(pk=card.pk).cardholder == holder
    with pytest.raises(ConflictError):
        card_assign(card=card, cardholder=CardholderFactory(), actor=TEST_ACTOR)


# --- Limits ------------------------------------------------------------------------------------


def test_limits_are_set_individually_and_removed_with_none():
    card = CardFactory(limits={"per_transaction": 5000})
    card_set_limits(card=card, limits={"daily": 20000, "monthly": 100000}, actor=TEST_ACTOR)
    card_set_limits(card=card, limits={"per_transaction": None}, actor=TEST_ACTOR)
    card.refresh_from_db()
    assert (card.limit_per_transaction_minor, card.limit_daily_minor, card.limit_monthly_minor) == (
        None,
        20000,
        100000,
    )
    assert AuditLog.objects.filter(action=AuditLog.Action.CARD_LIMITS_CHANGED).count() == 2


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ({"per_transaction": 0}, "per_transaction"),
        ({"daily": -1}, "daily"),
        ({"per_transaction": 5000, "daily": 4000}, "daily"),
        ({"daily": 5000, "monthly": 4000}, "monthly"),
        ({"weekly": 100}, "weekly"),
    ],
)
def test_nonsensical_limits_are_refused(limits, field):
    card = CardFactory()
    with pytest.raises(ValidationError) as error:
        card_set_limits(card=card, limits=limits, actor=TEST_ACTOR)
    assert field in error.value.message_dict
    assert not AuditLog.objects.filter(action=AuditLog.Action.CARD_LIMITS_CHANGED).exists()


# --- Ledger -------------------------------------------------------------------------------------


def test_top_ups_are_ledger_entries_and_the_balance_is_their_sum():
    card = CardFactory()
    for amount in (850, 111, 640):
        card_top_up(card=card, amount_minor=amount, actor=TEST_ACTOR, reference="t")
    card.refresh_from_db()
    entries = list(LedgerEntry.objects.filter(card=card).order_by("id"))
    assert card.balance_minor == 1601 == sum(e.amount_minor for e in entries)
    assert [e.balance_after_minor for e in entries] == [850, 961, 1601]
    assert AuditLog.objects.filter(action=AuditLog.Action.CARD_TOPPED_UP).count() == 3
    assert not ledger_mismatches().exists()


@pytest.mark.parametrize("status", [Status.LOST, Status.STOLEN, Status.EXPIRED, Status.CLOSED])
def test_cards_that_take_no_money_refuse_top_ups_and_write_nothing(status):
    card = _card_in(status)
    with pytest.raises(ValidationError) as error:
        card_top_up(card=card, amount_minor=100, actor=TEST_ACTOR)
    assert "card" in error.value.message_dict
    assert not LedgerEntry.objects.exists() and Card.objects.get(pk=card.pk).balance_minor == 0


@pytest.mark.parametrize("amount", [0, -100])
def test_a_top_up_must_be_positive(amount):
    card = CardFactory()
    with pytest.raises(ValidationError):
        card_top_up(card=card, amount_minor=amount, actor=TEST_ACTOR)
    assert not LedgerEntry.objects.exists()


def test_the_ledger_check_finds_a_balance_changed_behind_its_back():
    good, bad = CardFactory(balance_minor=500), CardFactory(balance_minor=500)
    Card.objects.filter(pk=bad.pk).update(balance_minor=700)
    mismatched = list(ledger_mismatches())
    assert [c.pk for c in mismatched] == [bad.pk]
    assert mismatched[0].ledger_sum_minor == 500
    assert good.pk not in {c.pk for c in mismatched}
