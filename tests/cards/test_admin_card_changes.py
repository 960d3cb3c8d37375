"""Changing cards in the back office: status one by one and in bulk, top-ups, and
staff who may only view changing nothing."""

import pytest

from cards.models import Card, LedgerEntry
from cardsystem.models import AuditLog
from tests.cards.admin_pages import (
    CARDS,
    ISSUE,
    NO_LIMITS,
    card_in,
    errors,
    issue_data,
    stock_card,
    url,
    written,
)
from tests.factories import BinFactory, CardFactory

pytestmark = pytest.mark.django_db


# --- Status -------------------------------------------------------------------------------------------


def test_changes_status_with_a_reason(admin_client, staff_user):
    card = CardFactory()
    response = admin_client.post(url("status", card), {"status": "lost", "reason": "Left on a train"})
    assert response.status_code == 302 and response["Location"] == url("change", card)
    card.refresh_from_db()
    assert (card.status, card.status_reason) == ("lost", "Left on a train")
    audit = AuditLog.objects.get(action=AuditLog.Action.CARD_STATUS_CHANGED)
    assert audit.actor_user == staff_user and audit.details["to"] == "lost"


@pytest.mark.parametrize(
    ("start", "data", "field"),
    [
        ("active", {"status": "blocked", "reason": ""}, "reason"),
        ("active", {"status": "blocked", "reason": "x" * 201}, "reason"),
        ("active", {"status": "frozen", "reason": "typo"}, "status"),
        ("lost", {"status": "active", "reason": "found it"}, "status"),
        ("closed", {"status": "active", "reason": "reopen"}, "status"),
    ],
)
def test_rejects_bad_status_change_and_writes_nothing(admin_client, start, data, field):
    card = card_in(start)
    before = written()
    assert field in errors(admin_client.post(url("status", card), data))
    assert written() == before
    card.refresh_from_db()
    assert card.status == start


def test_activating_a_stock_card_without_cardholder_is_a_form_error(admin_client):
    card = stock_card()
    before = written()
    response = admin_client.post(url("status", card), {"status": "active", "reason": "go"})
    assert "Assign the card" in errors(response)["status"][0]
    assert written() == before


def test_a_closed_card_offers_no_status(admin_client):
    page = admin_client.get(url("status", card_in("closed")))
    assert "can no longer change" in page.content.decode() and not page.context["can_submit"]


# --- Bulk status actions ----------------------------------------------------------------------------------


def bulk(admin_client, action, cards, follow=False, **extra):
    data = {"action": action, "_selected_action": [c.pk for c in cards], **extra}
    return admin_client.post(CARDS, data, follow=follow)


def test_block_action_asks_for_a_reason_first(admin_client):
    cards = CardFactory.create_batch(2)
    page = bulk(admin_client, "block", cards, index="0")
    assert page.status_code == 200 and "reason" in page.context["form"].fields
    html = page.content.decode()
    assert all(c.masked_pan in html and c.pan not in html for c in cards)
    assert set(Card.objects.values_list("status", flat=True)) == {"active"}


@pytest.mark.parametrize(
    ("action", "status"),
    [("block", "blocked"), ("report_lost", "lost"), ("report_stolen", "stolen")],
)
def test_bulk_action_changes_the_selected_cards_with_the_reason(admin_client, action, status):
    cards, untouched = CardFactory.create_batch(2), CardFactory()
    response = bulk(admin_client, action, cards, apply="yes", reason="fraud ring")
    assert response.status_code == 302
    assert {c.status for c in Card.objects.filter(pk__in=[c.pk for c in cards])} == {status}
    untouched.refresh_from_db()
    assert untouched.status == "active"
    assert AuditLog.objects.filter(action=AuditLog.Action.CARD_STATUS_CHANGED).count() == 2


def test_unblock_applies_to_the_cards_that_may_and_reports_the_others(admin_client):
    blocked, lost = card_in("blocked"), card_in("lost")
    response = bulk(admin_client, "unblock", [blocked, lost], apply="yes", reason="cleared", follow=True)
    blocked.refresh_from_db()
    lost.refresh_from_db()
    assert (blocked.status, lost.status) == ("active", "lost")
    shown = [str(m) for m in response.context["messages"]]
    assert "1 card(s) activated." in shown
    assert any(m.startswith(lost.masked_pan) and "lost card cannot become active" in m for m in shown)


def test_bulk_action_without_reason_asks_again_and_writes_nothing(admin_client):
    cards = CardFactory.create_batch(2)
    before = written()
    response = bulk(admin_client, "block", cards, apply="yes", reason="")
    assert "reason" in errors(response)
    assert written() == before


# --- Top-ups -----------------------------------------------------------------------------------------------


def test_tops_up_a_card(admin_client):
    card = CardFactory(balance_minor=500)
    response = admin_client.post(url("top_up", card), {"amount": "100.25", "reference": "branch 12"})
    assert response.status_code == 302
    card.refresh_from_db()
    entry = card.ledger_entries.first()
    assert card.balance_minor == 10_525 and (entry.amount_minor, entry.reference) == (10_025, "branch 12")
    assert AuditLog.objects.filter(action=AuditLog.Action.CARD_TOPPED_UP).count() == 2  # factory's + ours


@pytest.mark.parametrize("amount", ["-5", "0", "0.00", "1e3", "10.005", "12,50", " ", "abc", "1" * 16])
def test_rejects_bad_top_up_amount_and_writes_nothing(admin_client, amount):
    card = CardFactory()
    before = written()
    assert "amount" in errors(admin_client.post(url("top_up", card), {"amount": amount}))
    assert written() == before


def test_rejects_three_decimal_top_up(admin_client):
    card = CardFactory()
    response = admin_client.post(url("top_up", card), {"amount": "1.001"})
    assert errors(response)["amount"] == ["USD amounts have at most 2 decimal places."]
    assert not LedgerEntry.objects.exists()


def test_rejects_any_decimals_for_a_yen_card(admin_client):
    card = CardFactory(bin=BinFactory(currency="JPY"))
    assert "amount" in errors(admin_client.post(url("top_up", card), {"amount": "100.5"}))
    assert admin_client.post(url("top_up", card), {"amount": "1000"}).status_code == 302
    card.refresh_from_db()
    assert card.balance_minor == 1000


def test_rejects_top_up_of_a_closed_card(admin_client):
    card = card_in("closed")
    before = written()
    response = admin_client.post(url("top_up", card), {"amount": "10.00"})
    assert "takes no top-ups" in errors(response)["__all__"][0]
    assert written() == before


def test_staff_who_may_only_view_cards_change_nothing(client, admin_client):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_card", "view_cardholder"]))
    card, data = CardFactory(balance_minor=100), issue_data()
    client.force_login(viewer)
    before = written()
    assert client.get(url("change", card)).status_code == 200
    assert client.post(url("status", card), {"status": "blocked", "reason": "x"}).status_code == 403
    assert client.post(url("top_up", card), {"amount": "5.00"}).status_code == 403
    assert client.post(url("change", card), {**NO_LIMITS, "limit_daily": "5"}).status_code == 403
    assert client.post(ISSUE, data).status_code == 403
    assert bulk(client, "block", [card], apply="yes", reason="x").status_code == 200  # no such action
    assert written() == before
    card.refresh_from_db()
    assert card.status == "active"
