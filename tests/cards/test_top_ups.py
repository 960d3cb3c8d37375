"""Top-ups through the API: POST /api/v1/cards/{id}/top-ups/."""

import uuid

import pytest
from django.db.models import Sum

from cards.models import Card, LedgerEntry
from cardsystem.models import AuditLog, IdempotencyRecord
from tests.factories import BinFactory, CardFactory

pytestmark = pytest.mark.django_db


def url(card_id):
    return f"/api/v1/cards/{card_id}/top-ups/"


def top_up(api, card, body, key=None, **kwargs):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(url(card.pk), body, format="json", **headers, **kwargs)


def written():
    """Everything a top-up could write; a rejected one leaves all of it unchanged."""
    return (LedgerEntry.objects.count(), AuditLog.objects.count(), IdempotencyRecord.objects.count())


def ledger_sum(card):
    return LedgerEntry.objects.filter(card=card).aggregate(total=Sum("amount_minor"))["total"] or 0


@pytest.fixture
def card():
    return CardFactory()


def test_credits_a_card_and_answers_the_new_balance(manage_api, card):
    response = top_up(manage_api, card, {"amount": "100.00", "reference": "wire 42"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["card"], body["amount"], body["balance"], body["currency"]) == (
        str(card.pk),
        "100.00",
        "100.00",
        "USD",
    )
    assert body["reference"] == "wire 42"
    card.refresh_from_db()
    assert card.balance_minor == 10000
    entry = LedgerEntry.objects.get(card=card)
    assert (entry.kind, entry.amount_minor, entry.balance_after_minor) == ("top_up", 10000, 10000)
    audit = AuditLog.objects.get(action=AuditLog.Action.CARD_TOPPED_UP)
    assert audit.actor_client == manage_api.api_client and audit.target_id == str(card.pk)


def test_the_balance_always_equals_the_sum_of_the_ledger(manage_api, card):
    balances = [
        top_up(manage_api, card, {"amount": amount}).json()["balance"]
        for amount in ("0.10", "0.20", "12.34", "1", "0.01")
    ]

    assert balances == ["0.10", "0.30", "12.64", "13.64", "13.65"]
    card.refresh_from_db()
    assert card.balance_minor == 1365 == ledger_sum(card)
    assert manage_api.get(f"/api/v1/cards/{card.pk}/").json()["balance"] == "13.65"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "0.00"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": "1e3"}, "amount"),
        ({"amount": "1E3"}, "amount"),
        ({"amount": 12.5}, "amount"),
        ({"amount": 100}, "amount"),
        ({"amount": ""}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": " 10.00"}, "amount"),
        ({"amount": "10."}, "amount"),
        ({"amount": ".50"}, "amount"),
        ({"amount": "+10.00"}, "amount"),
        ({"amount": "1,000.00"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "Infinity"}, "amount"),
        ({"amount": "\uff11\uff10"}, "amount"),
        ({"amount": "1" * 16}, "amount"),
        ({"amount": None}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": ["10.00"]}, "amount"),
        ({}, "amount"),
        ({"amount": "10.00", "reference": "x" * 65}, "reference"),
        ({"amount": "10.00", "reference": 7}, "reference"),
        ({"amount": "10.00", "reference": "a\u0000b"}, "reference"),
        ({"amount": "10.00", "currency": "USD"}, "currency"),
    ],
)
def test_rejects_an_invalid_top_up_and_writes_nothing(manage_api, card, body, field):
    before = written()

    response = top_up(manage_api, card, body, key="top-up-1")

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert written() == before
    card.refresh_from_db()
    assert card.balance_minor == 0


def test_rejects_nan_as_a_raw_json_number(manage_api, card):
    before = written()

    response = manage_api.post(
        url(card.pk), data='{"amount": NaN}', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 400
    assert written() == before


@pytest.fixture
def yen_card():
    return CardFactory(bin=BinFactory(bin="352800", network="jcb", country="JP", currency="JPY"))


def test_tops_up_whole_yen(manage_api, yen_card):
    response = top_up(manage_api, yen_card, {"amount": "1"})

    assert response.status_code == 201
    assert (response.json()["amount"], response.json()["balance"]) == ("1", "1")
    yen_card.refresh_from_db()
    assert yen_card.balance_minor == 1


@pytest.mark.parametrize("amount", ["1.5", "1.0", "0.5"])
def test_rejects_a_fraction_of_a_yen(manage_api, yen_card, amount):
    before = written()

    response = top_up(manage_api, yen_card, {"amount": amount}, key="yen")

    assert response.status_code == 400
    assert "amount" in response.json()
    assert written() == before


@pytest.mark.parametrize("status", ["closed", "lost", "stolen", "expired"])
def test_rejects_a_top_up_of_a_card_that_takes_no_money(manage_api, card, status):
    Card.objects.filter(pk=card.pk).update(status=status)
    before = written()

    response = top_up(manage_api, card, {"amount": "10.00"}, key="dead-card")

    assert response.status_code == 400
    assert "card" in response.json()
    assert written() == before
    card.refresh_from_db()
    assert card.balance_minor == 0


@pytest.mark.parametrize("status", ["inactive", "blocked"])
def test_tops_up_an_inactive_or_blocked_card(manage_api, card, status):
    Card.objects.filter(pk=card.pk).update(status=status)

    response = top_up(manage_api, card, {"amount": "10.00"})

    assert response.status_code == 201
    assert response.json()["balance"] == "10.00"


@pytest.mark.parametrize("card_id", [str(uuid.uuid4()), "not-a-uuid"], ids=["unknown id", "not-a-uuid"])
def test_answers_404_json_for_a_top_up_of_an_unknown_card(manage_api, card_id):
    before = written()

    response = manage_api.post(url(card_id), {"amount": "10.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
    assert written() == before
