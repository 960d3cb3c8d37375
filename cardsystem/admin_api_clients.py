"""The back office's API client pages. Creating a client and rotating its key are held
for four eyes (cardsystem/change_kinds.py): the requester is shown the new key once, and
it works from the approval on. Revoking and rate limits act at once (they need
cardsystem.manage_apiclients too)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from cardsystem.admin import add_service_errors, form_page, no_store
from cardsystem.admin_change_requests import held_message
from cardsystem.audit import Actor
from cardsystem.change_kinds import MANAGE_APICLIENTS, api_client_request, api_key_rotation_request
from cardsystem.forms import ApiClientForm, ApiClientRateLimitsForm, ApiKeyRotationForm
from cardsystem.models import ApiClient
from cardsystem.services import (
    api_client_revoke,
    api_client_set_rate_limits,
)

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

    def has_add_permission(self, request):
        return request.user.has_perm(MANAGE_APICLIENTS)

    def has_change_permission(self, request, obj=None):
        return False  # a client's name and scopes are fixed; revoke it and create another

    def has_delete_permission(self, request, obj=None):
        return False  # audit rows keep pointing at revoked clients

    def has_revoke_permission(self, request):
        return request.user.has_perm(MANAGE_APICLIENTS)

    @admin.action(description="Revoke the selected API clients", permissions=["revoke"])
    def revoke(self, request, queryset):
        actor = Actor.for_request(request)
        revoked = [client for client in queryset if client.is_active]
        for client in revoked:
            api_client_revoke(client=client, actor=actor)
        self.message_user(request, f"Revoked {len(revoked)} API client(s); their keys no longer work.")

    def add_view(self, request, form_url="", extra_context=None):
        """Asks a second person to approve the client, and shows its key, once, on this
        response: the key works from the approval on."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ApiClientForm(request.POST) if request.method == "POST" else ApiClientForm()
        if request.method == "POST" and form.is_valid():
            try:
                change_request, key = api_client_request(
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_in_days=form.cleaned_data["expires_in_days"],
                    reason=form.cleaned_data["reason"],
                    actor=Actor.for_request(request),
                )
            except ValidationError as error:
                add_service_errors(form, error, {"expires_at": "expires_in_days"})
            else:
                return self._key_requested(request, change_request, key, title="API client requested")
        return form_page(
            request,
            self,
            form=form,
            title="Add API client",
            submit_label="Request client",
            intro="A second person approves the new client (four eyes). Its key is shown to you once, "
            "now; it works from the approval on, and never if the request is rejected or withdrawn.",
        )

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

    def _key_requested(self, request, change_request, key: str, *, title: str, client=None):
        """The new key, shown once to the requester beside their held request: it works
        from the approval on. Never cached, never shown again."""
        messages.warning(request, held_message(change_request))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "change_request": change_request,
            "client": client,
            "key": key,
        }
        return no_store(TemplateResponse(request, "admin/cardsystem/apiclient/requested.html", context))

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
        """Asks a second person to approve the rotation, and shows the new key, once, on this
        response: it works from the approval on (a key handed to one person is a client's
        powers taken alone)."""
        if not self.has_revoke_permission(request):
            raise PermissionDenied  # the same power as creating a client: it makes a working key
        client = self._client_or_404(request, object_id)
        form = ApiKeyRotationForm(request.POST) if request.method == "POST" else ApiKeyRotationForm()
        if request.method == "POST" and form.is_valid():
            try:
                change_request, key = api_key_rotation_request(
                    client=client,
                    overlap_hours=form.cleaned_data["overlap_hours"],
                    expires_in_days=form.cleaned_data["expires_in_days"],
                    reason=form.cleaned_data["reason"],
                    actor=Actor.for_request(request),
                )
            except ValidationError as error:
                add_service_errors(form, error, {"overlap": "overlap_hours", "expires_at": "expires_in_days"})
            else:
                return self._key_requested(
                    request, change_request, key, title="API key rotation requested", client=client
                )
        return form_page(
            request,
            self,
            form=form,
            title="Rotate API key",
            submit_label="Rotate key",
            original=client,
            intro="A second person approves the rotation (four eyes). The new key is shown to you once, "
            "now; it works from the approval on. The current key keeps working until then and for the "
            "overlap after, so that the client can switch without an outage.",
        )
