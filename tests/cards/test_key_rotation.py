"""`manage.py rotate_card_key`: card data moves onto the current CARD_DATA_KEY, after
which the old key can be removed and every card still authorizes with the CVV printed
on it, and every Idempotency-Key retry made before still replays."""

import json

import pytest
from django.core.management.base import CommandError

from cards import pan as card_data
from cards.checks import check_card_data_keys_in_use
from cards.models import Card
from cards.services import card_data_key_rotate, card_get_by_pan
from cardsystem.audit import Actor
from cardsystem.keys import key_id
from cardsystem.models import AuditLog, DataKey
from tests.authorizing import decide, post_authorization, wrong_cvv
from tests.cards.rotation import NEW_KEY, configure_new_key, remove_old_keys, restart
from tests.commands import run
from tests.factories import BinFactory, CardFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


@pytest.fixture
def cards():
    """Five cards on three BINs (one American Express, four-digit CID), with balances."""
    visa, mastercard, amex = (
        BinFactory(bin="411111"),
        BinFactory(bin="510510", network="mastercard"),
        BinFactory(bin="378282", network="amex", pan_length=15),
    )
    return [CardFactory(bin=bin, balance_minor=500_00) for bin in (visa, visa, mastercard, amex, amex)]


def key_columns() -> dict:
    return {
        pk: (key, bytes(blob), fingerprint)
        for pk, key, blob, fingerprint in Card.objects.values_list(
            "pk", "pan_key_id", "pan_encrypted", "pan_fingerprint"
        )
    }


def test_after_rotating_and_removing_the_old_key_every_card_authorizes_with_its_printed_cvv(
    settings, cards, authorize_api
):
    shown = ("masked_pan", "last4", "balance_minor")
    before = {card.pk: Card.objects.values(*shown).get(pk=card.pk) for card in cards}
    old = configure_new_key(settings)

    stdout, _ = run("rotate_card_key", "--batch-size", "2")
    remove_old_keys(settings)

    assert "2/5 cards re-keyed\n4/5 cards re-keyed\n5/5 cards re-keyed\n" in stdout
    assert f"All card data is under key {key_id(NEW_KEY)}: CARD_DATA_OLD_KEYS can now be emptied" in stdout
    assert old not in stdout and NEW_KEY not in stdout and not any(card.pan in stdout for card in cards)
    assert set(Card.objects.values_list("pan_key_id", flat=True)) == {key_id(NEW_KEY)}
    assert set(DataKey.objects.values_list("wrapping_key_id", flat=True)) == {key_id(NEW_KEY)}
    for card in cards:
        assert card_get_by_pan(card.pan).pk == card.pk
        assert Card.objects.values(*shown).get(pk=card.pk) == before[card.pk]
        decision = decide(authorize_api, card, currency=card.currency)
        assert (decision["response_code"], decision["masked_pan"]) == ("00", card.masked_pan)
        assert Card.objects.get(pk=card.pk).balance_minor == 500_00 - 42_00
    wrong = post_authorization(authorize_api, cards[0], cvv=wrong_cvv(cards[0])).json()
    assert wrong["response_code"] == "N7"


def test_without_a_rotation_removing_the_old_key_would_lose_every_card(settings, cards):
    configure_new_key(settings)

    stdout, _ = run("rotate_card_key", "--status")

    assert f"Still under an older key: 5 cards under key {cards[0].pan_key_id}, 1 data keys." in stdout
    assert card_get_by_pan(cards[0].pan).pk == cards[0].pk
    remove_old_keys(settings)
    assert card_get_by_pan(cards[0].pan) is None


def test_a_crash_after_a_batch_is_finished_by_a_second_run_that_moves_no_card_twice(settings, cards):
    configure_new_key(settings)

    def crash(done, total):
        raise RuntimeError("the operator's terminal closed")

    with pytest.raises(RuntimeError):
        card_data_key_rotate(actor=ACTOR, batch_size=2, on_batch=crash)
    moved_first = {pk: columns for pk, columns in key_columns().items() if columns[0] == key_id(NEW_KEY)}
    stdout, _ = run("rotate_card_key", "--batch-size", "2")
    remove_old_keys(settings)

    assert len(moved_first) == 2
    assert "Re-keyed 3 cards, re-wrapped 0 data keys." in stdout
    assert "2/3 cards re-keyed\n3/3 cards re-keyed\n" in stdout
    after = key_columns()
    assert all(after[pk] == columns for pk, columns in moved_first.items())
    assert all(card_get_by_pan(card.pan).pk == card.pk for card in cards)
    audited = AuditLog.objects.filter(action=AuditLog.Action.CARD_DATA_KEY_ROTATED)
    interrupted, finished = audited.order_by("id")
    assert interrupted.details["interrupted_by"] == "RuntimeError"
    assert (interrupted.details["cards_rekeyed"], interrupted.details["data_keys_rewrapped"]) == (2, 1)
    assert finished.details["complete"] and finished.details["cards_rekeyed"] == 3


def test_a_second_run_when_everything_is_current_changes_nothing(settings, cards):
    configure_new_key(settings)
    run("rotate_card_key")
    before = key_columns()

    stdout, _ = run("rotate_card_key")

    assert "Re-keyed 0 cards, re-wrapped 0 data keys." in stdout and "can now be emptied" in stdout
    assert key_columns() == before


def test_the_rotation_is_audited_with_counts_and_key_ids_never_keys_or_card_numbers(settings, cards):
    old = configure_new_key(settings)

    run("rotate_card_key")

    entry = AuditLog.objects.get(action=AuditLog.Action.CARD_DATA_KEY_ROTATED)
    assert entry.actor_label == "manage.py rotate_card_key"
    assert entry.details == {
        "key_id": key_id(NEW_KEY),
        "cards_rekeyed": 5,
        "data_keys_rewrapped": 1,
        "cards_left": {},
        "data_keys_left": 0,
        "complete": True,
    }
    text = json.dumps(entry.details) + str(entry)
    assert old not in text and NEW_KEY not in text and not any(card.pan in text for card in cards)


def test_data_under_a_key_that_is_not_configured_is_refused_and_nothing_changes(settings, cards):
    before = key_columns()
    settings.CARD_DATA_KEY = NEW_KEY  # the old key forgotten instead of moved to the old keys
    restart()

    with pytest.raises(CommandError, match=f"under key id\\(s\\) {cards[0].pan_key_id}, neither"):
        run("rotate_card_key")

    assert key_columns() == before
    assert not AuditLog.objects.filter(action=AuditLog.Action.CARD_DATA_KEY_ROTATED).exists()


@pytest.mark.parametrize("size", ["0", "10001"])
def test_a_batch_size_out_of_range_is_refused(settings, cards, size):
    configure_new_key(settings)
    with pytest.raises(CommandError, match="batch_size: Give a batch size from 1 to 10000"):
        run("rotate_card_key", "--batch-size", size)
    assert key_columns()[cards[0].pk][0] != key_id(NEW_KEY)


def test_cards_issued_after_the_rotation_take_the_current_key_and_the_kept_cvk(
    settings, cards, authorize_api
):
    configure_new_key(settings)
    run("rotate_card_key")
    remove_old_keys(settings)

    card = CardFactory(balance_minor=100_00)

    assert card.pan_key_id == key_id(NEW_KEY) == card_data.current_key_id()
    assert card.cvk_id == card_data.newest_cvk().pk == cards[0].cvk_id
    assert decide(authorize_api, card)["response_code"] == "00"


def test_a_retry_of_a_request_made_before_the_rotation_replays_after_the_old_key_is_gone(
    settings, cards, manage_api, full_api
):
    issue = {"bin": cards[0].bin.bin, "cardholder": str(cards[0].cardholder_id)}
    issued = manage_api.post("/api/v1/cards/", issue, format="json", HTTP_IDEMPOTENCY_KEY="issue-1")
    approved = post_authorization(full_api, cards[0], key="pay-1")
    assert (issued.status_code, approved.status_code) == (201, 201)
    configure_new_key(settings)
    run("rotate_card_key")
    remove_old_keys(settings)

    issued_again = manage_api.post("/api/v1/cards/", issue, format="json", HTTP_IDEMPOTENCY_KEY="issue-1")
    approved_again = post_authorization(full_api, cards[0], key="pay-1")

    assert (issued_again.status_code, issued_again.json()) == (201, issued.json())
    assert (approved_again.status_code, approved_again.json()) == (201, approved.json())
    assert issued_again["Idempotent-Replayed"] == approved_again["Idempotent-Replayed"] == "true"
    assert Card.objects.get(pk=cards[0].pk).balance_minor == 500_00 - 42_00
    other = post_authorization(full_api, cards[0], key="pay-1", amount="43.00")
    assert other.status_code == 409


def test_the_database_checks_warn_of_card_data_under_an_older_or_a_missing_key(settings, cards):
    def warnings():
        return [warning.id for warning in check_card_data_keys_in_use(None, databases=["default"])]

    assert warnings() == []
    old = configure_new_key(settings)
    assert warnings() == ["cards.W002"]
    stdout, stderr = run("check", "--database", "default")
    assert "cards.W002" in stdout + stderr and cards[0].pan_key_id in stdout + stderr
    settings.CARD_DATA_OLD_KEYS = []
    assert warnings() == ["cards.W001"]
    settings.CARD_DATA_OLD_KEYS = [old]
    run("rotate_card_key")
    assert warnings() == []
