"""The approval queue (four eyes) in the back office. It opens on the pending requests,
the oldest first: the work still to do. A request's page is read-only and shows what
would happen, who asked and why, and how it was decided; those who may decide it
(cardsystem.change_requests.can_decide) approve or reject it there, with an optional
note, and its requester may withdraw it while it is pending. Each button posts to a view
that calls one service; nobody adds, edits or deletes a request here.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, F, IntegerField, Value, When
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.views.decorators.http import require_POST

from cardsystem.admin import ReadOnlyAdminMixin
from cardsystem.admin_lists import DefaultListFilter, target_link
from cardsystem.audit import Actor
from cardsystem.change_requests import (
    can_decide,
    change_request_approve,
    change_request_reject,
    change_request_withdraw,
    kind_label,
    kinds,
)
from cardsystem.exceptions import ConflictError, error_text
from cardsystem.models import ChangeRequest

Status = ChangeRequest.Status


def request_url(request: ChangeRequest) -> str:
    return reverse("admin:cardsystem_changerequest_change", args=[request.pk])


def held_message(request: ChangeRequest) -> SafeString:
    """What the person whose action was held is told, with a link to their request."""
    return format_html(
        '{}: held for a second person\'s approval. <a href="{}">Change request</a>; nothing happens '
        "before it is approved.",
        request.summary,
        request_url(request),
    )


class DecisionForm(forms.Form):
    note = forms.CharField(
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Optional; recorded with the decision and in the audit log.",
    )


class StatusFilter(DefaultListFilter):
    """Pending by default: the queue is the work still to do."""

    title = "status"
    parameter_name = "status"
    default = Status.PENDING

    def lookups(self, request, model_admin):
        return [*Status.choices, ("all", "All")]

    def queryset(self, request, queryset):
        value = self.current()
        return queryset if value == "all" else queryset.filter(status=value)


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(kind.name, kind.label) for kind in kinds()]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(ChangeRequest)
class ChangeRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "requested_at",
        "age",
        "kind_display",
        "summary",
        "target",
        "requested_by",
        "status",
        "decided_by",
    ]
    list_display_links = ["requested_at", "summary"]
    list_select_related = ["requested_by", "decided_by"]
    list_filter = [StatusFilter, KindFilter]
    search_fields = ["summary", "target_label", "requested_by__username"]
    search_help_text = "Words of the summary or the target, or the requester's username."
    list_per_page = 50
    fields = [
        "kind_display",
        "status",
        "summary",
        "target",
        "reason",
        "requested_by",
        "requested_at",
        "age",
        "decided_by",
        "decided_at",
        "decision_note",
        "result_display",
    ]
    readonly_fields = fields

    # Pending first, the oldest first among them; then the latest decisions first.
    ordering = [
        Case(When(status=Status.PENDING, then=Value(0)), default=Value(1), output_field=IntegerField()),
        Case(When(status=Status.PENDING, then=F("requested_at"))).asc(),
        F("decided_at").desc(nulls_last=True),
    ]

    # --- Columns ---

    @admin.display(description="kind", ordering="kind")
    def kind_display(self, request):
        return kind_label(request.kind)

    @admin.display(description="age")
    def age(self, request):
        """How long it has waited (until decided, once it is)."""
        return timesince(request.requested_at, request.decided_at or timezone.now())

    @admin.display(description="target", ordering="target_label")
    def target(self, request):
        return target_link(request.target_type, request.target_id, request.target_label)

    @admin.display(description="result")
    def result_display(self, request):
        if not request.result:
            return "—"
        return format_html(
            "<dl>{}</dl>", format_html_join("", "<dt>{}</dt><dd>{}</dd>", request.result.items())
        )

    # --- The page and its buttons ---

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["may_decide"] = can_decide(request.user, obj)
            context["may_withdraw"] = obj.status == Status.PENDING and request.user.pk == obj.requested_by_id
            context["decision_form"] = DecisionForm()
            context["is_requester"] = request.user.pk == obj.requested_by_id
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                f"<path:object_id>/{name}/",
                view(
                    require_POST(
                        lambda request, object_id, name=name: self.decide_view(request, object_id, name)
                    )
                ),
                name=f"cardsystem_changerequest_{name}",
            )
            for name in ("approve", "reject", "withdraw")
        ] + super().get_urls()

    def decide_view(self, request, object_id, name):
        """Approve, reject or withdraw through the service. PermissionDenied (the requester
        approving, someone without both permissions) is a 403; a request that was already
        decided or no longer applies is an error message, and nothing changes."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        change = self.get_object(request, unquote(object_id))
        if change is None:
            raise Http404("No such change request.")
        form = DecisionForm(request.POST)
        if not form.is_valid():
            self.message_user(request, f"Nothing changed: {' '.join(form.errors['note'])}", messages.ERROR)
            return HttpResponseRedirect(request_url(change))
        actor = Actor.for_request(request)
        try:
            if name == "withdraw":
                change_request_withdraw(request=change, actor=actor)
            else:
                service = change_request_approve if name == "approve" else change_request_reject
                service(request=change, actor=actor, note=form.cleaned_data["note"])
        except (ValidationError, ConflictError) as error:
            self.message_user(request, f"Nothing changed: {error_text(error)}", messages.ERROR)
        else:
            done = {"approve": "approved and applied", "reject": "rejected", "withdraw": "withdrawn"}[name]
            self.message_user(request, f"{change.summary}: {done}.")
        return HttpResponseRedirect(request_url(change))
