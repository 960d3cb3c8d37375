"""The back office's second-factor pages for signed-in staff: their own ("Second
factor": recovery codes left, new ones) and the administrators' "Staff second factors"
list with its audited reset. The login steps are in cardsystem/staff_login.py, the
services in cardsystem/mfa.py.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.cache import never_cache
from django_otp.plugins.otp_totp.models import TOTPDevice

from cardsystem.admin import ReadOnlyAdminMixin, add_service_errors, form_page, no_store
from cardsystem.audit import Actor
from cardsystem.mfa import (
    can_reset_mfa,
    confirmed_totp_device,
    mfa_recovery_codes_regenerate,
    mfa_required,
    mfa_reset,
    recovery_codes_remaining,
    second_factor_failed,
)
from cardsystem.models import RecoveryCode, StaffSecondFactor
from cardsystem.staff_login import CodeForm, code_step, enrol_step, step_page

# django-otp's own TOTP device admin shows each secret and its QR code to whoever may
# view devices: the secret belongs on the enrolment page alone.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


class ResetForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded in the audit log, e.g. “phone lost, identity checked by video call”.",
    )


# --- A staff member's own page ----------------------------------------------------------------


def account_page(site, request):
    """Your second factor: when it was set up, how many recovery codes are left, and new
    ones for a current code from the app."""
    user = request.user
    device = confirmed_totp_device(user)
    form = CodeForm(request.POST if request.method == "POST" and device is not None else None)
    if form.is_valid():
        try:
            codes = mfa_recovery_codes_regenerate(
                user=user, code=form.cleaned_data["code"], actor=Actor.for_request(request)
            )
        except ValidationError as error:
            second_factor_failed(request, username=user.get_username())
            add_service_errors(form, error)
        else:
            return no_store(
                step_page(
                    site,
                    request,
                    "admin/mfa/recovery_codes.html",
                    "Your new recovery codes",
                    codes=codes,
                    next_url=reverse("admin:mfa_account"),
                    regenerated=True,
                )
            )
    return step_page(
        site,
        request,
        "admin/mfa/account.html",
        "Your second factor",
        device=device,
        recovery_codes_left=recovery_codes_remaining(user) if device is not None else 0,
        form=form,
        required=mfa_required(),
    )


def second_factor_urls(site) -> list:
    return [
        path("login/code/", never_cache(lambda request: code_step(site, request)), name="mfa_code"),
        path("login/enrol/", never_cache(lambda request: enrol_step(site, request)), name="mfa_enrol"),
        path(
            "second-factor/",
            site.admin_view(lambda request: account_page(site, request)),
            name="mfa_account",
        ),
    ]


# --- Administrators: the list and the reset ---------------------------------------------------


@admin.register(StaffSecondFactor)
class StaffSecondFactorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every staff user with the state of their second factor; an administrator resets one
    (a reason is required and audited) when a phone is lost."""

    list_display = ["username", "full_name", "enrolled", "last_used_at", "recovery_codes_left", "reset_link"]
    list_filter = ["is_superuser", "is_active"]
    search_fields = ["username", "first_name", "last_name", "email"]
    readonly_fields = list_display

    def get_queryset(self, request):
        devices = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        codes = (
            RecoveryCode.objects.filter(device__user=OuterRef("pk"), device__confirmed=True)
            .values("device__user")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .filter(is_staff=True)
            .annotate(
                has_device=Exists(devices),
                device_last_used=Max("totpdevice__last_used_at", filter=Q(totpdevice__confirmed=True)),
                codes_left=Subquery(codes),
            )
        )

    def has_view_permission(self, request, obj=None):
        return can_reset_mfa(request.user) or super().has_view_permission(request, obj)

    @admin.display(description="name")
    def full_name(self, user):
        return user.get_full_name() or "—"

    @admin.display(description="authenticator app", boolean=True, ordering="has_device")
    def enrolled(self, user):
        return user.has_device

    @admin.display(description="last used", ordering="device_last_used")
    def last_used_at(self, user):
        return user.device_last_used or "—"

    @admin.display(description="recovery codes left", ordering="codes_left")
    def recovery_codes_left(self, user):
        return user.codes_left or 0

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        return columns if can_reset_mfa(request.user) else [c for c in columns if c != "reset_link"]

    def get_fields(self, request, obj=None):
        return self.get_list_display(request)

    @admin.display(description="reset")
    def reset_link(self, user):
        # The page itself refuses a reset of one's own second factor.
        url = reverse("admin:cardsystem_staffsecondfactor_reset", args=[user.pk])
        return format_html('<a href="{}">Reset second factor</a>', url)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/reset/",
                self.admin_site.admin_view(self.reset_view),
                name="cardsystem_staffsecondfactor_reset",
            ),
            *super().get_urls(),
        ]

    def reset_view(self, request, object_id):
        """Removes the staff member's authenticator and recovery codes through the service."""
        if not can_reset_mfa(request.user):
            raise PermissionDenied
        target = self.get_object(request, object_id)
        if target is None:
            raise Http404("No such staff user.")
        form = ResetForm(request.POST if request.method == "POST" else None)
        own = target.pk == request.user.pk
        if own:
            form.add_error(None, "Nobody resets their own second factor: ask another administrator.")
        elif form.is_valid():
            try:
                removed = mfa_reset(
                    user=target, actor=Actor.for_request(request), reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                self.message_user(
                    request,
                    f"Second factor of {target.get_username()} reset ({removed} device(s) removed): "
                    "they set up a new one at their next login.",
                )
                return HttpResponseRedirect(reverse("admin:cardsystem_staffsecondfactor_changelist"))
        return form_page(
            request,
            self,
            form=form,
            title="Reset second factor",
            submit_label="Reset second factor",
            original=target,
            can_submit=not own,
            intro="Their authenticator app and recovery codes stop working at once, and so does any "
            "session they verified with them. At their next login, after the password, they set up "
            "a new app. Check who is asking before you reset.",
        )
