"""Shadow mode in the back office: a draft's page puts it in shadow or takes it out
(each with a reason, audited by fraud.shadow), and the shadowed version's comparison
page sets its decisions of a chosen period beside the live ones: how many, how many
would change (a live x shadow matrix) and the latest changed ones with both scores and
the factors that differ; the outcomes on each side and the changes by direction are
charts (fraud/charts.py) beside the matrix. The transactions list filters by what a
shadow would do, and a transaction's page shows what the shadow decided beside the live
decision."""

import datetime

from django import forms
from django.contrib import admin
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from cardsystem.admin import add_service_errors, chart_html, form_page, side_by_side
from cardsystem.audit import Actor
from cardsystem.exceptions import ConflictError
from fraud import charts, shadow
from fraud.models import FraudConfigVersion, ShadowDecision
from transactions.admin import TransactionAdmin, factors_table, readonly_table, risk_badge, transaction_link

State = FraudConfigVersion.State
OUTCOMES = [value for value, _ in ShadowDecision.Outcome.choices]
DEFAULT_PERIOD = datetime.timedelta(days=7)
SHOWN = 100  # changed decisions listed on the page (the counts cover the whole period)


class PeriodForm(forms.Form):
    since = forms.DateTimeField(required=False, help_text="From (inclusive). Default: a week ago.")
    until = forms.DateTimeField(required=False, help_text="To (exclusive). Default: now.")

    def clean(self):
        data = super().clean()
        until = data.get("until") or timezone.now()
        since = data.get("since") or until - DEFAULT_PERIOD
        if since >= until:
            raise forms.ValidationError({"until": "Must be after the start."})
        return {"since": since, "until": until}


class ShadowViews:
    """The version admin's shadow pages (mixed into FraudConfigVersionAdmin)."""

    def shadow_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/shadow/start/", view(self.shadow_start_view), name="fraud_shadow_start"),
            path("<path:object_id>/shadow/end/", view(self.shadow_end_view), name="fraud_shadow_end"),
            path("<path:object_id>/shadow/", view(self.shadow_compare_view), name="fraud_shadow_compare"),
        ]

    def shadow_links(self, request, version: FraudConfigVersion) -> dict:
        links = {}
        if self.has_edit_permission(request):
            if version.state == State.DRAFT:
                links["shadow_start_url"] = reverse("admin:fraud_shadow_start", args=[version.pk])
            elif version.state == State.SHADOW:
                links["shadow_end_url"] = reverse("admin:fraud_shadow_end", args=[version.pk])
        if version.state == State.SHADOW or version.shadow_decisions.exists():
            links["shadow_compare_url"] = reverse("admin:fraud_shadow_compare", args=[version.pk])
        return links

    def _shadow_action(self, request, object_id, *, service, title, submit_label, intro, done):
        version = self._version_to_act_on(request, object_id, self.has_edit_permission(request))
        form = self.reason_form(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                service(version=version, actor=Actor.for_request(request), reason=form.cleaned_data["reason"])
            except ConflictError as error:
                add_service_errors(form, error)
            else:
                self.message_user(request, done.format(number=version.number))
                return HttpResponseRedirect(
                    reverse("admin:fraud_fraudconfigversion_change", args=[version.pk])
                )
        return form_page(
            request, self, form=form, original=version, title=title.format(number=version.number),
            submit_label=submit_label, intro=intro,
        )  # fmt: skip

    def shadow_start_view(self, request, object_id):
        return self._shadow_action(
            request,
            object_id,
            service=shadow.shadow_start,
            title="Put version {number} in shadow",
            submit_label="Put in shadow",
            intro=(
                "Every live decision is also scored under this version and what it would have decided is "
                "stored with the transaction. It never changes an answer, opens no alert and blocks no card."
            ),
            done="Version {number} is in shadow: it is scored beside the live version.",
        )

    def shadow_end_view(self, request, object_id):
        return self._shadow_action(
            request,
            object_id,
            service=shadow.shadow_end,
            title="Take version {number} out of shadow",
            submit_label="End the shadow",
            intro="It goes back to being a draft; the decisions it shadowed are kept.",
            done="Version {number} is out of shadow.",
        )

    def shadow_compare_view(self, request, object_id):
        version = self._version_to_act_on(request, object_id, self.has_view_permission(request))
        form = PeriodForm(request.GET or None)
        result = None
        if not form.is_bound or form.is_valid():
            period = form.cleaned_data if form.is_bound else _default_period()
            result = shadow.comparison(version=version, limit=SHOWN, **period)
        return TemplateResponse(
            request,
            "admin/fraud/fraudconfigversion/shadow_comparison.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": version,
                "title": f"Version {version.number} in shadow against the live decisions",
                "form": form,
                "result": result,
                "matrix": summary_html(result, version) if result else "",
                "changed": changed_table(result, SHOWN) if result else "",
                "transactions_url": reverse("admin:transactions_transaction_changelist")
                + f"?shadow={version.number}-changed",
            },
        )


def _default_period() -> dict:
    until = timezone.now()
    return {"since": until - DEFAULT_PERIOD, "until": until}


def summary_html(result: shadow.Comparison, version: FraudConfigVersion) -> str:
    """The live x shadow matrix beside two charts of it: how many of each outcome on each
    side, and how many would change from one outcome to another."""
    sides = ["", "live", f"version {version.number} (shadow)"]
    outcomes = chart_html(
        chart_id="shadow-outcomes",
        title="Decisions by outcome",
        config=charts.table_bars(sides, charts.outcome_totals(result.matrix)),
    )
    changes = chart_html(
        chart_id="shadow-changes",
        title="Outcomes that would change (live→shadow)",
        config=charts.outcome_changes_bars(result.matrix),
    )
    return side_by_side(matrix_table(result), outcomes, changes)


def matrix_table(result: shadow.Comparison) -> str:
    """Live decisions down, the shadow's across."""
    rows = [
        (f"live: {live}", *(result.matrix.get((live, theirs), 0) for theirs in OUTCOMES)) for live in OUTCOMES
    ]
    return readonly_table(["", *(f"shadow: {o}" for o in OUTCOMES)], rows)


def changed_table(result: shadow.Comparison, shown: int) -> str:
    rows = [
        (
            transaction_link(row.transaction, row.transaction_time.strftime("%Y-%m-%d %H:%M:%S")),
            f"{row.live_decision} {row.live_response_code}",
            row.live_score,
            f"{row.decision} {row.response_code}",
            row.score,
            format_html_join(
                ", ",
                "{} {}→{}",
                (
                    (c, "none" if a is None else a, "none" if b is None else b)
                    for c, a, b in shadow.factor_differences(row)
                ),
            )
            or "same factors (thresholds differ)",
        )
        for row in result.examples
    ]
    note = f" (the latest {shown})" if result.changed > shown else ""
    return format_html(
        "<p>{} changed decisions{}.</p>{}",
        result.changed,
        note,
        readonly_table(
            [
                "transaction",
                "live",
                "live score",
                "shadow",
                "shadow score",
                "factors that differ (live→shadow)",
            ],
            rows,
            empty="No decision would change.",
        ),
    )


class ShadowFilter(admin.SimpleListFilter):
    """Transactions a version in shadow scored: all of them, or those it would have
    decided otherwise. Read by the shadow decisions' (version, changed, time) index."""

    title = "shadow version"
    parameter_name = "shadow"

    def lookups(self, request, model_admin):
        # The version in shadow, and those that were (their decisions stay comparable).
        numbers = FraudConfigVersion.objects.filter(
            Q(state=State.SHADOW) | Exists(ShadowDecision.objects.filter(version=OuterRef("number")))
        ).values_list("number", flat=True)
        choices = []
        for number in numbers:
            choices += [
                (f"{number}", f"scored by v{number}"),
                (f"{number}-changed", f"v{number} would change"),
            ]
        return choices

    def queryset(self, request, queryset):
        value = self.value() or ""
        number, _, changed = value.partition("-")
        if not number.isdigit():
            return queryset
        shadows = ShadowDecision.objects.filter(version_id=int(number))
        if changed == "changed":
            shadows = shadows.filter(changed=True)
        return queryset.filter(pk__in=shadows.values("transaction_id"))


class ShadowDecisionInline(admin.StackedInline):
    """On a transaction's page: what the version in shadow decided on it, beside the live
    decision above (read-only; shown to staff who may view shadow decisions)."""

    model = ShadowDecision
    verbose_name = "shadow decision"
    verbose_name_plural = "shadow decision (never changed the answer)"
    can_delete = False
    fields = ["version_display", "decision_display", "risk_display", "changed", "factors_display"]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        # Only where a shadow scored the transaction: no empty section on the others.
        scored = obj is None or ShadowDecision.objects.filter(transaction=obj).exists()
        return scored and super().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="version")
    def version_display(self, decision):
        url = reverse("admin:fraud_shadow_compare", args=[decision.version.pk])
        return format_html('<a href="{}">v{}</a> (compare with live)', url, decision.version_id)

    @admin.display(description="decision")
    def decision_display(self, decision):
        return format_html(
            "{} {} (live: {} {})",
            decision.decision,
            decision.response_code,
            decision.live_decision,
            decision.live_response_code,
        )

    @admin.display(description="risk")
    def risk_display(self, decision):
        return format_html("{} (live: {})", risk_badge(decision.score, decision.level), decision.live_score)

    @admin.display(description="risk factors")
    def factors_display(self, decision):
        return factors_table(decision.factors)


TransactionAdmin.list_filter = [*TransactionAdmin.list_filter, ShadowFilter]
TransactionAdmin.inlines = [*TransactionAdmin.inlines, ShadowDecisionInline]
