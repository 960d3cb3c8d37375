"""The back office's system pages (API clients, the audit log) and what every admin
page that writes through a service shares: its form page and its error mapping."""

import datetime
import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from cardsystem import staff_admin  # noqa: F401  (registers the staff user admin)
from cardsystem.admin_lists import target_link
from cardsystem.audit import Actor
from cardsystem.card_numbers import pan_like_digits
from cardsystem.exceptions import ConflictError, error_messages
from cardsystem.forms import ApiClientForm, ApiClientRateLimitsForm, ApiKeyRotationForm
from cardsystem.models import ApiClient, AuditLog
from cardsystem.services import (
    api_client_create,
    api_client_revoke,
    api_client_rotate_key,
    api_client_set_rate_limits,
    key_expiry,
)

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


# --- API clients ----------------------------------------------------------------------------


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "key_prefix_display",
        "scopes_display",
        "rate_limits_display",
        "is_active",
        "expires_at",
        "last_used_at",
        "created_at",
        "revoked_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "key_prefix"]
    # key_hash and previous_key_hash are deliberately absent from every list and page.
    fields = [
        "name",
        "key_prefix_display",
        "scopes_display",
        "rate_limits_display",
        "is_active",
        "expires_at",
        "previous_key_expires_at",
        "last_used_at",
        "created_at",
        "revoked_at",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description="key")
    def key_prefix_display(self, client):
        return f"{client.key_prefix}…"

    @admin.display(description="scopes")
    def scopes_display(self, client):
        return ", ".join(client.scopes)

    @admin.display(description="rate limits")
    def rate_limits_display(self, client):
        return ", ".join(f"{scope} {rate}" for scope, rate in sorted(client.rate_limits.items())) or "none"

    def has_change_permission(self, request, obj=None):
        return False  # a client's name and scopes are fixed; revoke it and create another

    def has_delete_permission(self, request, obj=None):
        return False  # audit rows keep pointing at revoked clients

    def has_revoke_permission(self, request):
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(description="Revoke the selected API clients", permissions=["revoke"])
    def revoke(self, request, queryset):
        actor = Actor.for_request(request)
        revoked = [client for client in queryset if client.is_active]
        for client in revoked:
            api_client_revoke(client=client, actor=actor)
        self.message_user(request, f"Revoked {len(revoked)} API client(s); their keys no longer work.")

    def add_view(self, request, form_url="", extra_context=None):
        """Creates the client through the service and shows its key, once, on this response."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ApiClientForm(request.POST) if request.method == "POST" else ApiClientForm()
        if request.method == "POST" and form.is_valid():
            try:
                client, key = api_client_create(
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    actor=Actor.for_request(request),
                    expires_at=key_expiry(form.cleaned_data["expires_in_days"]),
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                return no_store(
                    TemplateResponse(
                        request,
                        "admin/cardsystem/apiclient/created.html",
                        {
                            **self.admin_site.each_context(request),
                            "opts": self.opts,
                            "title": "API client created",
                            "client": client,
                            "key": key,
                        },
                    )
                )
        return form_page(request, self, form=form, title="Add API client", submit_label="Create client")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_rotate": self.has_revoke_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/rotate-key/",
                self.admin_site.admin_view(self.rotate_key_view),
                name=f"{info}_rotate_key",
            ),
            path(
                "<path:object_id>/rate-limits/",
                self.admin_site.admin_view(self.rate_limits_view),
                name=f"{info}_rate_limits",
            ),
            *super().get_urls(),
        ]

    def _client_or_404(self, request, object_id) -> ApiClient:
        """The client of a page URL; a 404 for an id that is not one (even not a UUID: no 500)."""
        client = self.get_object(request, object_id)
        if client is None:
            raise Http404("No such API client.")
        return client

    def rate_limits_view(self, request, object_id):
        """Sets the client's rate per scope through the service (audited)."""
        if not self.has_revoke_permission(request):
            raise PermissionDenied  # a rate can stop a client's traffic: as strong as revoking it
        client = self._client_or_404(request, object_id)
        data = request.POST if request.method == "POST" else None
        form = ApiClientRateLimitsForm(data, scopes=client.scopes, initial=client.rate_limits)
        if data is not None and form.is_valid():
            try:
                api_client_set_rate_limits(
                    client=client, rate_limits=form.cleaned_data, actor=Actor.for_request(request)
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                self.message_user(request, f"Rate limits of {client.name} saved.")
                return HttpResponseRedirect(
                    reverse(f"admin:{self.opts.app_label}_apiclient_change", args=[client.pk])
                )
        return form_page(
            request,
            self,
            form=form,
            title="Rate limits",
            submit_label="Save rate limits",
            original=client,
            intro="Requests beyond a rate are answered 429 with Retry-After until the second, minute "
            "or hour ends. Every app server applies a change from its next request.",
        )

    def rotate_key_view(self, request, object_id):
        """Rotates the key through the service and shows the new one, once, on this response."""
        if not self.has_revoke_permission(request):
            raise PermissionDenied  # the same power as revoking: it ends the current key
        client = self._client_or_404(request, object_id)
        form = ApiKeyRotationForm(request.POST) if request.method == "POST" else ApiKeyRotationForm()
        if request.method == "POST" and form.is_valid():
            try:
                client, key = api_client_rotate_key(
                    client=client,
                    actor=Actor.for_request(request),
                    overlap=datetime.timedelta(hours=form.cleaned_data["overlap_hours"]),
                    expires_at=key_expiry(form.cleaned_data["expires_in_days"]),
                )
            except ValidationError as error:
                add_service_errors(form, error, {"overlap": "overlap_hours", "expires_at": "expires_in_days"})
            else:
                return no_store(
                    TemplateResponse(
                        request,
                        "admin/cardsystem/apiclient/created.html",
                        {
                            **self.admin_site.each_context(request),
                            "opts": self.opts,
                            "title": "API key rotated",
                            "client": client,
                            "key": key,
                            "rotated": True,
                        },
                    )
                )
        return form_page(
            request,
            self,
            form=form,
            title="Rotate API key",
            submit_label="Rotate key",
            original=client,
            intro="A new key is shown once. The current key keeps working beside it for the overlap, "
            "so that the client can switch without an outage.",
        )


# --- Audit log ---------------------------------------------------------------------------------


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Append-only: nobody adds, changes or deletes a row here."""

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


# The second-factor pages and the approval queue (four eyes) use the helpers above.
from cardsystem import admin_change_requests, admin_mfa  # noqa: E402, F401
