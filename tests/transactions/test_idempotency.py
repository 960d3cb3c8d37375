"""`Idempotency-Key` on authorizations and reversals: a retry replays the first
decision and debits nothing more; the key with another body is a 409."""

import time

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from cards.models import LedgerEntry
from cards.services import ledger_mismatches
from cardsystem.models import IdempotencyRecord
from tests.authorizing import api_body, balance, post_authorization, written
from tests.concurrency import run_concurrently
from tests.factories import CardFactory, make_api_client
from transactions import api as transactions_api
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


def test_a_replayed_approval_is_the_same_decision_and_debits_once(authorize_api, card):
    first = post_authorization(authorize_api, card, key="auth-1")
    after_first = written()

    again = post_authorization(authorize_api, card, key="auth-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert written() == after_first
    assert balance(card) == 58_00 and LedgerEntry.objects.filter(kind="debit").count() == 1


def test_a_replayed_decline_is_not_decided_again(authorize_api, card):
    first = post_authorization(authorize_api, card, key="auth-1", amount="500.00").json()
    post_authorization(authorize_api, card, amount="1.00")  # changes nothing about the first answer

    again = post_authorization(authorize_api, card, key="auth-1", amount="500.00").json()

    assert again == first and again["response_code"] == "51"
    assert Transaction.objects.count() == 2


@pytest.mark.parametrize("other", [{"amount": "42.01"}, {"merchant_id": "M-2"}, {"cvv": None}])
def test_the_same_key_with_another_body_is_a_409(authorize_api, card, other):
    post_authorization(authorize_api, card, key="auth-1")
    before = written()

    changed = {name: value for name, value in api_body(card, **other).items() if value is not None}
    response = post_authorization(authorize_api, changed, key="auth-1")

    assert response.status_code == 409 and "Idempotency-Key" in response.json()
    assert written() == before


def test_a_rejected_request_leaves_its_key_free(authorize_api, card):
    assert post_authorization(authorize_api, card, key="auth-1", mcc="1").status_code == 400
    assert IdempotencyRecord.objects.count() == 0

    corrected = post_authorization(authorize_api, card, key="auth-1")

    assert corrected.status_code == 201 and "Idempotent-Replayed" not in corrected
    assert Transaction.objects.count() == 1


def test_the_stored_answer_holds_no_card_number(authorize_api, card):
    post_authorization(authorize_api, card, key="auth-1")

    record = IdempotencyRecord.objects.values().get()

    assert card.pan not in str(record) and card.cvv not in record["response_body"].values()
    assert record["response_body"]["masked_pan"] == card.masked_pan


def test_a_retry_after_the_answer_was_lost_replays_and_debits_once(authorize_api, card, monkeypatch):
    # Rendering runs after the decision and its key committed; its failure is a lost answer.
    render = JSONRenderer.render
    calls = []

    def render_failing_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionResetError("the client went away")
        return render(*args, **kwargs)

    monkeypatch.setattr(JSONRenderer, "render", render_failing_once)
    authorize_api.raise_request_exception = False

    assert post_authorization(authorize_api, card, key="auth-1").status_code == 500
    committed = written()
    retry = post_authorization(authorize_api, card, key="auth-1")

    assert retry.status_code == 201 and retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == str(Transaction.objects.get().pk)
    assert written() == committed
    assert balance(card) == 58_00


def test_a_replayed_reversal_credits_once(authorize_api, card):
    approved = post_authorization(authorize_api, card).json()
    url = f"/api/v1/authorizations/{approved['id']}/reverse/"

    first = authorize_api.post(url, HTTP_IDEMPOTENCY_KEY="reverse-1")
    again = authorize_api.post(url, HTTP_IDEMPOTENCY_KEY="reverse-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert balance(card) == 100_00 and LedgerEntry.objects.filter(kind="reversal").count() == 1


def test_another_clients_key_is_independent(authorize_api, card):
    _, other_key = make_api_client("authorize", name="other acquirer")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key}")

    mine = post_authorization(authorize_api, card, key="shared", amount="1.00").json()
    theirs = post_authorization(other, card, key="shared", amount="1.00").json()

    assert mine["id"] != theirs["id"] and balance(card) == 98_00


@pytest.mark.django_db(transaction=True)
def test_one_key_sent_twice_at_once_decides_and_debits_once(monkeypatch):
    _, key = make_api_client("authorize")
    card = CardFactory(balance_minor=100_00)
    decide = transactions_api.authorization_decide

    def slow_decide(**kwargs):
        # The second request arrives while the first still holds its uncommitted claim.
        decided = decide(**kwargs)
        time.sleep(0.3)
        return decided

    monkeypatch.setattr(transactions_api, "authorization_decide", slow_decide)

    def send(index):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return post_authorization(api, card, key="same-key")

    responses = run_concurrently(2, send)
    assert [response.status_code for response in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    assert sorted(response.get("Idempotent-Replayed", "") for response in responses) == ["", "true"]
    assert Transaction.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="debit").count() == 1 and balance(card) == 58_00
    assert not ledger_mismatches().exists()
