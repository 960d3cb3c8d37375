"""The fraud alert queue in the back office: what it lists, filters and searches, and
the one-click decisions it makes through alert_decide."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cards.models import Card
from cardsystem.models import AuditLog
from fraud.models import FraudAlert
from tests.admin_pages import change_url
from tests.authorizing import authorize
from tests.factories import CardFactory, UserFactory

pytestmark = pytest.mark.django_db

ALERTS = reverse("admin:fraud_fraudalert_changelist")


def flagged(card=None, **changes) -> FraudAlert:
    """An authorization the engine flags, and the alert it opened: on a card of its own
    unless one is given (a card's velocity would add points)."""
    card = card or CardFactory(balance_minor=100_000_000)
    txn = authorize(
        card, **{"merchant_country": "NG", "mcc": "7995", "merchant_name": "Lucky Bets", **changes}
    )
    assert txn.flagged, txn.risk_factors
    return FraudAlert.objects.get(transaction=txn)


def decide_url(alert) -> str:
    return reverse("admin:fraud_fraudalert_decide", args=[alert.pk])


def decide(client, alert, decision, follow=False, **data):
    return client.post(decide_url(alert), {"decision": decision, **data}, follow=follow)


def test_queue_lists_open_alerts_first_then_by_score_then_newest(admin_client, high_risk_country):
    older = flagged()  # 60
    big = flagged(amount_minor=100_000)  # 60 + large amount 20 = 80
    newer = flagged()  # 60, newer than `older`
    decided_big = flagged(amount_minor=100_000)
    decide(admin_client, decided_big, "false_positive")
    investigating = flagged()
    decide(admin_client, investigating, "investigate")
    order = list(admin_client.get(ALERTS).context["cl"].result_list)
    assert order == [big, newer, older, investigating, decided_big]


def test_queue_shows_risk_card_amount_merchant_country_and_factors(
    admin_client, high_risk_country, rich_card
):
    alert = flagged(rich_card, amount_minor=100_000)
    html = admin_client.get(ALERTS).content.decode()
    assert rich_card.masked_pan in html and rich_card.pan not in html
    assert "1000.00 USD" in html and "Lucky Bets" in html and ">NG<" in html
    assert re.search(r'class="risk risk-high"[^>]*>80<', html)
    assert "high_risk_country, amount_large, high_risk_mcc, foreign_country" in html
    assert 'value="confirm_block"' in html and decide_url(alert) in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status__exact": "open"}, {"open", "high"}),
        ({"status__exact": "investigating"}, {"mine"}),
        ({"assignee": "mine"}, {"mine"}),
        ({"assignee": "none"}, {"open", "high"}),
        ({"risk_level": "high"}, {"high"}),
        ({"risk_level": "medium"}, {"open", "mine"}),
    ],
)
def test_queue_filters(admin_client, high_risk_country, query, expected):
    alerts = {"open": flagged(), "high": flagged(amount_minor=100_000), "mine": flagged()}
    decide(admin_client, alerts["mine"], "investigate")
    names = {alert.pk: name for name, alert in alerts.items()}
    found = {names[a.pk] for a in admin_client.get(ALERTS, query).context["cl"].result_list}
    assert found == expected


def test_queue_assignee_filter_lists_each_analyst(admin_client, high_risk_country, rich_card):
    colleague, other_browser = UserFactory(username="colleague"), Client()
    alert = flagged(rich_card)
    other_browser.force_login(colleague)
    decide(other_browser, alert, "investigate")
    response = admin_client.get(ALERTS, {"assignee": str(colleague.pk)})
    assert list(response.context["cl"].result_list) == [alert]
    assert "colleague" in response.content.decode()
    assert list(admin_client.get(ALERTS, {"assignee": "mine"}).context["cl"].result_list) == []


@pytest.mark.parametrize("term", ["last4", "Lucky", "M-2002"])
def test_queue_searches_by_last_four_and_merchant(admin_client, high_risk_country, rich_card, term):
    other = CardFactory(balance_minor=100_000_000)
    alert = flagged(rich_card, merchant_id="M-2002")
    flagged(other, merchant_name="Other Casino")
    query = rich_card.last4 if term == "last4" else term
    assert list(admin_client.get(ALERTS, {"q": query}).context["cl"].result_list) == [alert]


def test_queue_query_count_does_not_grow_with_rows(
    admin_client, high_risk_country, django_assert_max_num_queries
):
    decide(admin_client, flagged(), "investigate")
    with CaptureQueriesContext(connection) as one_alert:
        admin_client.get(ALERTS)
    for _ in range(4):
        flagged()
    with django_assert_max_num_queries(len(one_alert)):
        assert len(admin_client.get(ALERTS).context["cl"].result_list) == 5


def test_pasted_card_number_searches_the_queue_by_its_last_four(admin_client, high_risk_country, rich_card):
    alert = flagged(rich_card)
    response = admin_client.get(ALERTS, {"q": rich_card.pan}, follow=True)
    assert response.redirect_chain[0][0].endswith(f"?q={rich_card.last4}")
    assert list(response.context["cl"].result_list) == [alert]
    assert rich_card.pan not in response.content.decode()


def test_investigate_assigns_the_alert_to_me_with_an_audit_row(
    admin_client, staff_user, high_risk_country, rich_card
):
    alert = flagged(rich_card)
    response = decide(admin_client, alert, "investigate")
    assert response.status_code == 302 and response["Location"] == ALERTS
    alert.refresh_from_db()
    assert (alert.status, alert.assignee) == ("investigating", staff_user)
    audit = AuditLog.objects.get(action=AuditLog.Action.ALERT_DECIDED)
    assert audit.actor_user == staff_user and audit.details["to"] == "investigating"


def test_confirm_fraud_and_block_blocks_the_card_with_audit_rows(
    admin_client, staff_user, high_risk_country, rich_card
):
    alert = flagged(rich_card)
    assert decide(admin_client, alert, "confirm_block").status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by) == ("confirmed_fraud", staff_user) and alert.resolved_at
    assert Card.objects.get(pk=rich_card.pk).status == Card.Status.BLOCKED
    assert AuditLog.objects.get(action=AuditLog.Action.ALERT_DECIDED).details["block_card"] is True
    blocked = AuditLog.objects.get(action=AuditLog.Action.CARD_STATUS_CHANGED, target_id=str(rich_card.pk))
    assert blocked.actor_user == staff_user and blocked.details["to"] == "blocked"


@pytest.mark.parametrize(
    ("decision", "status"), [("confirm", "confirmed_fraud"), ("false_positive", "false_positive")]
)
def test_decisions_without_block_leave_the_card_active(
    admin_client, high_risk_country, rich_card, decision, status
):
    alert = flagged(rich_card)
    assert decide(admin_client, alert, decision).status_code == 302
    alert.refresh_from_db()
    assert alert.status == status
    assert Card.objects.get(pk=rich_card.pk).status == Card.Status.ACTIVE


def test_a_decided_alert_does_not_change(admin_client, high_risk_country, rich_card):
    alert = flagged(rich_card)
    decide(admin_client, alert, "false_positive")
    before = AuditLog.objects.count()
    response = decide(admin_client, alert, "confirm_block", follow=True)
    assert "already decided" in " ".join(str(m) for m in response.context["messages"])
    alert.refresh_from_db()
    assert alert.status == "false_positive" and Card.objects.get(pk=rich_card.pk).status == "active"
    assert AuditLog.objects.count() == before
    page = admin_client.get(change_url(alert))
    html = page.content.decode()
    assert (
        page.status_code == 200
        and 'name="decision"' not in html
        and "A decided alert does not change" in html
    )
    assert admin_client.post(change_url(alert), {"notes": "edited"}).status_code == 403
    assert admin_client.get(reverse("admin:fraud_fraudalert_delete", args=[alert.pk])).status_code == 403


def test_bulk_actions_decide_each_selected_alert(admin_client, high_risk_country, rich_card):
    other = CardFactory(balance_minor=100_000_000)
    alerts = [flagged(rich_card), flagged(other)]
    untouched = flagged()
    data = {"action": "confirm_block", "_selected_action": [a.pk for a in alerts]}
    response = admin_client.post(ALERTS, data, follow=True)
    assert "2 alert(s) marked confirmed fraud and their cards blocked." in [
        str(m) for m in response.context["messages"]
    ]
    assert {a.status for a in FraudAlert.objects.filter(pk__in=[a.pk for a in alerts])} == {"confirmed_fraud"}
    assert set(Card.objects.filter(pk__in=[rich_card.pk, other.pk]).values_list("status", flat=True)) == {
        "blocked"
    }
    untouched.refresh_from_db()
    assert untouched.status == "open"


def test_bulk_action_reports_the_alerts_it_cannot_decide(admin_client, high_risk_country, rich_card):
    done, open_alert = flagged(rich_card), flagged()
    decide(admin_client, done, "false_positive")
    data = {"action": "investigate", "_selected_action": [done.pk, open_alert.pk]}
    shown = [str(m) for m in admin_client.post(ALERTS, data, follow=True).context["messages"]]
    assert "1 alert(s) marked investigating." in shown
    assert any(m.startswith(f"alert {done.pk}") and "already decided" in m for m in shown)
    done.refresh_from_db()
    assert done.status == "false_positive"


def test_a_note_goes_with_the_decision_and_a_card_number_is_refused(
    admin_client, high_risk_country, rich_card
):
    alert = flagged(rich_card)
    before = AuditLog.objects.count()
    response = decide(
        admin_client, alert, "investigate", note=f"cardholder read out {rich_card.pan}", follow=True
    )
    assert "card number" in " ".join(str(m) for m in response.context["messages"])
    assert rich_card.pan not in response.content.decode()
    alert.refresh_from_db()
    assert (alert.status, alert.notes, AuditLog.objects.count()) == ("open", "", before)

    decide(admin_client, alert, "investigate", note="Called the cardholder.", next=change_url(alert))
    decide(admin_client, alert, "false_positive", note="Confirmed the purchase.")
    alert.refresh_from_db()
    lines = alert.notes.splitlines()
    assert len(lines) == 2 and "analyst, investigate (assign to me)] Called the cardholder." in lines[0]
    assert lines[1].endswith("Confirmed the purchase.")
    assert "Confirmed the purchase." in admin_client.get(change_url(alert)).content.decode()


def test_alert_page_shows_transaction_factors_activity_and_the_cards_recent_transactions(
    admin_client, high_risk_country, rich_card
):
    for n in range(1, 26):
        authorize(rich_card, merchant_name=f"Shop-{n:02d}", amount_minor=100 + n)
    alert = flagged(rich_card)
    page = admin_client.get(change_url(alert))
    html = page.content.decode()
    assert page.status_code == 200 and rich_card.pan not in html
    assert "Lucky Bets (M-1001), MCC 7995" in html and "NG Nigeria" in html and "42.00 USD" in html
    assert "<td>high_risk_country</td>" in html and "<td>30</td>" in html
    assert "Merchant country NG is on the high-risk list." in html
    compact = html.replace("\n", "").replace("  ", "")
    assert "transactions on this card in the last 30 days</th><td>25" in compact
    assert "first purchase at this merchant</th><td>no" in compact
    assert "(this one)" in html and "Shop-07" in html and "Shop-06" not in html  # the latest 20
    assert html.count(rich_card.masked_pan) >= 20
    assert 'formaction="' + decide_url(alert) in html and 'name="note"' in html


def test_staff_who_may_only_view_alerts_cannot_decide(client, high_risk_country, rich_card):
    viewer = UserFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_fraudalert"))
    alert = flagged(rich_card)
    client.force_login(viewer)
    assert client.get(ALERTS).status_code == 200
    assert 'name="decision"' not in client.get(change_url(alert)).content.decode()
    assert decide(client, alert, "confirm_block").status_code == 403
    data = {"action": "confirm_block", "_selected_action": [alert.pk]}
    client.post(ALERTS, data)
    alert.refresh_from_db()
    assert alert.status == "open" and Card.objects.get(pk=rich_card.pk).status == "active"


def test_decide_answers_only_posts(admin_client, high_risk_country, rich_card):
    alert = flagged(rich_card)
    assert admin_client.get(decide_url(alert)).status_code == 405
    assert decide(admin_client, alert, "reopen").status_code == 302
    alert.refresh_from_db()
    assert alert.status == "open"


def test_deciding_needs_the_decide_permission_and_a_block_also_the_block_permission(
    client, high_risk_country, rich_card
):
    decider = UserFactory(username="decider", is_superuser=False)
    decider.user_permissions.set(
        Permission.objects.filter(codename__in=["view_fraudalert", "decide_fraudalert"])
    )
    alert = flagged(rich_card)
    client.force_login(decider)

    page = client.get(change_url(alert)).content.decode()
    queue = client.get(ALERTS)

    assert 'value="false_positive"' in page and 'value="confirm_block"' not in page
    assert 'value="confirm_block"' not in queue.content.decode()
    assert [name for name, _ in queue.context["action_form"].fields["action"].choices if name] == [
        "investigate",
        "confirm",
        "false_positive",
    ]
    assert decide(client, alert, "confirm_block").status_code == 403
    alert.refresh_from_db()
    assert alert.status == "open" and Card.objects.get(pk=rich_card.pk).status == "active"
    assert decide(client, alert, "false_positive").status_code == 302
    alert.refresh_from_db()
    assert alert.status == "false_positive"
