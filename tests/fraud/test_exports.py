"""The alert queue's and the case queue's CSV exports: the rows their filters and search
select, the columns an analyst works from, masked card numbers only."""

import pytest

from cardsystem.models import AuditLog
from fraud import cases
from fraud.exports import ALERT_COLUMNS, CASE_COLUMNS
from fraud.models import Case, FraudAlert
from fraud.services import alert_decide
from tests.authorizing import authorize_at
from tests.exports import exported, header_of
from tests.factories import TEST_ACTOR, CardFactory
from tests.fraud.clock import NOW
from tests.fraud.configuration import set_rule

pytestmark = pytest.mark.django_db
authorize = authorize_at(NOW)

ALERTS = "fraud_fraudalert"
CASES = "fraud_case"


@pytest.fixture
def alerts(db):
    """Three flagged authorizations abroad on three cards: one alert still open at a
    casino, one investigated at a hotel, one decided a false positive (its case resolved)."""
    set_rule("foreign_country", score=55)
    made = {}
    for name, merchant in [("open", "Lucky Bets"), ("investigating", "Grand Hotel"), ("done", "Bistro")]:
        txn = authorize(CardFactory(balance_minor=10_000_000), merchant_country="FR", merchant_name=merchant)
        made[name] = FraudAlert.objects.get(transaction=txn)
    alert_decide(alert=made["investigating"], status=FraudAlert.Status.INVESTIGATING, actor=TEST_ACTOR)
    cases.case_resolve(
        case=made["done"].case, resolution=Case.Resolution.FALSE_POSITIVE, note="", actor=TEST_ACTOR
    )
    return made


def test_the_alert_export_has_its_columns_and_the_queues_rows(admin_client, alerts):
    assert header_of(admin_client, ALERTS) == [c.header for c in ALERT_COLUMNS]

    rows = {row["id"]: row for row in exported(admin_client, ALERTS)}

    assert set(rows) == {str(alert.pk) for alert in alerts.values()}
    casino = rows[str(alerts["open"].pk)]
    assert casino["card"] == alerts["open"].card.masked_pan
    assert casino["merchant_name"] == "Lucky Bets" and casino["merchant_country"] == "FR"
    assert casino["amount"] == "42.00" and casino["status"] == "open"
    assert "foreign_country" in casino["risk_factors"].split()
    assert rows[str(alerts["done"].pk)]["status"] == "false_positive"
    assert rows[str(alerts["done"].pk)]["case_id"] == str(alerts["done"].case_id)


def test_the_alert_export_keeps_the_queues_filter_and_search(admin_client, alerts):
    still_open = exported(admin_client, ALERTS, {"status__exact": "open"})
    hotel = exported(admin_client, ALERTS, {"q": "hotel"})

    assert [row["id"] for row in still_open] == [str(alerts["open"].pk)]
    assert [row["id"] for row in hotel] == [str(alerts["investigating"].pk)]
    assert AuditLog.objects.filter(action=AuditLog.Action.LIST_EXPORTED).count() == 2


def test_the_case_export_opens_on_the_unresolved_cases_as_the_queue_does(admin_client, alerts):
    assert header_of(admin_client, CASES) == [c.header for c in CASE_COLUMNS]

    unresolved = exported(admin_client, CASES)
    everything = exported(admin_client, CASES, {"state": "all"})

    open_cases = {str(alerts[name].case_id) for name in ("open", "investigating")}
    assert {row["id"] for row in unresolved} == open_cases
    assert len(everything) == 3
    row = next(row for row in everything if row["id"] == str(alerts["done"].case_id))
    assert row["resolution"] == "false_positive" and row["resolved_by"] == ""
    assert row["card"] == alerts["done"].card.masked_pan
    assert row["alerts"] == "1" and row["top_risk"] == str(alerts["done"].risk_score)
    assert row["priority"] in {label for _, label in Case.Priority.choices}


def test_the_case_export_keeps_the_queues_search(admin_client, alerts):
    last4 = alerts["open"].card.last4

    rows = exported(admin_client, CASES, {"q": last4, "state": "all"})

    same_last4 = [a.card.masked_pan for a in alerts.values() if a.card.last4 == last4]
    assert sorted(row["card"] for row in rows) == sorted(same_last4)
