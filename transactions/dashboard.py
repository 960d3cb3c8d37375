"""The dashboard's transaction panels (cardsystem/dashboard.py): decisions by outcome and
by response code, the approval rate, the risk score distribution, and the fraud reported
by transaction date. The decisions' figures are one GROUP BY over the period's rows, read
from the (transaction_time, status, flagged, response_code, risk_score) index alone
(bench/dashboard.py); the fraud reported another. Registered by TransactionsConfig.ready()."""

from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, ExpressionWrapper, F, IntegerField, Sum

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


@dataclass
class Figures:
    outcomes: dict[str, Counter]  # {outcome: {bucket start: count}}
    codes: Counter  # {response code: count}
    scores: list[int]  # decisions on known cards per SCORE_BUCKETS


def period_figures(period: Period) -> Figures:
    """The period's transactions counted by bucket, outcome, response code and risk score
    decile: one GROUP BY, one pass over the covering index for the three charts (three
    queries took twice as long on a million rows: bench/dashboard.py)."""
    decile = ExpressionWrapper(F("risk_score") / 10, output_field=IntegerField())
    rows = (
        in_period(period)
        .annotate(at=period.trunc("transaction_time"), decile=decile)
        .order_by()
        .values_list("at", "status", "flagged", "response_code", "decile")
        .annotate(n=Count("pk"))
    )
    figures = Figures({name: Counter() for name in OUTCOMES}, Counter(), [0] * len(SCORE_BUCKETS))
    for at, status, flagged, code, score_decile, n in rows:
        figures.outcomes[outcome(status, flagged)][at] += n
        figures.codes[code] += n
        if score_decile is not None:  # an unknown card's decision has no score
            figures.scores[min(score_decile, len(SCORE_BUCKETS) - 1)] += n
    return figures


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
