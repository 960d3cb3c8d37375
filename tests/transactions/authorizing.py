"""What the transaction tests share: a request body for a card, sending it, and a
snapshot of everything a request can write."""

import json

from cards.models import Card, LedgerEntry
from cardsystem.models import AuditLog, IdempotencyRecord
from fraud import scoring
from fraud.models import FraudAlert, Rule
from tests.authorizing import api_body
from transactions.models import FraudReport, Transaction

URL = "/api/v1/authorizations/"


def body(card, **changes) -> dict:
    """A well-formed authorization of 42.00 USD at a coffee shop in the US."""
    return api_body(card, **changes)


def authorize(api, card, *, key: str | None = None, **changes):
    """POST an authorization for `card` (or a prepared body, if `card` is a dict)."""
    data = card if isinstance(card, dict) else body(card, **changes)
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return api.post(URL, json.dumps(data), content_type="application/json", **headers)


def decide(api, card, **changes) -> dict:
    """The decision's body; fails unless the request was answered 201."""
    response = authorize(api, card, **changes)
    assert response.status_code == 201, response.content[:300]
    return response.json()


def wrong_cvv(card) -> str:
    return str((int(card.cvv) + 1) % 10 ** len(card.cvv)).zfill(len(card.cvv))


def balance(card) -> int:
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
    scoring.forget_config()
