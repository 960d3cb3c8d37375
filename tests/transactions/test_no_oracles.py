"""Responses must not tell a PAN-holder whether a guessed CVV or expiry was right,
and free-text fields never take card data."""

import pytest

from cards.models import Card
from cards.services import card_change_status
from tests.authorizing import URL, api_body, decide, wrong_cvv
from tests.factories import TEST_ACTOR, CardFactory
from transactions.models import FraudReport, Transaction

pytestmark = pytest.mark.django_db


def _decide(api, card, **changes) -> dict:
    """What a decision tells the client about the card's data: its code and risk."""
    body = decide(api, card, format="json", **changes)
    return {k: body[k] for k in ("response_code", "risk_score", "risk_level", "risk_factors", "flagged")}


@pytest.mark.parametrize("status", [Card.Status.BLOCKED, Card.Status.LOST, Card.Status.STOLEN])
def test_a_card_that_cannot_spend_answers_the_same_for_a_right_and_a_wrong_cvv(authorize_api, status):
    card = CardFactory(balance_minor=10_000)
    card_change_status(card=card, status=status, reason="test", actor=TEST_ACTOR)
    right = _decide(authorize_api, card)
    wrong = _decide(authorize_api, card, cvv=wrong_cvv(card))
    assert right["response_code"] == wrong["response_code"] != "N7"
    assert [f["code"] for f in wrong["risk_factors"]] == [f["code"] for f in right["risk_factors"]]
    assert "cvv_mismatch" not in [f["code"] for f in wrong["risk_factors"]]


def test_a_wrong_expiry_answers_the_same_for_a_right_and_a_wrong_cvv(authorize_api):
    card = CardFactory(balance_minor=10_000)
    other_year = card.expiry_year + 1
    right = _decide(authorize_api, card, expiry_year=other_year)
    wrong = _decide(authorize_api, card, expiry_year=other_year, cvv=wrong_cvv(card))
    assert right["response_code"] == wrong["response_code"] == "54"
    assert "cvv_mismatch" not in [f["code"] for f in wrong["risk_factors"]]


@pytest.mark.parametrize("cvv", ["right", "wrong"])
def test_guesses_of_the_expiry_block_the_card_whatever_cvv_came_with_them(authorize_api, cvv):
    # A wrong expiry counts toward the wrong-CVV block (the contract), so guessing the
    # expiry is stopped too; the CVV beside it is never checked, so it changes nothing.
    card = CardFactory(balance_minor=10_000)
    given = card.cvv if cvv == "right" else wrong_cvv(card)
    answers = [
        _decide(authorize_api, card, expiry_year=card.expiry_year + 1, cvv=given)["response_code"]
        for _ in range(4)
    ]
    assert answers == ["54", "54", "54", "62"]
    assert Card.objects.get(pk=card.pk).status == Card.Status.BLOCKED
    assert set(Transaction.objects.values_list("cvv_result", flat=True)) == {Transaction.CvvResult.UNCHECKED}


@pytest.mark.parametrize(
    ("field", "value"),
    [("merchant_name", "Shop 4111 1111 1111 1111"), ("merchant_id", "4111-1111-1111-1111")],
)
def test_an_authorization_with_a_card_number_in_a_text_field_is_refused(authorize_api, field, value):
    card = CardFactory(balance_minor=10_000)
    response = authorize_api.post(URL, api_body(card, **{field: value}), format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Transaction.objects.exists()


def test_text_that_is_merely_numeric_is_still_accepted(authorize_api):
    card = CardFactory(balance_minor=10_000)
    body = _decide(authorize_api, card, merchant_name="Order 123456789012")  # not Luhn-valid
    assert body["response_code"] == "00"


def test_a_fraud_report_whose_reason_holds_a_card_number_is_refused(manage_api, authorize_api):
    card = CardFactory(balance_minor=10_000)
    decided = authorize_api.post(URL, api_body(card), format="json").json()
    response = manage_api.post(
        f"/api/v1/transactions/{decided['id']}/fraud-report/",
        {"reason": f"card {card.pan} stolen"},
        format="json",
    )
    assert response.status_code == 400 and "reason" in response.json()
    assert not FraudReport.objects.exists()


def test_a_status_reason_or_top_up_reference_holding_a_card_number_is_refused(manage_api):
    card = CardFactory(balance_minor=10_000)
    patched = manage_api.patch(
        f"/api/v1/cards/{card.pk}/", {"status": "blocked", "reason": f"call about {card.pan}"}, format="json"
    )
    topped = manage_api.post(
        f"/api/v1/cards/{card.pk}/top-ups/", {"amount": "1.00", "reference": card.pan}, format="json"
    )
    assert patched.status_code == 400 and "reason" in patched.json()
    assert topped.status_code == 400 and "reference" in topped.json()
    card.refresh_from_db()
    assert (card.status, card.balance_minor) == (Card.Status.ACTIVE, 10_000)
