"""The back office's audit log and what every admin page that writes through a service
shares: its form page, its error mapping, the message that a change awaits approval;
and a chart placed in a page beside the table of its figures.
The API clients' pages are in cardsystem/admin_api_clients.py, the staff users' in
cardsystem/staff_admin.py, the second factors' in cardsystem/admin_mfa.py."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from cardsystem.admin_lists import target_link
from cardsystem.card_numbers import pan_like_digits
from cardsystem.exceptions import ConflictError, error_messages
from cardsystem.exports import CsvExportMixin, column
from cardsystem.models import AuditLog

admin.site.site_header = "cardsystem back office"
admin.site.site_title = "cardsystem back office"
admin.site.index_title = "Back office"

SERVICE_FORM_TEMPLATE = "admin/service_form.html"


# --- Shared by the admin pages that write through services --------------------------------


def add_service_errors(
    form: forms.Form, error: ValidationError | ConflictError, field_map: dict | None = None
) -> None:
    """Show a service's error on the form: next to the field it names when the form has
    that field (renamed through `field_map`), above the form otherwise."""
    for field, field_messages in error_messages(error).items():
        name = (field_map or {}).get(field, field)
        for message in field_messages:
            form.add_error(name if name in form.fields else None, message)


def no_store(response):
    """For the pages that show a secret once: no browser or proxy may keep a copy."""
    add_never_cache_headers(response)
    return response


def form_page(
    request,
    model_admin: admin.ModelAdmin,
    *,
    form: forms.Form,
    title: str,
    submit_label: str,
    original=None,
    intro: str = "",
    can_submit: bool = True,
    template: str = SERVICE_FORM_TEMPLATE,
    **context,
) -> TemplateResponse:
    """An admin-styled page holding one form that a service will act on."""
    return TemplateResponse(
        request,
        template,
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": title,
            "subtitle": str(original) if original is not None else None,
            "original": original,
            "form": form,
            "media": model_admin.media + form.media,
            "intro": intro,
            "submit_label": submit_label,
            "can_submit": can_submit,
            **context,
        },
    )


def chart_html(*, chart_id: str, title: str, config: dict, height: str = "") -> str:
    """One chart (templates/admin/includes/chart.html) from a whole Chart.js `config`.
    The page loads the chart scripts once (admin/includes/chart_scripts.html in its
    extrahead block)."""
    return render_to_string(
        "admin/includes/chart.html",
        {"chart_id": chart_id, "title": title, "config": config, "height": height},
    )


def side_by_side(*parts: str) -> str:
    """Parts (safe HTML: a table and its chart, two charts) side by side, wrapping on a
    narrow screen."""
    return render_to_string("admin/includes/side_by_side.html", {"parts": parts})


class PanSafeSearchMixin:
    """Search by the last four digits when someone pastes a whole card number: it would
    otherwise stay in the search box, the URL and the browser history."""

    def changelist_view(self, request, extra_context=None):
        digits = pan_like_digits(request.GET.get(SEARCH_VAR, ""))
        if digits:
            query = request.GET.copy()
            query[SEARCH_VAR] = digits[-4:]
            self.message_user(
                request,
                "Full card numbers are never searched or shown: searching by the last four digits.",
                messages.WARNING,
            )
            return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        return super().changelist_view(request, extra_context)


class ReadOnlyAdminMixin:
    """A page to read, never a form: nobody adds, changes or deletes these rows here
    (ledgers, the audit log, what the engine and the services record). The view
    permission still shows them; actions and buttons that call a service check a
    permission of their own."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Audit log ---------------------------------------------------------------------------------


AUDIT_LOG_COLUMNS = [
    column("id"),
    column("created_at"),
    column("action"),
    column("actor_type"),
    column("actor_label"),
    column("actor_user_id"),
    column("actor_client_id"),
    column("ip_address"),
    column("target_type"),
    column("target_id"),
    column("target_label"),
    column("details"),
]


@admin.register(AuditLog)
class AuditLogAdmin(CsvExportMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Append-only: nobody adds, changes or deletes a row here. Exported by the Auditor
    (cardsystem.export_auditlog), each export itself a row here."""

    export_name = "audit-log"
    export_columns = AUDIT_LOG_COLUMNS

    list_display = ["created_at", "actor_label", "actor_type", "action", "target_link", "ip_address"]
    list_filter = ["action", "actor_type"]
    search_fields = ["actor_label", "target_label", "=target_id"]
    date_hierarchy = "created_at"
    list_per_page = 100
    # The table grows without end: skip the COUNT(*) of all rows on filtered pages.
    show_full_result_count = False
    fields = [
        "created_at",
        "action",
        "actor_type",
        "actor_label",
        "actor_user",
        "actor_client",
        "ip_address",
        "target_type",
        "target_id",
        "target_link",
        "details_display",
    ]
    readonly_fields = fields

    @admin.display(description="target", ordering="target_label")
    def target_link(self, row):
        return target_link(row.target_type, row.target_id, row.target_label)

    @admin.display(description="details")
    def details_display(self, row):
        return format_html("<pre>{}</pre>", json.dumps(row.details, indent=2, sort_keys=True))


def message_failures(model_admin: admin.ModelAdmin, request, failures: list[tuple[object, str]]) -> None:
    """One error message per object an action could not change, naming it."""
    for obj, reason in failures:
        model_admin.message_user(request, f"{obj}: {reason}", messages.ERROR)


# The pages that use the helpers above, and the approval queue (four eyes).
from cardsystem import admin_api_clients, admin_change_requests, admin_mfa, staff_admin  # noqa: E402, F401
