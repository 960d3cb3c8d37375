"""The dashboard's transaction panels (cardsystem/dashboard.py): decisions by outcome and
by response code, the approval rate, the risk score distribution, and the fraud reported
by transaction date. The decisions' figures are one GROUP BY over the period's rows, read
from the (transaction_time, status, flagged, response_code, risk_score) index alone, for
24 hours; over 7 and 30 days, whole days come from a daily rollup (DecisionDay, kept as
the rule performance's is: cardsystem/daily_rollup.py) and only the two partial days at
the edges are read live, so that a month costs two days' rows, not a month's
(bench/dashboard.py). The fraud reported is another GROUP BY. Registered by TransactionsConfig.ready()."""

import datetime
from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, ExpressionWrapper, F, IntegerField, Sum
from django.utils import timezone

from cardsystem import charts, money
from cardsystem.daily_rollup import DAY, changed_days, complete_days, day_start
from cardsystem.dashboard import Chart, Panel, PanelContent, Period, Tile, changelist, register
from transactions.codes import RESPONSE_CODE_CHOICES
from transactions.models import DecisionDay, FraudReport, Transaction

OUTCOMES = {"approved": "Approved", "review": "Approved, flagged for review", "declined": "Declined"}
SCORE_BUCKETS = [f"{low}-{low + 9}" for low in range(0, 90, 10)] + ["90-100"]
CODE_NAMES = dict(RESPONSE_CODE_CHOICES)


def in_period(period: Period):
    return Transaction.objects.filter(transaction_time__gte=period.since, transaction_time__lt=period.until)


def outcome(status: str, flagged: bool) -> str:
    """Declined whatever the flag; an approval (reversed later or not) flagged for review."""
    if status == Transaction.Status.DECLINED:
        return "declined"
    return "review" if flagged else "approved"


@dataclass
class Figures:
    outcomes: dict[str, Counter]  # {outcome: {bucket start: count}}
    codes: Counter  # {response code: count}
    scores: list[int]  # decisions on known cards per SCORE_BUCKETS

    @classmethod
    def empty(cls) -> "Figures":
        return cls({name: Counter() for name in OUTCOMES}, Counter(), [0] * len(SCORE_BUCKETS))

    def add(self, at: datetime.datetime, status: str, flagged: bool, code: str, decile: int | None, n: int):
        self.outcomes[outcome(status, flagged)][at] += n
        self.codes[code] += n
        if decile is not None:  # an unknown card's decision has no score
            self.scores[min(decile, len(SCORE_BUCKETS) - 1)] += n


def period_figures(period: Period, now: datetime.datetime | None = None) -> Figures:
    """The period's transactions counted by bucket, outcome, response code and risk score
    decile. Over days (7 and 30 days), each complete day is read from the daily rollup
    (counted into it first if it is new or changed) and only the partial days at the
    period's edges are counted live; over hours, the whole period is counted live."""
    figures = Figures.empty()
    days = complete_days(period.since, period.until, now or timezone.now()) if period.bucket == "day" else []
    if not days:
        count_rows(figures, period.since, period.until, period.trunc("transaction_time"))
        return figures
    edges = [(period.since, day_start(days[0])), (day_start(days[-1]) + DAY, period.until)]
    for since, until in edges:
        if since < until:
            count_rows(figures, since, until, period.trunc("transaction_time"))
    for day, counted in decision_days(days).items():
        at = day_start(day)
        for name, n in counted["outcomes"].items():
            figures.outcomes[name][at] += n
        figures.codes.update(counted["codes"])
        figures.scores = [a + b for a, b in zip(figures.scores, counted["scores"], strict=True)]
    return figures


def count_rows(figures: Figures, since: datetime.datetime, until: datetime.datetime, bucket) -> None:
    """Count [since, until)'s transactions into `figures`, by `bucket`: an expression of
    the transaction's time, or the one bucket's start. One GROUP BY for the three charts,
    one pass over the covering index (three queries took twice as long: bench/dashboard.py)."""
    decile = ExpressionWrapper(F("risk_score") / 10, output_field=IntegerField())
    rows = Transaction.objects.filter(transaction_time__gte=since, transaction_time__lt=until).annotate(
        decile=decile
    )
    grouped = ("status", "flagged", "response_code", "decile")
    if isinstance(bucket, datetime.datetime):
        for row in rows.order_by().values_list(*grouped).annotate(n=Count("pk")):
            figures.add(bucket, *row)
    else:
        for row in rows.annotate(at=bucket).order_by().values_list("at", *grouped).annotate(n=Count("pk")):
            figures.add(*row)


def decision_days(days: list[datetime.date]) -> dict[datetime.date, dict]:
    """The rollup's figures of these complete days, those new or changed counted first."""
    stored = {row.day: row for row in DecisionDay.objects.filter(day__gte=days[0], day__lte=days[-1])}
    counted = {day: row.transactions for day, row in stored.items()}
    for day in sorted(changed_days(days, counted, Transaction.objects.all(), "transaction_time")):
        stored[day] = decision_day_count(day)
    return {day: stored[day].figures for day in days}


def decision_day_count(day: datetime.date) -> DecisionDay:
    """Count one complete day into the rollup, replacing what it held. The number of
    transactions kept is the sum of the groups counted, so a transaction stored meanwhile
    makes the day differ at the next look, never the reverse."""
    start = day_start(day)
    figures = Figures.empty()
    count_rows(figures, start, start + DAY, start)
    row, _ = DecisionDay.objects.update_or_create(
        day=day,
        defaults={
            "transactions": sum(figures.codes.values()),
            "figures": {
                "outcomes": {name: by_day[start] for name, by_day in figures.outcomes.items()},
                "codes": dict(figures.codes),
                "scores": figures.scores,
            },
            "computed_at": timezone.now(),
        },
    )
    return row


def approval_rate(approved: int, total: int) -> float | None:
    return round(100 * approved / total, 1) if total else None


def decisions_panel(period: Period) -> PanelContent:
    figures = period_figures(period)
    counts = figures.outcomes
    totals = {name: sum(by_bucket.values()) for name, by_bucket in counts.items()}
    decisions = sum(totals.values())
    rate = approval_rate(totals["approved"] + totals["review"], decisions)
    listed = {"transaction_time__gte": period.since, "transaction_time__lt": period.until}
    per_bucket = [
        approval_rate(a + r, a + r + d)
        for a, r, d in zip(*(period.series(counts[name]) for name in OUTCOMES), strict=True)
    ]
    return PanelContent(
        tiles=[
            Tile("Decisions", f"{decisions:,}", changelist("transactions.transaction", **listed)),
            Tile("Approval rate", "—" if rate is None else f"{rate}%", note="approved, reviews included"),
            Tile(
                "Declines",
                f"{totals['declined']:,}",
                changelist("transactions.transaction", status__exact="declined", **listed),
            ),
        ],
        charts=[
            Chart(
                "decisions",
                f"Decisions per {period.bucket} by outcome",
                charts.bar(
                    period.labels(),
                    [
                        charts.dataset(label, period.series(counts[name]), name)
                        for name, label in OUTCOMES.items()
                    ],
                    stacked=True,
                ),
                link=changelist("transactions.transaction", **listed),
                wide=True,
            ),
            Chart(
                "approval-rate",
                f"Approval rate per {period.bucket}, %",
                charts.line(
                    period.labels(),
                    [charts.dataset("Approval rate %", per_bucket, "approved")],
                    y_min=0,
                    y_max=100,
                ),
                link=changelist("transactions.transaction", status__exact="approved", **listed),
                note=f"{'—' if rate is None else f'{rate}%'} over the period",
            ),
            response_codes_chart(figures.codes, listed),
            risk_scores_chart(figures.scores, listed),
        ],
    )


def response_codes_chart(codes: Counter, listed: dict) -> Chart:
    """Decisions by response code, most frequent first."""
    ordered = sorted(codes.items(), key=lambda item: (-item[1], item[0]))
    return Chart(
        "response-codes",
        "Decisions by response code",
        charts.bar(
            [CODE_NAMES.get(code, code) for code, _ in ordered],
            [charts.dataset("Decisions", [n for _, n in ordered], "neutral")],
            horizontal=True,
            legend=False,
        ),
        link=changelist("transactions.transaction", **listed),
    )


def risk_scores_chart(scores: list[int], listed: dict) -> Chart:
    """Decisions on known cards (those with a risk score) in 10-point buckets."""
    return Chart(
        "risk-scores",
        "Risk score distribution",
        charts.bar(SCORE_BUCKETS, [charts.dataset("Decisions", scores, "neutral")], legend=False),
        link=changelist("transactions.transaction", risk_score__isnull="False", **listed),
    )


def fraud_reports_panel(period: Period) -> PanelContent:
    """Fraud reported on the period's transactions, by transaction date, per currency: one
    query, read by the reports' transaction_time index (the reports are few)."""
    rows = (
        FraudReport.objects.filter(transaction_time__gte=period.since, transaction_time__lt=period.until)
        .annotate(at=period.trunc("transaction_time"))
        .order_by()
        .values_list("at", "transaction__currency")
        .annotate(n=Count("pk"), value=Sum("transaction__amount_minor"))
    )
    counts, values = Counter(), {}
    for at, currency, n, value in rows:
        counts[at] += n
        values.setdefault(currency, Counter())[at] += value
    totals = {currency: sum(by_bucket.values()) for currency, by_bucket in sorted(values.items())}
    value_text = ", ".join(money.format_amount(amount, currency) for currency, amount in totals.items())
    datasets = [charts.dataset("Reports", period.series(counts), "declined", yAxisID="y")]
    for index, (currency, by_bucket) in enumerate(sorted(values.items())):
        major = [float(money.to_major(amount, currency)) for amount in period.series(by_bucket)]
        datasets.append(
            charts.dataset(f"Value, {currency}", major, charts.colour(index), type="line", yAxisID="value")
        )
    config = charts.bar(period.labels(), datasets, y_title="reports")
    if values:  # the amounts' own axis, on the right
        config["options"]["scales"]["value"] = {
            "position": "right",
            "beginAtZero": True,
            "grid": {"drawOnChartArea": False},
        }
    link = changelist(
        "transactions.fraudreport", transaction_time__gte=period.since, transaction_time__lt=period.until
    )
    return PanelContent(
        # The count as the figure, the value per currency beneath it: several currencies'
        # amounts as the figure would not fit a tile.
        tiles=[Tile("Fraud reported", f"{sum(counts.values()):,}", link, note=value_text or "no reports")],
        charts=[
            Chart(
                "fraud-reported",
                f"Fraud reported, by transaction {period.bucket}",
                config,
                link=link,
                note="Count (bars) and value per currency (lines) of the transactions reported as fraud.",
            )
        ],
    )


def register_panels() -> None:
    register(Panel("transactions", "transactions.view_transaction", decisions_panel, order=10))
    register(Panel("fraud-reports", "transactions.view_fraudreport", fraud_reports_panel, order=20))
