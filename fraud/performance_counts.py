"""Counting the performance figures of fraud/performance.py: live over any stretch of
time, and once per complete UTC day into a daily rollup that a period's figures read
instead of its rows, so that a page over 30 days of a million decisions costs the two
partial days at its edges, not the month (bench/rule_performance.py).

A day's counts are exact by the fraud reports known now because they are counted again
whenever they could have changed:
- a fraud report on one of the day's decisions marks the day (PerformanceMark) in the
  report's own database transaction (fraud/receivers.py), never an authorization, and so
  does an analyst's confirmed fraud on a declined one (fraud/services.py: alert_decide);
- a transaction stored after the day was counted with a time on that day (the API takes
  past times) changes how many transactions the day holds: a period's complete days are
  checked with one COUNT over the transaction_time index (index only) against the counts
  kept when each day was counted;
- a day never counted, marked or changed is counted again, by `manage.py
  refresh_performance` (meant to run every few minutes) or by the page itself, at most
  `budget` days per view; the days left over are counted live for that view, exactly.
Only days that ended are counted into the rollup; today and the partial first day of a
period are always counted live.
"""

import datetime
from collections import Counter
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, Sum
from django.utils import timezone

from cardsystem.daily_rollup import DAY, UTC, changed_days, complete_days, day_start
from fraud.models import ROLLUP_COUNTS, FraudAlert, PerformanceCount, PerformanceDay, PerformanceMark
from transactions.codes import Decision
from transactions.models import Transaction

SUSPECTED_FRAUD = Decision.SUSPECTED_FRAUD.code
VERIFICATION_REQUIRED = Decision.VERIFICATION_REQUIRED.code
# A decision is fraud by the labels known now: a fraud report (a cardholder's dispute, or an
# analyst's confirmed fraud on an approval, which files one), or an analyst's confirmed
# fraud on a decline, which has no report to file (no money was taken). Without the latter,
# every decline the engine got right would count as a false decline.
FRAUD = Q(fraud_report__isnull=False) | Q(fraud_alert__status=FraudAlert.Status.CONFIRMED_FRAUD)
PAGE_BUDGET_DAYS = 31  # the most days one view of the page counts into the rollup


def decisions(*, since: datetime.datetime, until: datetime.datetime, version: int | None = None):
    """The decisions on known cards with transaction_time in [since, until), of one
    configuration version if given."""
    rows = Transaction.objects.filter(
        transaction_time__gte=since, transaction_time__lt=until, risk_score__isnull=False
    )
    return rows if version is None else rows.filter(risk_config_version=version)


# The figures are counted in one GROUP BY of the period's decisions on a few short columns
# (the version, the rule summary and the outcome) with one COUNT: one pass over the rows by
# the transaction_time index, the groups (at most one per version, combination of rules and
# outcome) summed up here. A conditional COUNT per rule and figure instead cost a LIKE each
# per row: ten times as long on SQLite (bench/README.md). Complete days are counted once
# into the daily rollup below and read from there: the same tallies.
OUTCOME = ("status", "response_code", "risk_level", "flagged", "is_fraud")
APPROVED_STATUSES = {Transaction.Status.APPROVED, Transaction.Status.REVERSED}

# Tallies: per (configuration version, rule code) the counts of ROLLUP_COUNTS, rule "" being
# the version's decisions, version None those decided before versioning, and the amounts
# of its fraud, ("fraud_minor", currency), and of the fraud caught, ("fraud_caught_minor",
# currency), in minor units.
Tallies = dict[tuple[int | None, str], Counter]


def _grouped(rows):
    return (
        rows.annotate(is_fraud=ExpressionWrapper(FRAUD, output_field=BooleanField()))
        .order_by()
        .values("risk_config_version", "risk_rules", "currency", *OUTCOME)
        .annotate(n=Count("pk"), amount=Sum("amount_minor"))
    )


def _counts(group: dict) -> dict[str, int]:
    """What a group of decisions adds to each of VersionFigures' counts."""
    n, fraud, flagged = group["n"], bool(group["is_fraud"]), bool(group["flagged"])
    approved = group["status"] in APPROVED_STATUSES
    risk_decline = group["response_code"] == SUSPECTED_FRAUD
    review = group["risk_level"] == Transaction.RiskLevel.MEDIUM
    high = group["risk_level"] == Transaction.RiskLevel.HIGH
    return {
        "decisions": n,
        "approvals": n * approved,
        "reviews": n * review,
        "declines": n * (not approved),
        "risk_declines": n * risk_decline,
        "step_ups": n * (group["response_code"] == VERIFICATION_REQUIRED),
        "fraud": n * fraud,
        "fraud_caught": n * (fraud and (flagged or not approved)),
        "false_declines": n * (risk_decline and not fraud),
        "high": n * high,
        "high_fraud": n * (high and fraud),
        "flagged_level": n * (high or review),
        "flagged_level_fraud": n * ((high or review) and fraud),
    }


def live_tallies(rows, into: Tallies | None = None) -> Tallies:
    """The tallies of some decisions (a queryset of `decisions`), counted now: one query."""
    totals: Tallies = into if into is not None else {}
    for group in _grouped(rows):
        counts, version = _counts(group), group["risk_config_version"]
        if counts["fraud"]:
            counts[("fraud_minor", group["currency"])] = group["amount"]
        if counts["fraud_caught"]:
            counts[("fraud_caught_minor", group["currency"])] = group["amount"]
        totals.setdefault((version, ""), Counter()).update(counts)
        for token in filter(None, group["risk_rules"].strip(",").split(",")):
            tally = totals.setdefault((version, token.removesuffix("!")), Counter())
            tally.update(counts)
            tally["decisive"] += counts["decisions"] * token.endswith("!")
    return totals


# --- The daily rollup ---------------------------------------------------------------------------


def _values(tally: Counter) -> dict[str, list[int]]:
    """A tally's amounts as stored: {currency: [fraud, fraud caught]} in minor units."""
    currencies = sorted({key[1] for key in tally if isinstance(key, tuple)})
    return {c: [tally[("fraud_minor", c)], tally[("fraud_caught_minor", c)]] for c in currencies}


def day_count(day: datetime.date) -> bool:
    """Count one complete day's decisions into the rollup, replacing its counts. False
    when a concurrent count of the same day stood first (its counts stand; the marks it
    did not see survive it). Reads outside the write transaction, so that the writers'
    lock (SQLite) is held only for the few rows written."""
    start = day_start(day)
    generation = PerformanceDay.objects.filter(day=day).values_list("generation", flat=True).first()
    marks = list(PerformanceMark.objects.filter(day=day).values_list("pk", flat=True))
    # The day's transactions before its decisions: one stored in between is then in the
    # counts but not in `transactions`, and the day is counted again (never the reverse).
    stored = Transaction.objects.filter(transaction_time__gte=start, transaction_time__lt=start + DAY).count()
    counts = [
        PerformanceCount(
            day=day,
            config_version=version or 0,
            rule=code,
            fraud_value=_values(tally),
            **{f: tally[f] for f in ROLLUP_COUNTS},
        )
        for (version, code), tally in live_tallies(decisions(since=start, until=start + DAY)).items()
    ]
    now = timezone.now()
    try:
        with transaction.atomic():
            if generation is None:
                PerformanceDay.objects.create(day=day, transactions=stored, computed_at=now)
            elif not PerformanceDay.objects.filter(day=day, generation=generation).update(
                generation=generation + 1, transactions=stored, computed_at=now
            ):
                return False
            PerformanceCount.objects.filter(day=day).delete()
            PerformanceCount.objects.bulk_create(counts)
            PerformanceMark.objects.filter(pk__in=marks).delete()
    except IntegrityError:  # the day's first count, made twice at once: the other stood
        return False
    return True


def day_marked(decision: Transaction) -> None:
    """Mark the day of a decision whose figures changed (its fraud report), so that its
    counts are taken again: in the caller's database transaction."""
    if decision.risk_score is not None:
        PerformanceMark.objects.create(day=decision.transaction_time.astimezone(UTC).date())


def stale_days(days: list[datetime.date]) -> set[datetime.date]:
    """Of these complete days, those to count (again): marked, never counted, or holding
    another number of transactions than when counted (cardsystem/daily_rollup.py)."""
    if not days:
        return set()
    in_days = {"day__gte": days[0], "day__lte": days[-1]}
    known = dict(PerformanceDay.objects.filter(**in_days).values_list("day", "transactions"))
    marked = set(PerformanceMark.objects.filter(**in_days).values_list("day", flat=True).distinct())
    unmarked = [day for day in days if day not in marked]
    return marked | changed_days(unmarked, known, Transaction.objects.all(), "transaction_time")


def refresh_recent(*, days: int, now: datetime.datetime | None = None) -> tuple[list, list, list]:
    """Count the stale ones of the last `days` complete days (newest first), and any older
    marked day. Returns the days checked, the days counted and the stale days left (to a
    concurrent count)."""
    now = now or timezone.now()
    today = day_start(now.astimezone(UTC).date())
    checked = complete_days(today - DAY * days, today, now)
    marked_before = PerformanceMark.objects.filter(day__lt=today.date() - DAY * days)
    stale = stale_days(checked) | set(marked_before.values_list("day", flat=True).distinct())
    counted = [day for day in sorted(stale, reverse=True) if day_count(day)]
    return checked, counted, sorted(stale - set(counted))


@dataclass
class PeriodTallies:
    tallies: Tallies
    rolled_up: int = 0  # complete days read from the rollup
    counted: list[datetime.date] = field(default_factory=list)  # of which counted into it now
    live: list[tuple[datetime.datetime, datetime.datetime]] = field(default_factory=list)


def _rolled_up(days: list[datetime.date], skipped: set, version: int | None, into: Tallies) -> None:
    rows = PerformanceCount.objects.filter(day__gte=days[0], day__lte=days[-1])
    if skipped:
        rows = rows.exclude(day__in=skipped)
    if version is not None:
        rows = rows.filter(config_version=version)
    # Summed here, a few hundred rows a day: the amounts are per currency, in JSON.
    for version, code, values, *counts in rows.order_by().values_list(
        "config_version", "rule", "fraud_value", *ROLLUP_COUNTS
    ):
        tally = into.setdefault((version or None, code), Counter())
        tally.update(dict(zip(ROLLUP_COUNTS, counts, strict=True)))
        for currency, (fraud, caught) in values.items():
            tally.update({("fraud_minor", currency): fraud, ("fraud_caught_minor", currency): caught})


def period_tallies(
    *,
    since: datetime.datetime,
    until: datetime.datetime,
    version: int | None = None,
    budget: int = PAGE_BUDGET_DAYS,
    now: datetime.datetime | None = None,
) -> PeriodTallies:
    """The tallies of [since, until): its complete days from the rollup (first counting
    into it at most `budget` of them that are stale), the rest counted live."""
    days = complete_days(since, until, now or timezone.now())
    stale = stale_days(days)
    chosen = sorted(stale, reverse=True)[:budget]
    counted = [day for day in chosen if day_count(day)]
    left = stale - set(counted)
    result = PeriodTallies(tallies={}, rolled_up=len(days) - len(left), counted=counted)
    if result.rolled_up:
        _rolled_up(days, left, version, result.tallies)
    # The rest, live: the period's partial edges and the days left, in ranges.
    cursor = since
    for day in sorted(set(days) - left):
        if cursor < day_start(day):
            result.live.append((cursor, day_start(day)))
        cursor = day_start(day) + DAY
    if cursor < until:
        result.live.append((cursor, until))
    for start, end in result.live:
        live_tallies(decisions(since=start, until=end, version=version), into=result.tallies)
    return result
