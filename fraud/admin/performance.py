"""The back office's rule performance page: for a period (the last 24 hours, 7 or 30
days, or dates chosen) and optionally one configuration version, each rule's, each
version's and each model version's figures (fraud/performance.py), by the fraud reports
known now; the rules' hits and precision are also a chart (fraud/charts.py) above their
table. Read-only; staff who may view the rules may view it."""

import datetime

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone

from cardsystem import money
from fraud import charts, performance, performance_counts
from transactions.admin import readonly_table

PERIODS = {
    "24h": datetime.timedelta(hours=24),
    "7d": datetime.timedelta(days=7),
    "30d": datetime.timedelta(days=30),
}
RULE_HEADERS = [
    "rule",
    "code",
    "fired",
    "declines",
    "step-ups (1A)",
    "reviews",
    "decisive",
    "fraud caught",
    "precision",
    "fraud value",
]
VERSION_HEADERS = [
    "version",
    "decisions",
    "approved",
    "reviews",
    "declines (of which for risk; step-ups)",
    "fraud",
    "fraud caught",
    "fraud missed",
    "false declines",
    "fraud value",
    "value caught",
    "value missed",
]
INTRO = (
    "Decisions with a risk score whose transaction time is in the period; fraud is a fraud report "
    "known now, or an analyst's confirmed fraud on a decline. Fired: the rule added points (a "
    "step-up rule: asked for verification). Declines: declined as suspected fraud (59). Step-ups: "
    "answered 1A, verification required (a soft decline: the cardholder goes on with the PIN). "
    "Reviews: scored in the review band. Decisive: "
    "without the rule's points the risk level would have been lower. Precision: fraud among the "
    "decisions it fired on. Caught: fraud declined or reviewed. Values: the fraud's amounts, per "
    "currency."
)
MODEL_HEADERS = [
    "model version",
    "by configuration versions",
    "decisions",
    "fraud",
    "precision at decline",
    "recall at decline",
    "precision at review",
    "recall at review",
]


class PeriodForm(forms.Form):
    period = forms.ChoiceField(
        choices=[
            ("24h", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("30d", "Last 30 days"),
            ("custom", "Custom"),
        ],
        initial="7d",
    )
    since = forms.DateTimeField(required=False, help_text="Custom period: from (included), UTC.")
    until = forms.DateTimeField(required=False, help_text="Custom period: to (excluded), UTC.")
    version = forms.IntegerField(
        required=False, min_value=1, help_text="Only the decisions of this configuration version."
    )

    def clean(self):
        data = super().clean()
        if data.get("period") == "custom":
            since, until = data.get("since"), data.get("until")
            if since is None or until is None:
                raise forms.ValidationError("A custom period needs both its start and its end.")
            if since >= until:
                self.add_error("until", "The end must come after the start.")
        return data

    def bounds(self, now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
        data = self.cleaned_data
        if data["period"] == "custom":
            return data["since"], data["until"]
        return now - PERIODS[data["period"]], now


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _value(amounts: performance.Amounts) -> str:
    return ", ".join(money.format_amount(amount, currency) for currency, amount in amounts) or "—"


def _count(count: int, figures: performance.VersionFigures) -> str:
    return f"{count} ({_share(figures.rate(count))})"


def rules_table(rows: list[performance.RuleFigures]) -> str:
    return readonly_table(
        RULE_HEADERS,
        [
            (
                r.name,
                r.code,
                r.fired,
                r.declines,
                r.step_ups,
                r.reviews,
                r.decisive,
                r.fraud_caught,
                _share(r.precision),
                _value(r.fraud_value),
            )
            for r in rows
        ],
    )


def versions_table(rows: list[performance.VersionFigures]) -> str:
    return readonly_table(
        VERSION_HEADERS,
        [
            (
                v.version or "before versioning",
                v.decisions,
                _count(v.approvals, v),
                _count(v.reviews, v),
                f"{_count(v.declines, v)} ({v.risk_declines}; {v.step_ups})",
                v.fraud,
                v.fraud_caught,
                v.fraud_missed,
                v.false_declines,
                _value(v.fraud_value),
                _value(v.fraud_caught_value),
                _value(v.fraud_missed_value),
            )
            for v in rows
        ],
        empty="No decision in this period.",
    )


def models_table(rows: list[performance.ModelFigures]) -> str:
    return readonly_table(
        MODEL_HEADERS,
        [
            (
                m.model_version,
                ", ".join(str(n) for n in m.config_versions),
                m.decisions,
                m.fraud,
                _share(m.decline_precision),
                _share(m.decline_recall),
                _share(m.review_precision),
                _share(m.review_recall),
            )
            for m in rows
        ],
        empty="No decision by a configuration with a model in this period.",
    )


def performance_view(request, model_admin: admin.ModelAdmin) -> TemplateResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    form = PeriodForm(request.GET or {"period": "7d"})
    context = {}
    if form.is_valid():
        since, until = form.bounds(timezone.now())
        version = form.cleaned_data["version"]
        counted = performance_counts.period_tallies(since=since, until=until, version=version)
        versions = performance.versions_from(counted.tallies)
        rules = performance.rules_from(counted.tallies)
        context = {
            "period": (since, until),
            "version": version,
            "counted": counted,
            "rules_chart": charts.rule_performance(rules) if rules else None,
            "rules_table": rules_table(rules),
            "versions_table": versions_table(versions),
            "models_table": models_table(performance.model_performance(versions)),
        }
    return TemplateResponse(
        request,
        "admin/fraud/rule/performance.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": "Rule performance",
            "form": form,
            "intro": INTRO,
            **context,
        },
    )
