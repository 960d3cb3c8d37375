"""`rotate_card_key` while the service runs: authorizations, top-ups and a status change
on real threads with their own database connections (SQLite: a file database with
IMMEDIATE transactions; PostgreSQL: each batch locks its cards) during the rotation
lose nothing, and the ledger still verifies. Money is measured, not scoring: the
velocity rules, which would score the burst, are off."""

import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from cards import pan as card_data
from cards.models import Card, LedgerEntry
from cards.services import card_change_status, card_get_by_pan, card_top_up, key_rotation
from cardsystem.audit import Actor
from cardsystem.keys import key_id
from tests.authorizing import balance, decide, disable_velocity_rules
from tests.cards.rotation import NEW_KEY, configure_new_key, remove_old_keys
from tests.commands import run
from tests.concurrency import run_concurrently
from tests.factories import CardFactory, make_api_client

pytestmark = pytest.mark.django_db(transaction=True)

CARDS = 6
PAYERS = 4
PAYMENTS = 6
TOP_UPS = 6


def test_payments_top_ups_and_a_block_during_a_rotation_lose_nothing(settings, monkeypatch):
    # Each batch of the rotation waits for a payment to be decided (so that they
    # interleave, whichever thread starts first), and each card's move is slow, inside its
    # batch's transaction (so that payments meet cards it has locked).
    paid = threading.Event()
    rekey_batch, reencrypt = key_rotation._rekey_batch, card_data.reencrypt_pan

    def rekey_between_payments(*args):
        paid.wait(timeout=10)
        paid.clear()
        return rekey_batch(*args)

    monkeypatch.setattr(key_rotation, "_rekey_batch", rekey_between_payments)
    monkeypatch.setattr(card_data, "reencrypt_pan", lambda *args: (time.sleep(0.01), reencrypt(*args))[1])
    disable_velocity_rules()
    cards = [CardFactory(balance_minor=1000_00) for _ in range(CARDS)]
    blocked = CardFactory(balance_minor=1000_00)
    key = make_api_client("authorize")[1]
    configure_new_key(settings)
    rotation = StringIO()

    def work(index):
        if index == 0:
            call_command("rotate_card_key", "--batch-size", "1", stdout=rotation)
            return []
        if index == 1:
            for n in range(TOP_UPS):
                card_top_up(
                    card=cards[n % CARDS], amount_minor=5_00, actor=Actor.system("t"), reference=f"{n}"
                )
            card_change_status(
                card=blocked, status="blocked", reason="lost in the rotation?", actor=Actor.system("t")
            )
            return []
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        payments = []
        for n in range(PAYMENTS):
            card = cards[(index + n) % CARDS]
            # A second apart, all on one UTC day long past: no window straddles midnight.
            when = f"2026-01-15T12:{index:02d}:{n:02d}Z"
            answer = decide(api, card, amount="10.00", transaction_time=when)
            payments.append((card.pk, answer["response_code"]))
            paid.set()
        return payments

    results = run_concurrently(2 + PAYERS, work)
    remove_old_keys(settings)

    payments = [payment for paid in results for payment in paid]
    assert [code for _, code in payments] == ["00"] * PAYERS * PAYMENTS
    for card in cards:
        debits = sum(1 for pk, _ in payments if pk == card.pk)
        top_ups = sum(1 for n in range(TOP_UPS) if cards[n % CARDS] == card)
        assert balance(card) == 1000_00 - debits * 10_00 + top_ups * 5_00
        assert LedgerEntry.objects.filter(card=card).count() == 1 + debits + top_ups
    assert Card.objects.get(pk=blocked.pk).status == "blocked"
    assert "All card data is under key" in rotation.getvalue()
    assert set(Card.objects.values_list("pan_key_id", flat=True)) == {key_id(NEW_KEY)}
    assert all(card_get_by_pan(card.pan).pk == card.pk for card in [*cards, blocked])
    assert "Ledger verified: 7 cards" in run("verify_ledger")[0]
