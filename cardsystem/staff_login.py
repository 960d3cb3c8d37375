"""The back office's login with a second factor (STAFF_MFA_REQUIRED): the password
step, the code step and enrolment. The services are in cardsystem/mfa.py; a staff
member's own page and the administrators' reset are in cardsystem/admin_mfa.py.

With STAFF_MFA_REQUIRED, a right password does not log in. It leaves the user *pending*
in the session (for STAFF_MFA_PENDING_SECONDS), and the next page asks for a code: the
current one from the authenticator app, or a recovery code; or, for someone with no app
yet, shows the enrolment page. Django's login() (and so the login audit row, and django-
axes clearing the failures) happens only once both factors are proven; until then no
admin page opens. A wrong code is a failed login to django-axes, so guessing codes locks
the account as guessing passwords does.
"""

import segno
from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from cardsystem.admin import add_service_errors, no_store
from cardsystem.audit import Actor
from cardsystem.client_ip import client_ip
from cardsystem.mfa import (
    confirmed_totp_device,
    enrolment_device,
    format_secret,
    mfa_enrol,
    mfa_required,
    mfa_verify,
    needs_enrolment,
    recovery_codes_remaining,
    second_factor_failed,
)
from cardsystem.models import RecoveryCodeDevice

# What the password step leaves in the session for the code step.
PENDING_USER = "cardsystem.mfa.pending_user"
PENDING_BACKEND = "cardsystem.mfa.pending_backend"
PENDING_AT = "cardsystem.mfa.pending_at"
PENDING_NEXT = "cardsystem.mfa.pending_next"
PENDING = (PENDING_USER, PENDING_BACKEND, PENDING_AT, PENDING_NEXT)


class CodeInput(forms.TextInput):
    """A text box that never echoes what was typed: a refused code is not written back
    into the page."""

    def format_value(self, value):
        return None


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=32,
        strip=True,
        widget=CodeInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "size": 20}),
    )


# --- The password step ----------------------------------------------------------------------


class PasswordStepView(LoginView):
    """Django's admin login. With STAFF_MFA_REQUIRED a right password leaves the user
    pending and sends them to the code page (or to enrolment), without logging in."""

    def form_valid(self, form):
        if not mfa_required():
            return super().form_valid(form)
        user = form.get_user()
        session = self.request.session
        session.cycle_key()  # a session id planted before the password is of no use after it
        session[PENDING_USER] = user.pk
        session[PENDING_BACKEND] = user.backend
        session[PENDING_AT] = timezone.now().timestamp()
        session[PENDING_NEXT] = self.get_success_url()
        step = "mfa_enrol" if needs_enrolment(user) else "mfa_code"
        return HttpResponseRedirect(reverse(f"admin:{step}"))


def password_step(site, request, extra_context=None):
    """AdminSite.login, with PasswordStepView for Django's LoginView."""
    if request.method == "GET" and site.has_permission(request):
        return HttpResponseRedirect(reverse("admin:index", current_app=site.name))
    if mfa_required() and request.user.is_authenticated and not request.user.is_verified():
        # Logged in without a second factor (before it was required), or its device was
        # reset: that session is over (an audited logout), and this page starts a new one.
        auth_logout(request)
    context = {
        **site.each_context(request),
        "title": "Log in",
        "subtitle": None,
        "app_path": request.get_full_path(),
        "username": request.user.get_username(),
    }
    if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
        context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=site.name)
    context.update(extra_context or {})
    request.current_app = site.name
    return PasswordStepView.as_view(
        extra_context=context,
        authentication_form=site.login_form or AdminAuthenticationForm,
        template_name=site.login_template or "admin/login.html",
    )(request)


def _pending_user(request):
    """The staff member whose password this session proved, while that is recent."""
    session = request.session
    user_id, at = session.get(PENDING_USER), session.get(PENDING_AT)
    if user_id is None or at is None:
        return None
    if timezone.now().timestamp() - at > settings.STAFF_MFA_PENDING_SECONDS:
        for key in PENDING:
            session.pop(key, None)
        return None
    return get_user_model()._default_manager.filter(pk=user_id, is_active=True, is_staff=True).first()


def _log_in(request, user, device) -> str:
    """Django's login, now that both factors are proven; returns where to go next."""
    session = request.session
    user.backend = session[PENDING_BACKEND]
    next_url = session.get(PENDING_NEXT) or reverse("admin:index")
    for key in PENDING:
        session.pop(key, None)
    user.otp_device = device  # django-otp's user_logged_in receiver marks the session verified
    auth_login(request, user)
    return next_url


def _start_again(request):
    messages.warning(request, "Please log in again: the code page waits five minutes after the password.")
    return HttpResponseRedirect(reverse("admin:login"))


def step_page(site, request, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(
        request, template, {**site.each_context(request), "title": title, "subtitle": None, **context}
    )


# --- The code step --------------------------------------------------------------------------


def code_step(site, request):
    user = _pending_user(request)
    if user is None or not mfa_required():
        return _start_again(request)
    if needs_enrolment(user):
        return HttpResponseRedirect(reverse("admin:mfa_enrol"))
    form = CodeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        username = user.get_username()
        if not AxesProxyHandler.is_allowed(request, {"username": username}):
            # Locked out meanwhile: refused like a password during the lockout (429).
            request.axes_locked_out = True
            second_factor_failed(request, username=username)
        else:
            device = mfa_verify(
                user=user, code=form.cleaned_data["code"], actor=Actor.for_user(user, client_ip(request))
            )
            if device is not None:
                next_url = _log_in(request, user, device)
                if isinstance(device, RecoveryCodeDevice):
                    left = recovery_codes_remaining(user)
                    messages.warning(
                        request,
                        f"You logged in with a recovery code: {left} left. "
                        "Generate new ones on your second-factor page if you are running out.",
                    )
                return HttpResponseRedirect(next_url)
            second_factor_failed(request, username=username)
            form.add_error(
                "code",
                "That code was not accepted. Wait for the next code in the app, or type a recovery code.",
            )
    return step_page(site, request, "admin/mfa/code.html", "Second factor", form=form, username=user)


# --- Enrolment --------------------------------------------------------------------------------


def enrol_step(site, request):
    """The QR code and the secret of a new authenticator device; a current code from the
    app confirms it, logs in, and shows the recovery codes once."""
    user = _pending_user(request)
    if user is None or not mfa_required():
        return _start_again(request)
    if not needs_enrolment(user):
        return HttpResponseRedirect(reverse("admin:mfa_code"))
    form = CodeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            codes = mfa_enrol(
                user=user, code=form.cleaned_data["code"], actor=Actor.for_user(user, client_ip(request))
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            next_url = _log_in(request, user, confirmed_totp_device(user))
            return no_store(
                step_page(
                    site,
                    request,
                    "admin/mfa/recovery_codes.html",
                    "Your recovery codes",
                    codes=codes,
                    next_url=next_url,
                )
            )
    device = enrolment_device(user=user)
    qr = segno.make(device.config_url, error="m")
    return no_store(
        step_page(
            site,
            request,
            "admin/mfa/enrol.html",
            "Set up your second factor",
            form=form,
            qr_svg=mark_safe(qr.svg_inline(scale=4, border=2, dark="#000", light="#fff")),  # noqa: S308 (segno's own SVG)
            secret=format_secret(device),
            username=user,
        )
    )
