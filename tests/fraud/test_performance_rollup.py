"""The daily rollup of the performance figures (fraud/performance_counts.py): a period's
complete days read from it give exactly what counting the period's rows gives, a fraud
report or a transaction stored later on a counted day is counted again, the period's
partial edges and the days over the budget are counted live, two counts of one day at
once leave one set of rows, and `manage.py refresh_performance` counts what is stale."""

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from cardsystem.audit import AuditAction
from cardsystem.models import AuditLog
from fraud import performance, performance_counts
from fraud.models import FraudAlert, PerformanceCount, PerformanceDay, PerformanceMark
from fraud.performance_counts import complete_days, day_count, decisions, live_tallies, period_tallies
from fraud.services import alert_decide
from tests.concurrency import run_concurrently
from tests.factories import TEST_ACTOR, CardFactory
from tests.fraud.clock import DAY, HOUR, MINUTE, NOW, TICK
from tests.fraud.test_performance import decision, world  # noqa: F401 (a fixture)
from transactions.models import FraudReport, Transaction
from transactions.services import fraud_report_create

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
TODAY = datetime.datetime(2026, 6, 15, tzinfo=UTC)  # NOW is 12:00 on it
PAGE = reverse("admin:fraud_rule_performance")


@pytest.fixture
def days(world):  # noqa: F811 (the fixture imported above)
    """Besides `world` (today, an hour before NOW): decisions on the three days before
    today, at their first and last instants, fraud among them, on both versions."""
    made = {}
    for back in (1, 2, 3):
        start = TODAY - DAY * back
        made[back] = [
            decision(",amount_large!,", "risk_decline", at=start, fraud=back == 2),
            decision(",foreign_country,velocity_count,", "approved", version=2, at=start + DAY - TICK),
            decision(",foreign_country!,", "review", at=start + 9 * HOUR, fraud=back == 3),
            decision("", "approved", version=2, at=start + 20 * HOUR),
        ]
    return made


def live(since, until, version=None):
    return live_tallies(decisions(since=since, until=until, version=version))


def figures(tallies):
    versions = performance.versions_from(tallies)
    return performance.rules_from(tallies), versions, performance.model_performance(versions)


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (NOW - 30 * DAY, NOW),
        (TODAY - 3 * DAY, TODAY),  # whole days only
        (TODAY - 3 * DAY + HOUR, TODAY - DAY + HOUR),  # partial first and last days
        (TODAY - 2 * DAY - TICK, TODAY - 2 * DAY + TICK),  # no complete day
    ],
)
@pytest.mark.parametrize("version", [None, 2])
def test_the_rollup_gives_what_counting_the_rows_gives(days, since, until, version):
    counted = period_tallies(since=since, until=until, version=version)

    assert counted.tallies == live(since, until, version)
    assert figures(counted.tallies) == figures(live(since, until, version))
    again = period_tallies(since=since, until=until, version=version)
    assert (again.tallies, again.counted, again.rolled_up) == (counted.tallies, [], counted.rolled_up)


def test_complete_days_are_read_from_the_rollup_and_the_edges_counted_live(days):
    counted = period_tallies(since=TODAY - 3 * DAY + HOUR, until=NOW)

    assert counted.rolled_up == 2 and sorted(counted.counted) == [
        (TODAY - 2 * DAY).date(),
        (TODAY - DAY).date(),
    ]
    assert counted.live == [(TODAY - 3 * DAY + HOUR, TODAY - 2 * DAY), (TODAY, NOW)]
    rows = PerformanceCount.objects.filter(day=(TODAY - DAY).date())
    assert rows.get(config_version=1, rule="").decisions == 2
    assert rows.get(config_version=2, rule="foreign_country").decisions == 1


def test_a_version_before_versioning_is_kept_as_zero_and_read_back_as_none(days):
    decision(",amount_large,", "approved", version=None, at=TODAY - DAY + HOUR)

    counted = period_tallies(since=TODAY - DAY, until=TODAY)

    assert PerformanceCount.objects.filter(config_version=0, rule="amount_large").exists()
    assert counted.tallies[(None, "amount_large")]["decisions"] == 1
    assert performance.versions_from(counted.tallies)[-1].version is None


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (TODAY - 2 * DAY, TODAY, [-2, -1]),
        (TODAY - 2 * DAY + TICK, TODAY, [-1]),
        (TODAY - 2 * DAY, TODAY - TICK, [-2]),
        (TODAY - DAY, NOW + DAY, [-1]),  # today has not ended
        (TODAY - TICK, TODAY + TICK, []),
        (TODAY - 2 * DAY, TODAY - 2 * DAY, []),
    ],
)
def test_complete_days_are_the_whole_utc_days_of_the_period_that_ended(since, until, expected):
    assert complete_days(since, until, NOW) == [(TODAY + DAY * n).date() for n in expected]


def test_a_period_given_in_another_time_zone_has_the_same_utc_days():
    paris = datetime.timezone(datetime.timedelta(hours=2))

    assert complete_days((TODAY - 2 * DAY).astimezone(paris), TODAY.astimezone(paris), NOW) == [
        (TODAY - 2 * DAY).date(),
        (TODAY - DAY).date(),
    ]


def test_a_fraud_report_arriving_later_changes_the_figures(days):
    since, until = TODAY - 3 * DAY, TODAY
    before = {f.code: f for f in performance.rule_performance(since=since, until=until)}

    fraud_report_create(transaction=days[1][1], reason="Cardholder dispute.", actor=TEST_ACTOR)

    assert list(PerformanceMark.objects.values_list("day", flat=True)) == [(TODAY - DAY).date()]
    counted = period_tallies(since=since, until=until)
    after = {f.code: f for f in performance.rules_from(counted.tallies)}
    assert counted.counted == [(TODAY - DAY).date()]
    assert before["foreign_country"].fraud_caught + 1 == after["foreign_country"].fraud_caught
    assert after["foreign_country"].precision == 2 / 6
    assert counted.tallies == live(since, until)
    assert not PerformanceMark.objects.exists()


def confirm_fraud(txn: Transaction) -> None:
    """An analyst's verdict on the decision's alert: confirmed fraud."""
    alert = FraudAlert.objects.create(transaction=txn, card=CardFactory(), risk_score=90, reason="test")
    alert_decide(alert=alert, status=FraudAlert.Status.CONFIRMED_FRAUD, actor=TEST_ACTOR)


def test_an_analysts_confirmed_fraud_on_a_decline_is_fraud_caught_not_a_false_decline(days):
    since, until = TODAY - 3 * DAY, TODAY
    before = {
        v.version: v for v in performance.versions_from(period_tallies(since=since, until=until).tallies)
    }
    declined = days[1][0]  # a risk decline (59) on the day before today, no report: none can be filed

    confirm_fraud(declined)

    assert not FraudReport.objects.filter(transaction=declined).exists()
    assert list(PerformanceMark.objects.values_list("day", flat=True)) == [(TODAY - DAY).date()]
    counted = period_tallies(since=since, until=until)
    after = {v.version: v for v in performance.versions_from(counted.tallies)}
    assert counted.counted == [(TODAY - DAY).date()]
    assert after[1].fraud_caught == before[1].fraud_caught + 1
    assert after[1].false_declines == before[1].false_declines - 1
    assert counted.tallies == live(since, until)


def test_a_false_positive_verdict_on_a_decline_leaves_it_a_false_decline(days):
    since, until = TODAY - 3 * DAY, TODAY
    before = period_tallies(since=since, until=until).tallies
    alert = FraudAlert.objects.create(
        transaction=days[1][0], card=CardFactory(), risk_score=90, reason="test"
    )

    alert_decide(alert=alert, status=FraudAlert.Status.FALSE_POSITIVE, actor=TEST_ACTOR)

    assert not PerformanceMark.objects.exists()
    assert period_tallies(since=since, until=until).tallies == before == live(since, until)


def test_a_report_on_a_transaction_with_no_decision_marks_nothing(days):
    unknown = decision("", "approved", score=None, at=TODAY - DAY + HOUR)

    fraud_report_create(transaction=unknown, reason="Cardholder dispute.", actor=TEST_ACTOR)

    assert not PerformanceMark.objects.exists()


def test_a_report_made_while_its_day_is_counted_is_counted_at_the_next_view(days, monkeypatch):
    day, target = (TODAY - DAY).date(), days[1][2]  # an approval sent for review: reportable
    counting = live_tallies

    def report_meanwhile(rows, into=None):
        fraud_report_create(transaction=target, reason="Cardholder dispute.", actor=TEST_ACTOR)
        monkeypatch.setattr(performance_counts, "live_tallies", counting)
        return counting(rows, into)

    period_tallies(since=TODAY - DAY, until=TODAY)  # counted once
    monkeypatch.setattr(performance_counts, "live_tallies", report_meanwhile)
    # Marked before its count read the rows: this count includes it but kept the mark it
    # had not seen, so the day is counted once more (never the reverse: a report lost).
    assert day_count(day)

    assert list(PerformanceMark.objects.values_list("day", flat=True)) == [day]
    counted = period_tallies(since=TODAY - DAY, until=TODAY)
    assert counted.counted == [day]
    assert counted.tallies[(1, "")]["fraud"] == 1 == live(TODAY - DAY, TODAY)[(1, "")]["fraud"]


def test_a_transaction_stored_later_on_a_counted_day_counts_that_day_again(days):
    since, until = TODAY - 3 * DAY, TODAY
    period_tallies(since=since, until=until)

    decision(",amount_large!,", "risk_decline", at=TODAY - 2 * DAY + 5 * MINUTE, fraud=True)

    counted = period_tallies(since=since, until=until)
    assert counted.counted == [(TODAY - 2 * DAY).date()]
    assert counted.tallies == live(since, until)


def test_days_over_the_budget_are_counted_live_and_the_figures_stay_exact(days):
    since, until = TODAY - 3 * DAY, TODAY

    counted = period_tallies(since=since, until=until, budget=1)

    assert counted.counted == [(TODAY - DAY).date()]
    assert counted.live == [(TODAY - 3 * DAY, TODAY - DAY)]
    assert counted.tallies == live(since, until)


def test_a_count_that_finds_the_day_counted_meanwhile_stands_down(days, monkeypatch):
    day = (TODAY - DAY).date()
    period_tallies(since=TODAY - DAY, until=TODAY)
    counting = live_tallies
    inner = []

    def counted_meanwhile(rows, into=None):
        monkeypatch.setattr(performance_counts, "live_tallies", counting)
        inner.append(day_count(day))
        return counting(rows, into)

    monkeypatch.setattr(performance_counts, "live_tallies", counted_meanwhile)

    assert day_count(day) is False
    assert inner == [True]
    assert PerformanceDay.objects.get(day=day).generation == 2  # counted, then counted again inside
    assert period_tallies(since=TODAY - DAY, until=TODAY).tallies == live(TODAY - DAY, TODAY)


def test_the_command_counts_the_stale_days_and_then_nothing(days):
    def refresh(*args):
        out = StringIO()
        call_command("refresh_performance", *args, stdout=out)
        return out.getvalue().strip()

    assert refresh("--days", "5") == "Counted 5 day(s) into the performance rollup; 5 checked."
    assert refresh("--days", "5") == "Counted 0 day(s) into the performance rollup; 5 checked."
    fraud_report_create(transaction=days[3][1], reason="Cardholder dispute.", actor=TEST_ACTOR)
    assert refresh("--days", "1") == "Counted 1 day(s) into the performance rollup; 1 checked."
    assert period_tallies(since=NOW - 5 * DAY, until=NOW).counted == []
    with pytest.raises(CommandError, match="--days"):
        refresh("--days", "0")


def test_the_page_shows_the_rollups_figures_and_what_it_counted_live(admin_client, days):
    query = {"period": "custom", "since": "2026-06-12 06:00", "until": "2026-06-15 12:00"}

    first = admin_client.get(PAGE, query).content.decode()
    second = admin_client.get(PAGE, query).content.decode()

    assert "daily rollup: 2 (2 counted into it now)" in first
    assert "daily rollup: 2. Counted live: 2026-06-12 06:00 to 2026-06-13 00:00, " in second
    # amount_large: declines on June 13th and 14th (fraud on the 13th), and the world's two
    # of today (a decline and a review, both fraud): the one of June 12th is before 06:00.
    assert (
        "<td>amount_large</td><td>4</td><td>3</td><td>0</td><td>1</td><td>3</td><td>3</td><td>75.0%</td>"
        in second
    )
    tables = [body[body.index('id="rules"') :] for body in (first, second)]
    assert tables[0] == tables[1]


@pytest.mark.django_db(transaction=True)
def test_counts_of_one_day_at_once_on_their_own_connections_leave_one_set_of_rows(days):
    day = (TODAY - DAY).date()

    results = run_concurrently(4, lambda _: day_count(day))

    assert True in results
    assert PerformanceDay.objects.filter(day=day).count() == 1
    assert PerformanceCount.objects.filter(day=day).count() == len(live(TODAY - DAY, TODAY))
    assert period_tallies(since=TODAY - DAY, until=TODAY).tallies == live(TODAY - DAY, TODAY)


def test_a_report_whose_day_cannot_be_marked_is_not_stored(days, monkeypatch):
    def fail(decision):
        raise RuntimeError("the mark failed")

    monkeypatch.setattr(performance_counts, "day_marked", fail)

    with pytest.raises(RuntimeError):
        fraud_report_create(transaction=days[1][1], reason="Cardholder dispute.", actor=TEST_ACTOR)
    assert not FraudReport.objects.filter(transaction=days[1][1]).exists()
    assert not AuditLog.objects.filter(action=AuditAction.FRAUD_REPORTED).exists()


def test_the_fraud_values_are_summed_per_currency_from_the_rollup_as_live(admin_client, days):
    euros = decision(",amount_large,", "approved", at=TODAY - DAY + HOUR, fraud=True)
    Transaction.objects.filter(pk=euros.pk).update(currency="EUR", amount_minor=2500)
    since, until = TODAY - 3 * DAY, TODAY

    counted = period_tallies(since=since, until=until)

    assert counted.rolled_up == 3 and counted.tallies == live(since, until)
    rules = {f.code: f for f in performance.rules_from(counted.tallies)}
    v2, v1 = performance.versions_from(counted.tallies)
    # Fraud: the decline of June 13th and the review of June 12th (10.00 USD each, caught),
    # and the approval in euros (missed).
    assert rules["amount_large"].fraud_value == (("EUR", 2500), ("USD", 1000))
    assert rules["foreign_country"].fraud_value == (("USD", 1000),)
    assert (v1.fraud_value, v1.fraud_caught_value) == ((("EUR", 2500), ("USD", 2000)), (("USD", 2000),))
    assert v1.fraud_missed_value == (("EUR", 2500),)
    assert (v2.fraud_value, v2.fraud_missed_value) == ((), ())
    body = admin_client.get(
        PAGE, {"period": "custom", "since": "2026-06-12 00:00", "until": "2026-06-15 00:00"}
    ).content.decode()
    assert "<td>25.00 EUR, 20.00 USD</td><td>20.00 USD</td><td>25.00 EUR</td>" in body
