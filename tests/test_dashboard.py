"""The back office's front page (cardsystem/dashboard.py and the panels of
transactions/dashboard.py and fraud/dashboard.py): each figure on a world whose figures
are known (tests/dashboard_world.py), the period selector, who sees which panel, the
page's queries, and no card number on it."""

import re

import pytest
import time_machine

from tests import dashboard_world as world
from tests.factories import UserFactory, staff_with_roles
from tests.staff_pages import client_for

pytestmark = pytest.mark.django_db
TRANSACTION_CHARTS = {"decisions", "approval-rate", "response-codes", "risk-scores"}
FRAUD_CHARTS = {"alert-backlog", "top-rules"}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(world.NOW, tick=False):
        yield


@pytest.fixture
def superuser():
    return UserFactory()


def dashboard(user, period: str | None = None):
    response = client_for(user).get(world.PAGE, {"period": period} if period else {})
    assert response.status_code == 200
    return response


def charts(response) -> dict:
    return {chart.id: chart for chart in response.context["charts"]}


def data(response, chart_id: str) -> dict:
    """{dataset label: values} of one chart."""
    config = charts(response)[chart_id].config
    return {d["label"]: d["data"] for d in config["data"]["datasets"]}


def labels(response, chart_id: str) -> list:
    return charts(response)[chart_id].config["data"]["labels"]


def tiles(response) -> dict:
    return {tile.label: (tile.value, tile.note) for tile in response.context["tiles"]}


# --- The figures ---------------------------------------------------------------------------------


def test_the_tiles_count_the_periods_decisions_approval_rate_declines_and_fraud_value(superuser):
    world.decisions()

    day, week, month = (tiles(dashboard(superuser, p)) for p in ("24h", "7d", "30d"))

    assert (day["Decisions"][0], day["Approval rate"][0], day["Declines"][0]) == ("6", "66.7%", "2")
    assert day["Fraud reported"] == ("2", "3.00 EUR, 50.00 USD")
    assert (week["Decisions"][0], week["Approval rate"][0], week["Fraud reported"][0]) == ("7", "71.4%", "3")
    assert week["Fraud reported"][1] == "3.00 EUR, 150.00 USD"
    assert (month["Decisions"][0], month["Approval rate"][0], month["Declines"][0]) == ("8", "62.5%", "3")


def test_decisions_are_stacked_by_outcome_per_hour_over_24_hours(superuser):
    world.decisions()

    response = dashboard(superuser, "24h")

    hours = labels(response, "decisions")
    assert len(hours) == 24 and (hours[0], hours[-1]) == ("12:00", "11:00")
    outcomes = data(response, "decisions")
    at = {label: hours.index(label) for label in ("07:00", "11:00")}
    assert [outcomes[name][at["11:00"]] for name in outcomes] == [1, 1, 2]
    assert [outcomes[name][at["07:00"]] for name in outcomes] == [2, 0, 0]
    assert sum(sum(values) for values in outcomes.values()) == 6
    rates = data(response, "approval-rate")["Approval rate %"]
    assert (rates[at["11:00"]], rates[at["07:00"]], rates[0]) == (50.0, 100.0, None)


def test_an_hour_holds_its_first_microsecond_and_not_the_next_hours(superuser):
    last_of_ten = world.NOW.replace(hour=10, minute=59, second=59, microsecond=999_999)
    world.decision("approved", ago=world.NOW - last_of_ten)
    world.decision("approved", ago=world.NOW - last_of_ten.replace(minute=0, second=0, microsecond=0))
    world.decision("funds", ago=world.NOW - world.NOW.replace(hour=11, minute=0, second=0, microsecond=0))

    response = dashboard(superuser, "24h")

    hours, outcomes = labels(response, "decisions"), data(response, "decisions")
    assert (outcomes["Approved"][hours.index("10:00")], outcomes["Declined"][hours.index("10:00")]) == (2, 0)
    assert (outcomes["Approved"][hours.index("11:00")], outcomes["Declined"][hours.index("11:00")]) == (0, 1)


def test_decisions_are_counted_per_day_over_7_and_30_days(superuser):
    world.decisions()

    week, month = dashboard(superuser, "7d"), dashboard(superuser, "30d")

    assert labels(week, "decisions")[-1] == "Jun 15" and len(labels(week, "decisions")) == 8
    declined = data(month, "decisions")["Declined"]
    assert len(declined) == 31 and sum(declined) == 3
    assert declined[labels(month, "decisions").index("Jun 05")] == 1  # the unknown card's


def test_response_codes_are_counted_most_frequent_first(superuser):
    world.decisions()

    response = dashboard(superuser, "24h")

    assert labels(response, "response-codes") == [
        "00 approved",
        "51 insufficient_funds",
        "59 suspected_fraud",
    ]
    codes = dict(
        zip(labels(response, "response-codes"), data(response, "response-codes")["Decisions"], strict=True)
    )
    assert codes == {"00 approved": 4, "51 insufficient_funds": 1, "59 suspected_fraud": 1}


def test_risk_scores_fall_in_ten_point_buckets_and_unknown_cards_have_none(superuser):
    world.decisions()

    day, month = dashboard(superuser, "24h"), dashboard(superuser, "30d")

    assert labels(day, "risk-scores")[0] == "0-9" and labels(day, "risk-scores")[-1] == "90-100"
    assert data(day, "risk-scores")["Decisions"] == [1, 1, 1, 0, 0, 1, 0, 0, 1, 1]
    assert sum(data(month, "risk-scores")["Decisions"]) == 7  # the unknown card's has no score


def test_fraud_reported_is_counted_and_summed_per_currency_by_transaction_date(superuser):
    world.decisions()

    response = dashboard(superuser, "7d")

    reported = data(response, "fraud-reported")
    days = labels(response, "fraud-reported")
    assert reported["Reports"][days.index("Jun 12")] == 1 and reported["Reports"][days.index("Jun 15")] == 2
    assert sum(reported["Value, USD"]) == 150.0 and reported["Value, USD"][days.index("Jun 12")] == 100.0
    assert reported["Value, EUR"][days.index("Jun 15")] == 3.0 and sum(reported["Value, EUR"]) == 3.0


def test_open_alerts_are_grouped_by_age_and_the_oldest_is_named(superuser):
    world.alerts()

    response = dashboard(superuser)

    assert labels(response, "alert-backlog") == ["<1h", "1-4h", "4-24h", "1-3d", ">3d"]
    assert data(response, "alert-backlog")["Open or investigating"] == [1, 1, 2, 1, 1]
    assert tiles(response)["Open alerts"] == ("6", "oldest opened 4 d 0 h ago")


def test_the_rules_that_fired_most_come_first_with_the_fraud_among_them(superuser):
    world.decisions()

    response = dashboard(superuser, "24h")

    rules = dict(zip(labels(response, "top-rules"), data(response, "top-rules")["Fired"], strict=True))
    assert list(rules.values()) == [3, 1]
    assert data(response, "top-rules")["Fraud among them"] == [1, 0]


def test_without_an_active_model_the_page_says_so(superuser):
    response = dashboard(superuser)

    assert "model-quality" not in charts(response)
    assert "No model is active: the rules alone decide." in response.context["panel_notes"]


def test_the_live_models_precision_and_recall_by_the_fraud_reports_known_now(superuser):
    version = world.live_model(7)
    for outcome, fraud in (
        ("risk_decline", True),
        ("risk_decline", False),
        ("review", True),
        ("approved", True),
    ):
        world.decision(outcome, ago=world.HOUR, fraud=fraud, version=version)

    response = dashboard(superuser)

    # High 2 (1 fraud), medium or high 3 (2 fraud), fraud 3.
    assert data(response, "model-quality")["%"] == [50.0, 33.3, 66.7, 66.7]
    assert charts(response)["model-quality"].title.startswith("Model v7")


# --- The page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1y", "", "24h'", "x" * 300])
def test_an_unknown_period_shows_the_default_with_a_message(superuser, value):
    response = dashboard(superuser, value) if value else client_for(superuser).get(world.PAGE + "?period=")

    assert response.status_code == 200
    assert response.context["period"].key == "24h"
    assert response.context["period_message"].startswith("Unknown period")


def test_the_period_links_select_each_period(superuser):
    response = dashboard(superuser, "30d")

    html = response.content.decode()
    assert 'href="?period=7d"' in html and 'href="?period=24h"' in html
    assert re.search(r'href="\?period=30d" class="selected"', html)


def test_each_chart_links_to_the_list_it_summarises(superuser):
    world.decisions()

    response = dashboard(superuser, "7d")
    client = client_for(superuser)

    for chart in response.context["charts"]:
        assert chart.link, chart.id
        listed = client.get(chart.link)
        assert listed.status_code == 200, chart.link
        assert "e=1" not in listed.get("Location", "")
    transactions = client.get(charts(response)["decisions"].link)
    assert transactions.context["cl"].result_count == 7


def test_an_auditor_sees_every_panel():
    world.decisions()
    auditor = staff_with_roles("Auditor")

    response = dashboard(auditor)

    assert set(charts(response)) == TRANSACTION_CHARTS | FRAUD_CHARTS | {"fraud-reported"}
    assert list(tiles(response)) == [
        "Decisions",
        "Approval rate",
        "Declines",
        "Fraud reported",
        "Open alerts",
    ]


def test_staff_without_the_view_permission_do_not_see_a_panel():
    world.decisions()
    administrator = staff_with_roles("Administrator")

    response = dashboard(administrator)

    assert charts(response) == {} and tiles(response) == {}
    assert "Your roles show no dashboard panel" in response.content.decode()
    assert "Back office pages" in response.content.decode()


def test_card_operations_see_transactions_and_alerts_but_not_the_rules():
    operations = staff_with_roles("Card operations")

    response = dashboard(operations)

    assert set(charts(response)) == TRANSACTION_CHARTS | {"fraud-reported", "alert-backlog"}


@pytest.mark.parametrize("period", ["24h", "7d", "30d"])
def test_the_page_runs_a_bounded_number_of_queries(superuser, period, django_assert_max_num_queries):
    world.decisions()
    world.alerts()
    client = client_for(superuser)
    client.get(world.PAGE, {"period": period})  # counts the period's whole days into the rollup

    # The session and the user, the transactions' figures (over hours, 1 for the decisions;
    # over days, their rollup's check and rows and the 2 partial days live) and 1 for the
    # fraud reported, 1 for the alerts, the rule performance tallies (the rollup's checks,
    # its rows, the partial days live), the rules' names, the live version and its model:
    # 13 over 24 hours, 21 over 7 or 30 days, however many transactions there are.
    with django_assert_max_num_queries(21 if period != "24h" else 13):
        assert client.get(world.PAGE, {"period": period}).status_code == 200


def test_the_page_shows_no_card_number(superuser):
    world.alerts()
    world.decisions()

    html = dashboard(superuser, "30d").content.decode()

    assert not re.search(r"\d{13,}", html)
