"""The dashboard's daily rollup of decisions (transactions/dashboard.py, DecisionDay): over
7 and 30 days its figures are exactly those of counting every row, whole days are read
from the rollup and counted again when a transaction is stored on them later, and the
partial days at the period's edges (today among them) are never stored."""

import datetime
import random
from collections import Counter

import pytest

from cardsystem.daily_rollup import DAY, day_start
from cardsystem.dashboard import period_from
from tests import dashboard_world as world
from transactions.dashboard import SCORE_BUCKETS, outcome, period_figures
from transactions.models import DecisionDay, Transaction

pytestmark = pytest.mark.django_db
NOW = world.NOW + datetime.timedelta(hours=3, minutes=17)  # mid-day, so both edges are partial


def spread(count: int, *, days: int, seed: int = 7) -> None:
    """`count` decisions of every kind at random times over the `days` days before NOW."""
    rng = random.Random(seed)
    kinds = sorted(world.OUTCOMES)
    for _ in range(count):
        ago = datetime.timedelta(seconds=rng.randrange(int(days * DAY.total_seconds())))
        world.decision(rng.choice(kinds), ago=ago, score=rng.randrange(101), now=NOW)


def counted_in_python(period) -> tuple[dict, Counter, list]:
    """The period's figures, from every row, day by day (UTC)."""
    outcomes, codes, scores = {}, Counter(), [0] * len(SCORE_BUCKETS)
    rows = Transaction.objects.filter(transaction_time__gte=period.since, transaction_time__lt=period.until)
    for txn in rows:
        at = day_start(txn.transaction_time.astimezone(datetime.UTC).date())
        outcomes.setdefault(outcome(txn.status, txn.flagged), Counter())[at] += 1
        codes[txn.response_code] += 1
        if txn.risk_score is not None:
            scores[min(txn.risk_score // 10, len(SCORE_BUCKETS) - 1)] += 1
    return outcomes, codes, scores


def assert_exact(period) -> None:
    figures = period_figures(period, now=NOW)
    outcomes, codes, scores = counted_in_python(period)
    assert {name: +by_day for name, by_day in figures.outcomes.items() if +by_day} == outcomes
    assert +figures.codes == codes
    assert figures.scores == scores


@pytest.mark.parametrize("key, days", [("7d", 7), ("30d", 30)])
def test_figures_over_days_are_those_of_every_row_and_whole_days_are_stored(key, days):
    spread(300, days=days + 2)
    period, _ = period_from(key, now=NOW)

    assert_exact(period)  # counting the whole days into the rollup
    assert_exact(period)  # reading them from it

    stored = sorted(DecisionDay.objects.values_list("day", flat=True))
    first_whole = period.since.date() + DAY
    assert stored == [first_whole + DAY * n for n in range(days - 1)]  # not the two partial days
    assert NOW.date() not in stored


def test_whole_days_are_read_from_the_rollup_not_counted_again():
    spread(60, days=8)
    period, _ = period_from("7d", now=NOW)
    period_figures(period, now=NOW)
    day = (NOW - 3 * DAY).date()
    row = DecisionDay.objects.get(day=day)
    row.figures["codes"] = {**row.figures["codes"], "XX": 5}  # what only the stored row says
    row.save()

    assert period_figures(period, now=NOW).codes["XX"] == 5


def test_a_transaction_stored_later_on_a_counted_day_is_counted():
    spread(60, days=8)
    period, _ = period_from("7d", now=NOW)
    before = period_figures(period, now=NOW)
    day = (NOW - 3 * DAY).date()
    counted = DecisionDay.objects.get(day=day).transactions

    late = world.decision("risk_decline", ago=3 * DAY, score=95, now=NOW)  # a past time, stored now

    after = period_figures(period, now=NOW)
    assert after.codes["59"] == before.codes["59"] + 1
    assert after.outcomes["declined"][day_start(day)] == before.outcomes["declined"][day_start(day)] + 1
    assert after.scores[9] == before.scores[9] + 1
    assert DecisionDay.objects.get(day=day).transactions == counted + 1
    assert late.transaction_time.date() == day
    assert_exact(period)


def test_over_24_hours_nothing_is_stored():
    spread(40, days=2)
    period, _ = period_from("24h", now=NOW)

    figures = period_figures(period, now=NOW)

    rows = Transaction.objects.filter(transaction_time__gte=period.since, transaction_time__lt=period.until)
    assert sum(figures.codes.values()) == rows.count()
    assert not DecisionDay.objects.exists()
