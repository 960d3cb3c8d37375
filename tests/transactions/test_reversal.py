"""POST /api/v1/authorizations/{id}/reverse/: an approval reverses once, by the client
that submitted it, restoring the balance."""

import datetime
import uuid

import pytest
import time_machine
from rest_framework.test import APIClient

from cards.models import LedgerEntry
from cards.services import ledger_mismatches
from cardsystem.models import AuditLog
from tests.authorizing import balance, decide, post_reversal, written
from tests.factories import CardFactory, make_api_client

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 16, 12, tzinfo=datetime.UTC)


def test_an_approval_reverses_once_restoring_the_balance(authorize_api, card):
    approved = decide(authorize_api, card)

    with time_machine.travel(NOW, tick=False):
        response = post_reversal(authorize_api, approved["id"])

    assert response.status_code == 201
    answer = response.json()
    assert (answer["id"], answer["status"], answer["response_code"]) == (approved["id"], "reversed", "00")
    assert answer["reversed_at"] == "2026-03-16T12:00:00Z"
    assert balance(card) == 100_00
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REVERSAL)
    assert (entry.card_id, entry.amount_minor, entry.balance_after_minor) == (card.pk, 42_00, 100_00)
    assert entry.reference == approved["id"]
    assert not ledger_mismatches().exists()


def test_a_reversal_is_audited_with_the_api_client_as_actor(authorize_api, card):
    approved = decide(authorize_api, card)

    post_reversal(authorize_api, approved["id"])

    row = AuditLog.objects.get(action=AuditLog.Action.AUTHORIZATION_REVERSED)
    assert (row.actor_type, row.actor_client_id) == ("api_client", authorize_api.api_client.pk)
    assert (row.target_type, row.target_id) == ("transactions.transaction", approved["id"])
    assert row.details == {"amount_minor": 42_00, "currency": "USD"}


def test_a_second_reversal_is_a_409_and_writes_nothing(authorize_api, card):
    approved = decide(authorize_api, card)
    post_reversal(authorize_api, approved["id"])
    before = written()

    response = post_reversal(authorize_api, approved["id"])

    assert response.status_code == 409 and "already reversed" in response.json()["detail"]
    assert written() == before


@pytest.mark.parametrize("changes", [{"amount": "500.00"}, {"card_number": "4000001234567899"}])
def test_a_decline_cannot_be_reversed(authorize_api, card, changes):
    declined = decide(authorize_api, card, **changes)
    before = written()

    response = post_reversal(authorize_api, declined["id"])

    assert response.status_code == 409 and "declined" in response.json()["detail"]
    assert written() == before


def test_an_unknown_authorization_is_a_json_404(authorize_api):
    response = post_reversal(authorize_api, uuid.uuid4())

    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_another_clients_authorization_is_not_found(authorize_api, card):
    _, other_key = make_api_client("authorize", name="other acquirer")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key}")
    approved = decide(authorize_api, card)
    before = written()

    response = post_reversal(other, approved["id"])

    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert written() == before


def test_reversing_needs_the_authorize_scope(manage_api, anonymous_api, authorize_api, card):
    approved = decide(authorize_api, card)
    before = written()

    assert post_reversal(manage_api, approved["id"]).status_code == 403
    assert post_reversal(anonymous_api, approved["id"]).status_code == 401
    assert written() == before


def test_a_reversed_approval_no_longer_counts_toward_the_daily_limit(authorize_api):
    card = CardFactory(balance_minor=1000_00, limits={"daily": 100_00})
    first = decide(authorize_api, card, amount="80.00")
    assert decide(authorize_api, card, amount="80.00")["response_code"] == "61"

    post_reversal(authorize_api, first["id"])

    assert decide(authorize_api, card, amount="80.00")["response_code"] == "00"
    assert balance(card) == 920_00
