"""The case queue and the case page. The queue opens on the unresolved cases, the most
overdue first (by due time), with each case's priority, card, alerts, top score,
assignee, age and due time. A case page shows its alerts and its comment thread, and
leads to one form per step (assign, priority, comment, resolve), each calling one
service of fraud/cases.py. Resolving with a card block asks for confirmation first.

Case work needs fraud.change_case; a resolution that blocks the card also needs
cards.block_card (without it the choice is not offered and a crafted one is refused).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, Max
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from cardsystem.admin import ReadOnlyAdminMixin, add_service_errors, form_page
from cardsystem.admin_lists import DefaultListFilter
from cardsystem.audit import Actor
from cardsystem.exceptions import ConflictError
from cardsystem.exports import CsvExportMixin
from fraud import cases
from fraud.exports import CASE_COLUMNS
from fraud.forms import CaseAssignForm, CaseCommentForm, CasePriorityForm, CaseResolveForm
from fraud.models import Case
from transactions.admin import ADMIN_CSS, readonly_table, risk_badge


@dataclass(frozen=True)
class Step:
    label: str
    form: type[forms.Form]
    act: Callable  # (case, the form's cleaned data, actor) -> what the service returns
    on_resolved: bool = False  # still offered once the case is resolved


STEPS = {
    "assign": Step(
        "Assign",
        CaseAssignForm,
        lambda case, d, actor: cases.case_assign(case=case, assignee=d["assignee"], actor=actor),
    ),
    "priority": Step(
        "Change priority",
        CasePriorityForm,
        lambda case, d, actor: cases.case_set_priority(case=case, priority=d["priority"], actor=actor),
    ),
    "comment": Step(
        "Comment",
        CaseCommentForm,
        lambda case, d, actor: cases.case_comment(case=case, body=d["body"], actor=actor),
        on_resolved=True,
    ),
    "resolve": Step(
        "Resolve",
        CaseResolveForm,
        lambda case, d, actor: cases.case_resolve(
            case=case, resolution=d["resolution"], note=d["note"], block_card=d["block_card"], actor=actor
        ),
    ),
}


class CaseStateFilter(DefaultListFilter):
    """Unresolved by default: the queue is the work still to do."""

    title = "state"
    parameter_name = "state"
    default = "open"

    def lookups(self, request, model_admin):
        return [("open", "Unresolved"), ("resolved", "Resolved"), ("all", "All")]

    def queryset(self, request, queryset):
        value = self.current()
        if value == "open":
            return queryset.filter(resolved_at__isnull=True)
        if value == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


class CaseAssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        return [("mine", "Assigned to me"), ("none", "Nobody")]

    def queryset(self, request, queryset):
        if self.value() == "mine":
            return queryset.filter(assignee=request.user)
        if self.value() == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset


@admin.register(Case)
class CaseAdmin(CsvExportMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "priority_display",
        "card_display",
        "alert_count",
        "top_risk",
        "assignee",
        "age",
        "due",
        "state",
    ]
    list_display_links = ["priority_display", "card_display"]
    list_select_related = ["card", "assignee"]
    list_filter = [CaseStateFilter, "priority", CaseAssigneeFilter]
    search_fields = ["=card__last4"]
    search_help_text = "Last four digits of the card."
    list_per_page = 50
    export_columns = CASE_COLUMNS
    fields = [
        "card_display",
        "state",
        "priority_display",
        "assignee",
        "opened",
        "due",
        "alerts_display",
        "thread",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": [ADMIN_CSS]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("card", "assignee", "resolved_by")
            .annotate(alerts_total=Count("alerts"), alerts_top_risk=Max("alerts__risk_score"))
        )

    def get_ordering(self, request):
        # Unresolved first, the most overdue (earliest due) first among them.
        return [F("resolved_at").desc(nulls_first=True), "due_at"]

    def has_work_permission(self, request, obj=None):
        return request.user.has_perm("fraud.change_case")

    def has_block_permission(self, request):
        return request.user.has_perm("cards.block_card")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                f"<path:object_id>/{name}/",
                view(lambda request, object_id, name=name: self.step_view(request, object_id, name)),
                name=f"fraud_case_{name}",
            )
            for name in STEPS
        ] + super().get_urls()

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        steps = []
        if obj is not None and self.has_work_permission(request, obj):
            steps = [
                (reverse(f"admin:fraud_case_{name}", args=[obj.pk]), step.label)
                for name, step in STEPS.items()
                if step.on_resolved or not obj.is_resolved
            ]
        context["case_steps"] = steps
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- The steps ---

    def step_view(self, request, object_id, name):
        case = self.get_object(request, unquote(object_id))
        if case is None:
            raise Http404("No such case.")
        if not self.has_work_permission(request, case):
            raise PermissionDenied
        step = STEPS[name]
        initial = {
            "assign": {"assignee": case.assignee_id or request.user.pk},
            "priority": {"priority": case.priority},
        }
        form = step.form(request.POST if request.method == "POST" else None, initial=initial.get(name))
        may_block = self.has_block_permission(request)
        if name == "resolve" and not may_block:
            form.fields["block_card"].widget = forms.HiddenInput()
        page = {"title": f"{step.label}: case {case.pk}", "submit_label": step.label, "original": case}
        if form.is_bound and form.is_valid():
            if name == "resolve" and form.cleaned_data["block_card"] and not may_block:
                raise PermissionDenied
            if name == "resolve" and form.cleaned_data["block_card"] and not form.cleaned_data["confirmed"]:
                return self._confirm_block(request, case, page)
            try:
                step.act(case, form.cleaned_data, Actor.for_request(request))
            except (ValidationError, ConflictError) as error:
                add_service_errors(form, error)
            else:
                self.message_user(request, f"Case {case.pk}: {step.label.lower()} done.")
                return HttpResponseRedirect(reverse("admin:fraud_case_change", args=[case.pk]))
        return form_page(request, self, form=form, **page)

    def _confirm_block(self, request, case, page):
        data = request.POST.copy()
        data["confirmed"] = "True"
        confirm = CaseResolveForm(data)
        confirm.is_valid()
        return form_page(
            request,
            self,
            form=confirm,
            **{**page, "submit_label": f"Block {case.card.masked_pan} and resolve"},
            intro=(
                f"This blocks the card {case.card.masked_pan}: the cardholder can no longer pay with it "
                f"until it is unblocked. Press the button to confirm, or go back to the case."
            ),
        )

    # --- Columns and fields ---

    @admin.display(description="priority", ordering="priority")
    def priority_display(self, case):
        return case.get_priority_display()

    @admin.display(description="card", ordering="card__last4")
    def card_display(self, case):
        url = reverse("admin:cards_card_change", args=[case.card_id])
        return format_html('<a href="{}">{}</a>', url, case.card.masked_pan)

    @admin.display(description="alerts", ordering="alerts_total")
    def alert_count(self, case):
        return case.alerts_total

    @admin.display(description="top risk", ordering="alerts_top_risk")
    def top_risk(self, case):
        return risk_badge(case.alerts_top_risk, "")

    @admin.display(description="age", ordering="opened_at")
    def age(self, case):
        return timesince(case.opened_at, case.resolved_at or timezone.now())

    @admin.display(description="opened")
    def opened(self, case):
        return f"{timezone.localtime(case.opened_at):%Y-%m-%d %H:%M} ({self.age(case)} ago)"

    @admin.display(description="due", ordering="due_at")
    def due(self, case):
        when = f"{timezone.localtime(case.due_at):%Y-%m-%d %H:%M}"
        if case.is_resolved or case.due_at > timezone.now():
            return when
        return format_html(
            '<strong class="overdue">{} (overdue by {})</strong>', when, timesince(case.due_at)
        )

    @admin.display(description="state")
    def state(self, case):
        if not case.is_resolved:
            return "unresolved"
        by = case.resolved_by or "someone no longer here"
        return (
            f"{case.get_resolution_display()} ({timezone.localtime(case.resolved_at):%Y-%m-%d %H:%M}, {by})"
        )

    @admin.display(description="alerts")
    def alerts_display(self, case):
        rows = [
            (
                format_html(
                    '<a href="{}">{}</a>', reverse("admin:fraud_fraudalert_change", args=[a.pk]), a.pk
                ),
                f"{timezone.localtime(a.created_at):%Y-%m-%d %H:%M}",
                risk_badge(a.risk_score, a.transaction.risk_level),
                f"{a.transaction.get_status_display()} {a.transaction.response_code}",
                a.reason,
                a.get_status_display(),
            )
            for a in case.alerts.select_related("transaction").order_by("created_at", "pk")
        ]
        return readonly_table(["alert", "time", "risk", "decision", "reason", "status"], rows, empty="None.")

    @admin.display(description="comments")
    def thread(self, case):
        comments = [
            (c.author_label, f"{timezone.localtime(c.created_at):%Y-%m-%d %H:%M}", c.body)
            for c in case.comments.all()
        ]
        if not comments:
            return "No comments yet."
        return format_html_join(
            "", '<p><strong>{}</strong>, {}<br><span style="white-space: pre-wrap">{}</span></p>', comments
        )
