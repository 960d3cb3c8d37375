"""Four eyes on cards, through the back office: a manual top-up above
TOP_UP_APPROVAL_ABOVE and unblocking a card blocked for fraud wait for a second
person; what is not approved never takes effect; an approved change is made once, by
the same service as the one-person path, and the audit log names both people. The API
is not held: its top-ups are made at once, and its PATCH cannot unblock a card blocked
for fraud (409)."""

import datetime

import pytest
import time_machine

from cards.checks import check_top_up_approval_amount
from cards.models import Card, LedgerEntry
from cards.services import card_change_status
from cardsystem.models import AuditLog, ChangeRequest
from cardsystem.roles import CARD_OPERATIONS
from tests.cards.admin_pages import CARDS, card_in, errors, url, written
from tests.factories import TEST_ACTOR, BinFactory, CardFactory, staff_with_roles
from tests.staff_pages import client_for, decide, shown

pytestmark = pytest.mark.django_db

Action = AuditLog.Action


@pytest.fixture
def maker():
    return staff_with_roles(CARD_OPERATIONS, username="maker")


@pytest.fixture
def checker():
    return staff_with_roles(CARD_OPERATIONS, username="checker")


def fraud_blocked_card(**kwargs) -> Card:
    card = CardFactory(**kwargs)
    return card_change_status(
        card=card, status=Card.Status.BLOCKED, reason="engine", actor=TEST_ACTOR, for_fraud=True
    )


def only_request() -> ChangeRequest:
    return ChangeRequest.objects.get()


# --- Top-ups ----------------------------------------------------------------------------------------


def top_up(user, card, amount, reason="Cash deposit at branch 12", reference="dep-1"):
    return client_for(user).post(
        url("top_up", card), {"amount": amount, "reference": reference, "reason": reason}, follow=True
    )


def test_a_top_up_above_the_amount_makes_a_request_and_credits_nothing(maker):
    card = CardFactory(balance_minor=500)
    entries = LedgerEntry.objects.count()

    response = top_up(maker, card, "1000.01")

    request = only_request()
    assert response.redirect_chain[-1][0] == url("change", card)
    assert (request.kind, request.status, request.requested_by) == ("card_top_up", "pending", maker)
    assert request.params == {"amount_minor": 100_001, "currency": "USD", "reference": "dep-1"}
    assert (request.target_id, request.reason) == (str(card.pk), "Cash deposit at branch 12")
    assert any("held for a second person" in m and str(request.pk) in m for m in shown(response))
    waiting = response.context["pending_requests"]
    assert waiting == [(f"/admin/cardsystem/changerequest/{request.pk}/change/", request.summary)]
    card.refresh_from_db()
    assert card.balance_minor == 500 and LedgerEntry.objects.count() == entries
    assert not AuditLog.objects.filter(action=Action.CARD_TOPPED_UP, actor_user=maker).exists()


def test_a_top_up_above_the_amount_without_a_reason_is_refused_and_writes_nothing(maker):
    card = CardFactory()
    before = written()
    response = client_for(maker).post(url("top_up", card), {"amount": "5000.00", "reason": " "})
    assert "Say why" in errors(response)["reason"][0]
    assert written() == before and not ChangeRequest.objects.exists()


@pytest.mark.parametrize(("amount", "minor"), [("1000.00", 100_000), ("999.99", 99_999)])
def test_a_top_up_at_or_under_the_amount_is_made_at_once(maker, amount, minor):
    card = CardFactory()
    top_up(maker, card, amount, reason="")
    card.refresh_from_db()
    assert card.balance_minor == minor and card.ledger_entries.get().amount_minor == minor
    assert not ChangeRequest.objects.exists()


def test_the_amount_is_configured_in_each_currencys_major_units(maker, settings):
    settings.TOP_UP_APPROVAL_ABOVE = "50.00"
    usd, yen = CardFactory(), CardFactory(bin=BinFactory(currency="JPY"))
    top_up(maker, usd, "50.00")
    top_up(maker, yen, "50")
    top_up(maker, yen, "51")
    usd.refresh_from_db()
    yen.refresh_from_db()
    assert (usd.balance_minor, yen.balance_minor) == (5000, 50)
    assert only_request().params["amount_minor"] == 51


def test_small_top_ups_that_add_up_above_the_amount_in_a_day_are_held(maker, manage_api):
    card = CardFactory()
    with time_machine.travel(datetime.datetime(2026, 12, 4, 10, tzinfo=datetime.UTC)) as clock:
        top_up(maker, card, "600.00", reason="")
        api = manage_api.post(
            f"/api/v1/cards/{card.pk}/top-ups/", {"amount": "900.00", "reference": "api-1"}, format="json"
        )
        assert api.status_code == 201  # an API client's top-ups are not staff's: not counted
        top_up(maker, card, "400.00", reason="")  # 1,000.00 today: at the amount, made at once
        assert not ChangeRequest.objects.exists()

        top_up(maker, card, "0.01", reason="Split deposit")
        assert only_request().params["amount_minor"] == 1
        card.refresh_from_db()
        assert card.balance_minor == 190_000

        clock.shift(datetime.timedelta(hours=14))  # midnight (UTC) passed: a new day counts afresh
        top_up(maker, card, "1000.00", reason="")
        card.refresh_from_db()
        assert card.balance_minor == 290_000 and ChangeRequest.objects.count() == 1


@pytest.mark.parametrize("value", ["", "1e3", "-5", "1,000.00", "ten"])
def test_a_malformed_approval_amount_fails_the_system_check(settings, value):
    settings.TOP_UP_APPROVAL_ABOVE = value
    assert [error.id for error in check_top_up_approval_amount(None)] == ["cards.E001"]


def test_the_default_approval_amount_passes_the_system_check():
    assert check_top_up_approval_amount(None) == []


def test_a_rejected_top_up_changes_nothing(maker, checker):
    card = CardFactory(balance_minor=500)
    top_up(maker, card, "2500.00")
    entries = LedgerEntry.objects.count()

    response = decide(checker, only_request(), "reject", note="No deposit slip")

    request = only_request()
    assert (request.status, request.decided_by, request.decision_note) == (
        "rejected",
        checker,
        "No deposit slip",
    )
    assert any("rejected" in m for m in shown(response))
    card.refresh_from_db()
    assert card.balance_minor == 500 and LedgerEntry.objects.count() == entries
    assert AuditLog.objects.filter(action=Action.CHANGE_REJECTED).count() == 1


def test_an_approved_top_up_credits_once_and_the_audit_names_both(maker, checker):
    card = CardFactory(balance_minor=500)
    top_up(maker, card, "2500.00")
    request = only_request()

    decide(checker, request, "approve", note="Slip seen")
    again = decide(checker, request, "approve")

    card.refresh_from_db()
    entry = card.ledger_entries.get(kind=LedgerEntry.Kind.TOP_UP, reference="dep-1")
    assert (entry.amount_minor, entry.balance_after_minor, card.balance_minor) == (250_000, 250_500, 250_500)
    assert card.ledger_entries.filter(reference="dep-1").count() == 1
    assert any("Nothing changed" in m for m in shown(again))
    request.refresh_from_db()
    assert (request.status, request.decided_by) == ("approved", checker)
    assert request.result["ledger_entry"] == entry.pk and request.result["balance_after"] == "2505.00"
    credited = AuditLog.objects.get(action=Action.CARD_TOPPED_UP, target_id=str(card.pk), actor_user=checker)
    assert credited.details["amount_minor"] == 250_000
    assert AuditLog.objects.get(action=Action.CHANGE_REQUESTED).actor_user == maker
    approved = AuditLog.objects.get(action=Action.CHANGE_APPROVED)
    assert approved.actor_user == checker
    assert (approved.details["requested_by"], approved.details["approved_by"]) == ("maker", "checker")


def test_a_top_up_of_a_card_closed_meanwhile_fails_to_apply_and_stays_pending(maker, checker):
    card = CardFactory(balance_minor=500)
    top_up(maker, card, "2500.00")
    card_change_status(card=card, status="closed", reason="account closed", actor=TEST_ACTOR)
    entries = LedgerEntry.objects.count()

    response = decide(checker, only_request(), "approve")

    assert any("Nothing changed" in m and "takes no top-ups" in m for m in shown(response))
    assert only_request().status == "pending" and only_request().decided_by is None
    assert LedgerEntry.objects.count() == entries
    assert not AuditLog.objects.filter(action=Action.CHANGE_APPROVED).exists()


# --- Unblocking a card blocked for fraud ------------------------------------------------------------


def set_status(user, card, status="active", reason="Cardholder confirmed the purchases"):
    return client_for(user).post(url("status", card), {"status": status, "reason": reason}, follow=True)


@pytest.mark.parametrize("status", ["active", "inactive"])
def test_unblocking_a_card_blocked_for_fraud_makes_a_request(maker, status):
    card = fraud_blocked_card()
    response = set_status(maker, card, status)
    request = only_request()
    assert (request.kind, request.params["status"], request.requested_by) == ("card_unblock", status, maker)
    assert any("held for a second person" in m for m in shown(response))
    card.refresh_from_db()
    assert (card.status, card.blocked_for_fraud) == ("blocked", True)


def test_an_approved_unblock_unblocks_the_card(maker, checker):
    card = fraud_blocked_card()
    set_status(maker, card)
    decide(checker, only_request(), "approve")
    card.refresh_from_db()
    assert (card.status, card.blocked_for_fraud, card.status_reason) == (
        "active",
        False,
        "Cardholder confirmed the purchases",
    )
    change = AuditLog.objects.filter(action=Action.CARD_STATUS_CHANGED, target_id=str(card.pk)).first()
    assert (change.actor_user, change.details["to"]) == (checker, "active")
    assert only_request().result == {"status": "active"}


def test_a_rejected_unblock_leaves_the_card_blocked(maker, checker):
    card = fraud_blocked_card()
    set_status(maker, card)
    decide(checker, only_request(), "reject")
    card.refresh_from_db()
    assert (card.status, card.blocked_for_fraud) == ("blocked", True)
    assert only_request().status == "rejected"


def test_a_second_unblock_request_for_the_same_card_is_refused(maker, checker):
    card = fraud_blocked_card()
    set_status(maker, card)
    response = client_for(checker).post(url("status", card), {"status": "active", "reason": "again"})
    assert "already waits for approval" in errors(response)["status"][0]
    assert ChangeRequest.objects.count() == 1


def test_a_card_blocked_for_another_reason_unblocks_at_once(maker):
    card = card_in("blocked")
    set_status(maker, card)
    card.refresh_from_db()
    assert card.status == "active" and not ChangeRequest.objects.exists()


def test_an_unblock_of_a_card_closed_meanwhile_fails_to_apply_and_stays_pending(maker, checker):
    card = fraud_blocked_card()
    set_status(maker, card)
    card_change_status(card=card, status="closed", reason="account closed", actor=TEST_ACTOR)

    response = decide(checker, only_request(), "approve")

    assert any("Nothing changed" in m and "no longer blocked" in m for m in shown(response))
    assert only_request().status == "pending"
    card.refresh_from_db()
    assert card.status == "closed"


def test_an_unblock_of_a_card_blocked_again_meanwhile_fails_to_apply_and_stays_pending(maker, checker):
    card = fraud_blocked_card()
    set_status(maker, card)
    card_change_status(card=card, status="active", reason="cleared", actor=TEST_ACTOR, approved=True)
    card_change_status(card=card, status="blocked", reason="cardholder called", actor=TEST_ACTOR)

    response = decide(checker, only_request(), "approve")

    assert any("blocked again since this request" in m for m in shown(response))
    assert only_request().status == "pending" and status_after(card) == "blocked"


def status_after(card) -> str:
    card.refresh_from_db()
    return card.status


def test_the_bulk_unblock_holds_cards_blocked_for_fraud_and_unblocks_the_others(maker):
    held, plain = fraud_blocked_card(), card_in("blocked")
    data = {"action": "unblock", "_selected_action": [held.pk, plain.pk], "apply": "yes", "reason": "cleared"}
    response = client_for(maker).post(CARDS, data, follow=True)
    held.refresh_from_db()
    plain.refresh_from_db()
    assert (held.status, plain.status) == ("blocked", "active")
    request = only_request()
    assert (request.kind, request.target_id, request.reason) == ("card_unblock", str(held.pk), "cleared")
    assert "1 card(s) activated." in shown(response)


# --- The API is not held -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["active", "inactive"])
def test_the_api_cannot_unblock_a_card_blocked_for_fraud(manage_api, status):
    card = fraud_blocked_card()
    before = written()
    response = manage_api.patch(f"/api/v1/cards/{card.pk}/", {"status": status, "reason": "x"}, format="json")
    assert response.status_code == 409
    assert "second person" in response.json()["status"][0]
    assert written() == before and not ChangeRequest.objects.exists()
    card.refresh_from_db()
    assert (card.status, card.blocked_for_fraud) == ("blocked", True)


def test_an_api_top_up_above_the_amount_is_made_at_once(manage_api):
    card = CardFactory()
    response = manage_api.post(
        f"/api/v1/cards/{card.pk}/top-ups/", {"amount": "5000.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 201
    card.refresh_from_db()
    assert card.balance_minor == 500_000 and not ChangeRequest.objects.exists()
