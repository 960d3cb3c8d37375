"""What the cards API tests share: the endpoints, a POST that always carries an
Idempotency-Key, and a snapshot of everything a request could write."""

from bins.models import Bin
from cards.models import Card, Cardholder, LedgerEntry
from cardsystem.models import AuditLog, IdempotencyRecord

CARDHOLDERS = "/api/v1/cardholders/"
CARDS = "/api/v1/cards/"


def written():
    """Everything a request could write; a rejected request leaves all of it unchanged."""
    return {
        model.__name__: model.objects.count()
        for model in (Bin, Cardholder, Card, LedgerEntry, AuditLog, IdempotencyRecord)
    }


def post(api, url, body, key="request-1"):
    # Every POST carries an Idempotency-Key, so that "nothing written" covers the key too.
    return api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
