"""The live view and the alert queue in a real browser: an authorization made through the
API appears on an open live page without a reload, and an analyst decides an alert with
one click in the queue."""

import re

from django.urls import reverse
from rest_framework.test import APIClient

from cardsystem.models import AuditLog
from fraud.models import CountryRisk, FraudAlert
from tests.authorizing import decide
from tests.browser.conftest import log_in, pytestmark  # noqa: F401
from tests.factories import CardFactory, make_api_client, staff_with_roles
from tests.fraud.configuration import go_live
from transactions.models import Transaction

LIVE = reverse("admin:transactions_transaction_live")
ALERTS = reverse("admin:fraud_fraudalert_changelist")
# A poll every 5 seconds, and a row shown once it is 2 seconds old (admin_views.SETTLE):
# the new row is on the page within about 7 seconds.
NEW_ROW_WITHIN_MS = 20_000


def authorize_api() -> APIClient:
    """An acquirer's system: an API client with the `authorize` scope."""
    _, key = make_api_client("authorize")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


def row_link(transaction_id) -> str:
    href = reverse("admin:transactions_transaction_change", args=[transaction_id])
    return f'#live-table tbody a[href="{href}"]'


def test_the_live_view_shows_a_new_authorization_without_a_reload(page):
    card = CardFactory(balance_minor=100_000)
    log_in(page, staff_with_roles("Fraud analyst"))
    page.goto(LIVE)
    page.locator("#live-empty").wait_for()
    # Marks this document: a reload or a navigation would make a new one, without it.
    page.evaluate("window.sameDocument = true")

    decision = decide(authorize_api(), card, amount="12.34", merchant_name="Night Owl Books")

    new_row = page.locator(row_link(decision["id"]))
    new_row.wait_for(timeout=NEW_ROW_WITHIN_MS)
    assert page.evaluate("window.sameDocument") is True
    cells = page.locator("#live-table tbody tr").first.locator("td").all_inner_texts()
    assert cells[1:7] == [card.masked_pan, "12.34 USD", "Night Owl Books", "US", "Approved", "00"]
    assert page.locator("#live-empty").count() == 0
    assert re.match(r"Updated ", page.locator("#live-status").inner_text())


def test_an_analyst_decides_an_alert_in_the_queue_with_one_click(page):
    # Nigeria on the high-risk list: a gambling payment there scores 60, above the review
    # threshold (50): approved, and an alert opened for an analyst.
    CountryRisk.objects.create(country="NG", level=CountryRisk.Level.HIGH_RISK)
    go_live()
    card = CardFactory(balance_minor=100_000)
    decision = decide(authorize_api(), card, merchant_country="NG", mcc="7995", merchant_name="Lucky Bets")
    alert = FraudAlert.objects.get(transaction_id=decision["id"])
    assert alert.status == FraudAlert.Status.OPEN
    analyst = staff_with_roles("Fraud analyst")
    log_in(page, analyst)

    page.goto(ALERTS)
    row = page.locator("#result_list tbody tr", has_text="Lucky Bets")
    row.locator('button[name="decision"][value="false_positive"]').click()

    page.locator(".messagelist .success").wait_for()
    assert page.locator(".messagelist").inner_text() == f"Alert {alert.pk}: false positive."
    alert.refresh_from_db()
    assert alert.status == FraudAlert.Status.FALSE_POSITIVE
    assert alert.resolved_by == analyst and alert.resolved_at is not None
    audit = AuditLog.objects.get(action=AuditLog.Action.ALERT_DECIDED)
    assert audit.actor_user == analyst
    assert audit.details["from"] == "open" and audit.details["to"] == "false_positive"
    assert audit.target_id == str(alert.pk)
    # Decided: the row offers no decision any more; the transaction is as it was.
    assert row.locator('button[name="decision"]').count() == 0
    assert Transaction.objects.get(pk=decision["id"]).status == Transaction.Status.APPROVED
