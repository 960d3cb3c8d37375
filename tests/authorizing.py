"""The authorization every test starts from: a 42.00 coffee in the US, card present,
with the card's own number, expiry and CVV. `changes` override any field."""

from django.utils import timezone

from transactions.models import Transaction
from transactions.services import AuthorizationRequest, authorization_decide


def api_body(card, **changes) -> dict:
    """The JSON body of POST /api/v1/authorizations/ (USD)."""
    return {
        "card_number": card.pan,
        "expiry_month": card.expiry_month,
        "expiry_year": card.expiry_year,
        "cvv": card.cvv,
        "amount": "42.00",
        "currency": "USD",
        "merchant_id": "M-1001",
        "merchant_name": "Corner Coffee",
        "mcc": "5814",
        "merchant_country": "US",
        "channel": "pos",
        **changes,
    }


def authorize(card, **changes) -> Transaction:
    """The same request through the service the API calls, in the card's currency, now."""
    fields = {
        **api_body(card),
        "amount_minor": 4200,
        "currency": card.currency,
        "transaction_time": timezone.now(),
        **changes,
    }
    del fields["amount"]
    return authorization_decide(request=AuthorizationRequest(**fields))
