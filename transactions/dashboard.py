"""The dashboard's transaction panels (cardsystem/dashboard.py): decisions by outcome and
by response code, the approval rate, the risk score distribution, and the fraud reported
by transaction date. Each figure is one GROUP BY over the period's rows, read by the
(transaction_time, status, flagged, response_code, risk_score) index: on PostgreSQL an
index-only scan (bench/dashboard.py). Registered by TransactionsConfig.ready()."""

from collections import Counter

from django.db.models import Count, Sum

from cardsystem import charts, money
from cardsystem.dashboard import Chart, Panel, PanelContent, Period, Tile, changelist, register
from transactions.codes import RESPONSE_CODE_CHOICES
from transactions.models import FraudReport, Transaction

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


def outcomes_by_bucket(period: Period) -> dict[str, Counter]:
    """{outcome: {bucket start: count}}: one query."""
    rows = (
        in_period(period)
        .annotate(at=period.trunc("transaction_time"))
        .order_by()
        .values_list("at", "status", "flagged")
        .annotate(n=Count("pk"))
    )
    counts = {name: Counter() for name in OUTCOMES}
    for at, status, flagged, n in rows:
        counts[outcome(status, flagged)][at] += n
    return counts


def approval_rate(approved: int, total: int) -> float | None:
    return round(100 * approved / total, 1) if total else None


def decisions_panel(period: Period) -> PanelContent:
    counts = outcomes_by_bucket(period)
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
            response_codes_chart(period, listed),
            risk_scores_chart(period, listed),
        ],
    )


def response_codes_chart(period: Period, listed: dict) -> Chart:
    """Decisions by response code, most frequent first: one query."""
    rows = (
        in_period(period)
        .order_by()
        .values_list("response_code")
        .annotate(n=Count("pk"))
        .order_by("-n", "response_code")
    )
    codes = list(rows)
    return Chart(
        "response-codes",
        "Decisions by response code",
        charts.bar(
            [CODE_NAMES.get(code, code) for code, _ in codes],
            [charts.dataset("Decisions", [n for _, n in codes], "neutral")],
            horizontal=True,
            legend=False,
        ),
        link=changelist("transactions.transaction", **listed),
    )


def risk_scores_chart(period: Period, listed: dict) -> Chart:
    """Decisions on known cards (those with a risk score) in 10-point buckets: one query."""
    rows = (
        in_period(period)
        .filter(risk_score__isnull=False)
        .order_by()
        .values_list("risk_score")
        .annotate(n=Count("pk"))
    )
    buckets = [0] * len(SCORE_BUCKETS)
    for score, n in rows:
        buckets[min(score // 10, len(SCORE_BUCKETS) - 1)] += n
    return Chart(
        "risk-scores",
        "Risk score distribution",
        charts.bar(SCORE_BUCKETS, [charts.dataset("Decisions", buckets, "neutral")], legend=False),
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
    config["options"]["scales"]["value"] = {
        "position": "right",
        "beginAtZero": True,
        "grid": {"drawOnChartArea": False},
    }
    link = changelist(
        "transactions.fraudreport", transaction_time__gte=period.since, transaction_time__lt=period.until
    )
    return PanelContent(
        tiles=[Tile("Fraud reported", value_text or "none", link, note=f"{sum(counts.values()):,} reports")],
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
