"""A JSON object with the same key twice is a 400 on every endpoint, naming the key, and
writes nothing: Python would keep the last value while a gateway in front of us may read
the first, so the two would decide on different requests."""

import json

import pytest
from rest_framework.test import APIClient

from bins.models import Bin
from cards.models import Card, Cardholder, LedgerEntry
from cardsystem.models import AuditLog, IdempotencyRecord
from tests.authorizing import URL, api_body, authorize
from tests.factories import CardFactory, make_api_client
from transactions.models import FraudReport, Transaction

pytestmark = pytest.mark.django_db

MESSAGE = "This key appears more than once in a JSON object; give it once."


def written() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (
            Bin,
            Cardholder,
            Card,
            LedgerEntry,
            Transaction,
            FraudReport,
            AuditLog,
            IdempotencyRecord,
        )
    }


def with_key_again(body: dict, key: str, value) -> str:
    """`body` as JSON text with `key` given once more at the end, holding `value`."""
    return json.dumps(body)[:-1] + f", {json.dumps(key)}: {json.dumps(value)}}}"


def send(api, method: str, url: str, text: str):
    return api.generic(method, url, text, content_type="application/json", HTTP_IDEMPOTENCY_KEY="dup-1")


@pytest.fixture
def api():
    """A client whose key may do everything: the refusal must not be a 403's."""
    _, key = make_api_client("authorize", "manage")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def card():
    return CardFactory(balance_minor=500_00)


def requests(card) -> dict:
    """For each write endpoint: (method, url, a body it accepts, a key to give twice, the
    second value), the second value one the endpoint would also accept."""
    approved = authorize(card)
    return {
        "authorization": ("POST", URL, api_body(card, amount="0.01"), "amount", "499.00"),
        "reversal": ("POST", f"{URL}{approved.pk}/reverse/", {"note": "once"}, "note", "twice"),
        "bin": (
            "POST",
            "/api/v1/bins/",
            {"bin": "45871299", "network": "visa", "issuer_name": "First", "card_type": "debit",
             "country": "DE", "currency": "EUR", "pan_length": 16},
            "issuer_name",
            "Second",
        ),
        "cardholder": (
            "POST",
            "/api/v1/cardholders/",
            {"name": "Ada Lovelace", "date_of_birth": "1985-12-10", "country": "GB"},
            "name",
            "Grace Hopper",
        ),
        "card issue": (
            "POST",
            "/api/v1/cards/",
            {"bin": card.bin.bin, "cardholder": str(card.cardholder_id)},
            "cardholder",
            str(card.cardholder_id),
        ),
        "card change": (
            "PATCH", f"/api/v1/cards/{card.pk}/", {"status": "blocked", "reason": "a"}, "reason", "b"
        ),
        "top-up": ("POST", f"/api/v1/cards/{card.pk}/top-ups/", {"amount": "1.00"}, "amount", "9000.00"),
        "fraud report": (
            "POST",
            f"/api/v1/transactions/{approved.pk}/fraud-report/",
            {"reason": "Not me"},
            "reason",
            "Not me either",
        ),
    }  # fmt: skip


@pytest.mark.parametrize(
    "endpoint",
    ["authorization", "reversal", "bin", "cardholder", "card issue", "card change", "top-up", "fraud report"],
)
def test_a_key_given_twice_is_a_400_naming_it_and_writes_nothing(api, card, endpoint):
    method, url, body, key, again = requests(card)[endpoint]
    before, balance = written(), Card.objects.get(pk=card.pk).balance_minor

    response = send(api, method, url, with_key_again(body, key, again))

    assert response.status_code == 400
    assert response.json() == {key: [MESSAGE]}
    assert written() == before
    assert Card.objects.get(pk=card.pk).balance_minor == balance


def test_the_same_body_with_each_key_once_is_accepted(api, card):
    """The refusal is the duplicate's alone: the body without it is decided."""
    response = send(api, "POST", URL, json.dumps(api_body(card, amount="0.01")))
    assert response.status_code == 201 and response.json()["status"] == "approved"


def test_a_key_given_twice_inside_a_nested_object_is_refused(api, card):
    text = '{"limits": {"daily": "100.00", "daily": "999999.00"}}'
    before = card.limit_daily_minor

    response = send(api, "PATCH", f"/api/v1/cards/{card.pk}/", text)

    assert response.status_code == 400 and response.json() == {"daily": [MESSAGE]}
    assert Card.objects.get(pk=card.pk).limit_daily_minor == before


@pytest.mark.parametrize("key", ["4111111111111111", "amount\u0000", "x" * 65, "ünïcode"])
def test_a_duplicate_key_that_is_no_field_name_is_not_echoed(api, card, key):
    """The error never repeats a key that could carry card data or control characters."""
    response = send(api, "POST", URL, with_key_again(api_body(card) | {key: 1}, key, 2))

    assert response.status_code == 400 and response.json() == {"detail": [MESSAGE]}
    assert key.encode() not in response.content
