"""Authorizations for the tests, and what they read back: the one module every test that
authorizes uses.

Every request starts as a 42.00 coffee at Corner Coffee (M-1001, MCC 5814) in the US,
card present, with the card's own number, expiry and CVV. Keyword arguments override or
add any request field, so a test names only what it is about. A request goes in one of
two ways:

- through the API: `api_body` is the JSON body of POST /api/v1/authorizations/ (USD),
  `post_authorization` sends it, `decide` returns the decision of a 201 and
  `post_reversal` reverses one;
- through the service the API calls: `authorize` returns the Transaction, in the card's
  currency, at the current time; `authorize_at(instant)` is the same function for tests
  whose clock, windows and limits start at a fixed instant.
"""

import functools
import json
from collections.abc import Callable, Iterable
from types import SimpleNamespace

from django.utils import timezone

from cards.models import Card, LedgerEntry
from cardsystem.models import AuditLog, IdempotencyRecord
from fraud.models import FraudAlert, Rule
from tests.factories import CardFactory
from tests.fraud.configuration import go_live
from transactions.models import FraudReport, Transaction
from transactions.services import AuthorizationRequest, authorization_decide

URL = "/api/v1/authorizations/"

# A well-formed card number no card was issued with: it is answered 14 (unknown card).
STRANGER = SimpleNamespace(
    pan="4000001234567899", cvv="123", expiry_month=1, expiry_year=2030, currency="USD"
)


# Where the authorization every test starts from is made: a coffee shop in the US, card present.
COFFEE_SHOP = {
    "merchant_id": "M-1001",
    "merchant_name": "Corner Coffee",
    "mcc": "5814",
    "merchant_country": "US",
    "channel": "pos",
}


def api_body(card, *, omit: Iterable[str] = (), **changes) -> dict:
    """The JSON body of POST /api/v1/authorizations/ (USD) for `card`: `changes` override
    or add fields, the fields named in `omit` are left out."""
    body = {
        "card_number": card.pan,
        "expiry_month": card.expiry_month,
        "expiry_year": card.expiry_year,
        "cvv": card.cvv,
        "amount": "42.00",
        "currency": "USD",
        **COFFEE_SHOP,
        **changes,
    }
    for name in omit:
        del body[name]
    return body


def post_authorization(api, card, *, key: str | None = None, format: str | None = None, **changes):
    """POST an authorization for `card` (or a prepared body, if `card` is a dict) and
    return the response. `key` is sent as the Idempotency-Key header. The body goes as
    `json.dumps` text; with `format="json"` the test client renders it instead."""
    data = card if isinstance(card, dict) else api_body(card, **changes)
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    if format is not None:
        return api.post(URL, data, format=format, **headers)
    return api.post(URL, json.dumps(data), content_type="application/json", **headers)


def decide(api, card, **changes) -> dict:
    """The decision's body; fails unless the request was answered 201."""
    response = post_authorization(api, card, **changes)
    assert response.status_code == 201, response.content[:300]
    return response.json()


def post_reversal(api, transaction_id):
    """POST the reversal of an authorization and return the response."""
    return api.post(f"{URL}{transaction_id}/reverse/")


def authorize(card=None, **changes) -> Transaction:
    """The same request through the service the API calls, in the card's currency, now:
    on `card`, or on a card of its own holding 100,000.00 when none is given."""
    card = card or CardFactory(balance_minor=10_000_000)
    fields = {
        **api_body(card),
        "amount_minor": 4200,
        "currency": card.currency,
        "transaction_time": timezone.now(),
        **changes,
    }
    del fields["amount"]
    return authorization_decide(request=AuthorizationRequest(**fields))


def authorize_at(instant) -> Callable[..., Transaction]:
    """`authorize` with requests at `instant` unless a test gives its own
    `transaction_time`: for tests whose windows end exactly at their clock's start."""
    return functools.partial(authorize, transaction_time=instant)


def wrong_cvv(card) -> str:
    """A CVV of the card's length that is not the card's."""
    return str((int(card.cvv) + 1) % 10 ** len(card.cvv)).zfill(len(card.cvv))


def factors(transaction: Transaction) -> dict[str, dict]:
    """The recorded risk factors by code."""
    return {f["code"]: f for f in transaction.risk_factors}


def codes(transaction: Transaction) -> list[str]:
    """The codes of the recorded risk factors, in their order."""
    return [f["code"] for f in transaction.risk_factors]


def balance(card) -> int:
    """The card's balance as stored now."""
    return Card.objects.values_list("balance_minor", flat=True).get(pk=card.pk)


def written() -> dict:
    """Row counts of every table an API request may write, and every card's balance."""
    counts = {
        model.__name__: model.objects.count()
        for model in (Transaction, LedgerEntry, AuditLog, IdempotencyRecord, FraudAlert, FraudReport)
    }
    counts["balances"] = dict(Card.objects.values_list("pk", "balance_minor"))
    return counts


def disable_velocity_rules() -> None:
    """Bursts of requests would otherwise score as velocity: for tests of money only."""
    Rule.objects.filter(code__startswith="velocity").update(enabled=False)
    go_live()
