"""The dashboard's fraud panels (cardsystem/dashboard.py): the alert backlog by age, the
rules that fired most, and the live model's precision and recall by the labels known now
(fraud reports, and analysts' confirmed fraud on declines). The rules and the model read
the same performance tallies as the rule performance page (fraud/performance_counts.py:
the daily rollup for the period's whole days, the rest counted live), computed once per
page. Registered by FraudConfig.ready()."""

import datetime

from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone

from cardsystem import charts
from cardsystem.dashboard import Chart, Panel, PanelContent, Period, Tile, changelist, register
from fraud import performance, performance_counts
from fraud.configuration import live_config
from fraud.models import FraudAlert

HOUR = datetime.timedelta(hours=1)
# Age buckets of the open alerts: (label, the youngest age in it), oldest last.
AGES = [("<1h", None), ("1-4h", HOUR), ("4-24h", 4 * HOUR), ("1-3d", 24 * HOUR), (">3d", 72 * HOUR)]
UNRESOLVED = [FraudAlert.Status.OPEN, FraudAlert.Status.INVESTIGATING]
TOP_RULES = 10


def age_text(age: datetime.timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return (
        f"{hours // 24} d {hours % 24} h"
        if hours >= 24
        else f"{hours} h {int(age.total_seconds() // 60) % 60} min"
    )


def backlog(now: datetime.datetime) -> tuple[list[int], datetime.datetime | None]:
    """The unresolved alerts in each age bucket, and when the oldest was opened: one query
    (the status index)."""
    # An alert is in the bucket of the youngest bound it is older than or equal to.
    bounds = [(label, now - age if age else None) for label, age in AGES]
    aggregates = {}
    for i, (label, opened_before) in enumerate(bounds):
        older_bound = bounds[i + 1][1] if i + 1 < len(bounds) else None
        window = Q()
        if opened_before is not None:
            window &= Q(created_at__lte=opened_before)
        if older_bound is not None:
            window &= Q(created_at__gt=older_bound)
        aggregates[label] = Count("pk", filter=window)
    row = FraudAlert.objects.filter(status__in=UNRESOLVED).aggregate(oldest=Min("created_at"), **aggregates)
    return [row[label] for label, _ in AGES], row["oldest"]


def alerts_panel(period: Period) -> PanelContent:
    now = timezone.now()
    counts, oldest = backlog(now)
    link = changelist("fraud.fraudalert", status__in=",".join(UNRESOLVED))
    oldest_text = f"oldest opened {age_text(now - oldest)} ago" if oldest else "none open"
    return PanelContent(
        tiles=[Tile("Open alerts", f"{sum(counts):,}", link, note=oldest_text)],
        charts=[
            Chart(
                "alert-backlog",
                "Open alerts now, by age",
                charts.bar(
                    [label for label, _ in AGES],
                    [charts.dataset("Open or investigating", counts, "review")],
                    legend=False,
                ),
                link=link,
                note=f"{sum(counts):,} open or investigating, {oldest_text}.",
            )
        ],
    )


def performance_page(period: Period) -> str:
    return f"{reverse('admin:fraud_rule_performance')}?period={period.key}"


def tallies(period: Period) -> performance_counts.Tallies:
    """The period's performance tallies, once per page for both panels."""

    def count():
        return performance_counts.period_tallies(since=period.since, until=period.until).tallies

    return period.shared_value("fraud.performance_tallies", count)


def rules_panel(period: Period) -> PanelContent:
    fired = sorted(
        (r for r in performance.rules_from(tallies(period)) if r.fired), key=lambda r: (-r.fired, r.code)
    )[:TOP_RULES]
    if not fired:
        return PanelContent(notes=["No rule added points to a decision in this period."])
    return PanelContent(
        charts=[
            Chart(
                "top-rules",
                "Rules that fired most",
                charts.bar(
                    [r.name for r in fired],
                    [
                        charts.dataset("Fired", [r.fired for r in fired], "neutral"),
                        charts.dataset("Fraud among them", [r.fraud_caught for r in fired], "declined"),
                    ],
                    horizontal=True,
                ),
                link=performance_page(period),
                note="Decisions the rule added points to, and how many of them are reported fraud.",
            )
        ]
    )


def model_panel(period: Period) -> PanelContent:
    config = live_config(ttl_seconds=0)
    choice, rule = config.model, config.rules.get("model")
    if choice is None or rule is None or not rule.enabled:
        return PanelContent(notes=["No model is active: the rules alone decide."])
    figures = next(
        (
            m
            for m in performance.model_performance(performance.versions_from(tallies(period)))
            if m.model_version == choice.version
        ),
        None,
    )
    title = f"Model v{choice.version}: precision and recall, %"
    if figures is None:
        return PanelContent(notes=[f"{title}: no decision by it in this period."])
    values = [
        figures.decline_precision,
        figures.decline_recall,
        figures.review_precision,
        figures.review_recall,
    ]
    return PanelContent(
        charts=[
            Chart(
                "model-quality",
                title,
                charts.bar(
                    ["Precision at decline", "Recall at decline", "Precision at review", "Recall at review"],
                    [
                        charts.dataset(
                            "%", [None if v is None else round(100 * v, 1) for v in values], "neutral"
                        )
                    ],
                    legend=False,
                ),
                link=performance_page(period),
                note=f"{figures.decisions:,} decisions, {figures.fraud:,} confirmed as fraud so far: "
                "the figures move as fraud reports and analysts' verdicts arrive.",
            )
        ]
    )


def register_panels() -> None:
    register(Panel("alerts", "fraud.view_fraudalert", alerts_panel, order=30))
    register(Panel("rules", "fraud.view_rule", rules_panel, order=40))
    register(Panel("model", "fraud.view_fraudmodel", model_panel, order=50))
