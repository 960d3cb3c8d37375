"""Values at the edges of what the columns hold: a 400 naming the field, never a 500."""

import pytest

from bins.models import Bin
from cards.models import LedgerEntry
from cardsystem.models import IdempotencyRecord
from tests.authorizing import api_body
from tests.factories import BinFactory, CardFactory
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("currency", ["CLF", "UYW"])  # four decimal places
def test_an_amount_too_large_for_the_column_is_a_400(authorize_api, currency):
    card = CardFactory(balance_minor=10_000)
    response = authorize_api.post(
        "/api/v1/authorizations/",
        api_body(card, amount="999999999999999.9999", currency=currency),
        format="json",
    )
    assert response.status_code == 400 and "amount" in response.json()
    assert not Transaction.objects.exists()


def test_top_ups_stop_at_the_largest_balance_instead_of_overflowing(manage_api):
    bin = BinFactory(bin="400001", currency="BHD", country="BH")
    card = CardFactory(bin=bin)
    statuses = [
        manage_api.post(
            f"/api/v1/cards/{card.pk}/top-ups/", {"amount": "40000000000000"}, format="json"
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [201, 201, 400]
    card.refresh_from_db()
    assert (
        card.balance_minor
        == 2 * 40_000_000_000_000_000
        == sum(LedgerEntry.objects.filter(card=card).values_list("amount_minor", flat=True))
    )
    assert Bin.objects.count() == 1


@pytest.mark.parametrize("offset", ["+16:00", "-20:00", "+23:59"])
def test_offsets_beyond_what_postgresql_stores_are_kept_as_utc(authorize_api, offset):
    card = CardFactory(balance_minor=10_000)
    response = authorize_api.post(
        "/api/v1/authorizations/",
        api_body(card, transaction_time=f"2026-01-10T10:15:00{offset}"),
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["transaction_time"].endswith("Z")


def test_a_blank_idempotency_key_is_refused(authorize_api):
    card = CardFactory(balance_minor=10_000)
    response = authorize_api.post(
        "/api/v1/authorizations/", api_body(card), format="json", HTTP_IDEMPOTENCY_KEY="   "
    )
    assert response.status_code == 400 and "Idempotency-Key" in response.json()
    assert not Transaction.objects.exists() and not IdempotencyRecord.objects.exists()
