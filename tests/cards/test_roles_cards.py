"""What each role may do with cards, the ledger and transactions in the back office:
what it may not do is neither offered (no button, no action, no choice) nor done when
asked by hand (403, or nothing written)."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from cards.models import Card, LedgerEntry
from cardsystem.roles import ADMINISTRATOR, AUDITOR, CARD_OPERATIONS, FRAUD_ANALYST, FRAUD_MANAGER
from tests.cards.admin_pages import (
    ADD_HOLDER,
    CARDS,
    HOLDERS,
    ISSUE,
    NO_LIMITS,
    card_in,
    issue_data,
    url,
    written,
)
from tests.factories import CardFactory, UserFactory, staff_with_roles

pytestmark = pytest.mark.django_db

LEDGER = reverse("admin:cards_ledgerentry_changelist")
TRANSACTIONS = reverse("admin:transactions_transaction_changelist")
LIVE = reverse("admin:transactions_transaction_live")
REPORTS = reverse("admin:transactions_fraudreport_changelist")
ADD_REPORT = reverse("admin:transactions_fraudreport_add")
LIMITS = {**NO_LIMITS, "limit_daily": "50.00"}


def client_for(*roles) -> Client:
    client = Client()
    client.force_login(staff_with_roles(*roles, username="staff"))
    return client


def bulk(client, action, cards):
    data = {"action": action, "_selected_action": [c.pk for c in cards], "apply": "yes", "reason": "test"}
    return client.post(CARDS, data)


def buttons(client, card) -> set[str]:
    html = client.get(url("change", card)).content.decode()
    return {label for label in ["Change status", "Top up", "Replace card"] if f">{label}</a>" in html}


def actions(client) -> set[str]:
    return {name for name, _ in client.get(CARDS).context["action_form"].fields["action"].choices if name}


def status_choices(client, card) -> set[str]:
    return {
        value
        for value, _ in client.get(url("status", card)).context["form"].fields["status"].choices
        if value
    }


def status_of(card) -> str:
    card.refresh_from_db()
    return card.status


def test_card_operations_issue_top_up_block_unblock_change_limits_and_replace():
    client = client_for(CARD_OPERATIONS)
    card = CardFactory()
    assert buttons(client, card) == {"Change status", "Top up", "Replace card"}
    assert actions(client) == {"block", "unblock", "report_lost", "report_stolen"}
    assert "closed" in status_choices(client, card)

    assert client.post(ISSUE, issue_data()).context["pan"]
    assert (
        client.post(ADD_HOLDER, {"name": "Ann", "date_of_birth": "1980-01-01", "country": "DE"}).status_code
        == 302
    )
    assert client.post(url("top_up", card), {"amount": "10.00"}).status_code == 302
    assert client.post(url("change", card), LIMITS).status_code == 302
    assert client.post(url("status", card), {"status": "blocked", "reason": "call"}).status_code == 302
    assert status_of(card) == "blocked"
    assert client.post(url("status", card), {"status": "active", "reason": "ok"}).status_code == 302
    assert status_of(card) == "active"
    bulk(client, "block", [card])
    assert status_of(card) == "blocked"
    bulk(client, "unblock", [card])
    assert status_of(card) == "active"
    card.refresh_from_db()
    assert (card.balance_minor, card.limit_daily_minor) == (1000, 5000)
    assert client.post(url("replace", card), {"reason": "Damaged"}).context["pan"]
    assert status_of(card) == "closed" and Card.objects.filter(replaces=card).exists()


def test_a_fraud_analyst_blocks_but_is_refused_top_up_unblock_limits_and_replace():
    client = client_for(FRAUD_ANALYST)
    card, blocked = CardFactory(), card_in("blocked")
    assert buttons(client, card) == {"Change status"}
    assert actions(client) == {"block", "report_lost", "report_stolen"}
    assert status_choices(client, card) == {"inactive", "blocked", "lost", "stolen"}
    assert status_choices(client, blocked) == {"lost", "stolen"}

    assert client.post(url("status", card), {"status": "blocked", "reason": "suspicious"}).status_code == 302
    assert status_of(card) == "blocked"
    other = CardFactory()
    bulk(client, "report_stolen", [other])
    assert status_of(other) == "stolen"

    data = issue_data()
    before = written()
    assert client.post(url("status", blocked), {"status": "active", "reason": "x"}).status_code == 403
    assert client.post(url("status", blocked), {"status": "closed", "reason": "x"}).status_code == 403
    assert client.post(url("top_up", blocked), {"amount": "10.00"}).status_code == 403
    assert client.post(url("change", blocked), LIMITS).status_code == 403
    assert client.post(url("replace", blocked), {"reason": "x"}).status_code == 403
    assert client.post(ISSUE, data).status_code == 403
    bulk(client, "unblock", [blocked])
    assert written() == before
    blocked.refresh_from_db()
    assert (blocked.status, blocked.balance_minor, blocked.limit_daily_minor) == ("blocked", 0, None)


def test_a_fraud_manager_unblocks_and_replaces_but_does_not_top_up_or_change_limits():
    client = client_for(FRAUD_MANAGER)
    card = card_in("blocked")
    assert buttons(client, card) == {"Change status", "Replace card"}
    assert client.post(url("status", card), {"status": "active", "reason": "cleared"}).status_code == 302
    assert status_of(card) == "active"
    before = written()
    assert client.post(url("top_up", card), {"amount": "10.00"}).status_code == 403
    assert client.post(url("change", card), LIMITS).status_code == 403
    assert written() == before


def test_an_auditor_sees_cards_the_ledger_and_transactions_but_changes_nothing():
    client = client_for(AUDITOR)
    card = CardFactory(balance_minor=700)
    for page in [CARDS, url("change", card), LEDGER, HOLDERS, TRANSACTIONS, LIVE, REPORTS]:
        assert client.get(page).status_code == 200, page
    assert client.get(LEDGER).context["cl"].result_count == LedgerEntry.objects.count() == 1
    assert buttons(client, card) == set()
    assert "limit_daily" not in client.get(url("change", card)).context["adminform"].form.fields

    issue = issue_data()
    before = written()
    for page, data in [
        (url("status", card), {"status": "blocked", "reason": "x"}),
        (url("top_up", card), {"amount": "10.00"}),
        (url("replace", card), {"reason": "x"}),
        (url("change", card), LIMITS),
        (ISSUE, issue),
        (ADD_HOLDER, {"name": "Ann", "date_of_birth": "1980-01-01", "country": "DE"}),
        (ADD_REPORT, {"reason": "fraud"}),
    ]:
        assert client.post(page, data).status_code == 403, page
    for action in ["block", "unblock", "report_lost", "report_stolen"]:
        bulk(client, action, [card])
    assert written() == before and status_of(card) == "active"


def test_an_administrator_cannot_see_cards_or_transactions():
    client = client_for(ADMINISTRATOR)
    card = CardFactory()
    for page in [CARDS, url("change", card), url("status", card), url("top_up", card), LEDGER, HOLDERS]:
        assert client.get(page).status_code == 403, page
    for page in [TRANSACTIONS, LIVE, REPORTS]:
        assert client.get(page).status_code == 403, page
    before = written()
    assert client.post(url("status", card), {"status": "blocked", "reason": "x"}).status_code == 403
    assert written() == before and status_of(card) == "active"


def test_limits_posted_by_someone_who_may_only_assign_cards_are_not_read():
    assigner = UserFactory(is_superuser=False, username="assigner")
    assigner.user_permissions.set(Permission.objects.filter(codename__in=["view_card", "change_card"]))
    client = Client()
    client.force_login(assigner)
    card = CardFactory(limits={"daily": 10_000})
    assert client.post(url("change", card), LIMITS).status_code == 302
    card.refresh_from_db()
    assert card.limit_daily_minor == 10_000
