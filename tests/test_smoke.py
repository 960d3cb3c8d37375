import pytest

from cards.models import LedgerEntry
from tests.factories import BinFactory, CardFactory, CardholderFactory

pytestmark = pytest.mark.django_db


def test_issue_then_top_up_through_the_api(manage_api):
    bin = BinFactory()
    holder = CardholderFactory()
    issued = manage_api.post("/api/v1/cards/", {"bin": bin.bin, "cardholder": str(holder.pk)}, format="json")
    assert issued.status_code == 201, issued.json()
    body = issued.json()
    assert body["pan"].startswith(bin.bin) and len(body["cvv"]) == 3
    topped = manage_api.post(f"/api/v1/cards/{body['id']}/top-ups/", {"amount": "100.00"}, format="json")
    assert topped.status_code == 201, topped.json()
    assert topped.json()["balance"] == "100.00"
    shown = manage_api.get(f"/api/v1/cards/{body['id']}/").json()
    assert shown["balance"] == "100.00" and "pan" not in shown and "cvv" not in shown
    assert LedgerEntry.objects.filter(card_id=body["id"]).count() == 1


def test_card_factory_gives_a_card_with_its_number():
    card = CardFactory(balance_minor=500)
    assert card.balance_minor == 500 and card.masked_pan.endswith(card.pan[-4:])
