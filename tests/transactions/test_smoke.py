import pytest

from cards.models import Card, LedgerEntry
from fraud.models import FraudAlert
from tests.authorizing import STRANGER, URL, api_body, wrong_cvv
from tests.factories import CardFactory
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


def test_an_approval_debits_the_card_and_answers_the_contract(authorize_api):
    card = CardFactory(balance_minor=10000)
    response = authorize_api.post(URL, api_body(card), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["response_code"], body["reason"]) == ("approved", "00", "approved")
    assert body["masked_pan"] == card.masked_pan and body["amount"] == "42.00"
    assert isinstance(body["risk_score"], int) and body["risk_level"] == "low"
    assert card.pan not in response.content.decode()
    assert Card.objects.get(pk=card.pk).balance_minor == 5800
    assert LedgerEntry.objects.filter(card=card, kind="debit").get().amount_minor == -4200


def test_three_wrong_cvvs_block_the_card_and_open_an_alert(authorize_api):
    card = CardFactory(balance_minor=10000)
    codes = [
        authorize_api.post(URL, api_body(card, cvv=wrong_cvv(card)), format="json").json()["response_code"]
        for _ in range(3)
    ]
    after = authorize_api.post(URL, api_body(card), format="json").json()
    assert codes == ["N7", "N7", "N7"] and after["response_code"] == "62"
    assert Card.objects.get(pk=card.pk).status == "blocked"
    third = Transaction.objects.filter(response_code="N7").order_by("created_at").last()
    assert FraudAlert.objects.get().transaction == third


def test_an_unknown_card_is_recorded_with_its_masked_number_only(authorize_api):
    response = authorize_api.post(URL, api_body(STRANGER), format="json")
    assert response.status_code == 201
    assert response.json()["response_code"] == "14" and response.json()["risk_score"] is None
    assert Transaction.objects.get().masked_pan == "400000******7899"
