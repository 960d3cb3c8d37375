"""Audit rows for staff authentication events (Django's and django-axes' signals), and
the login time every staff session's absolute lifetime counts from."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.client_ip import client_ip
from cardsystem.mfa import SECOND_FACTOR
from cardsystem.sessions import stamp_login


def _ip(request) -> str | None:
    return client_ip(request) if request is not None else None


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    # django-otp has set the device that verified the second factor, when one did.
    device = getattr(user, "otp_device", None)
    details = {"second_factor": device.name} if device is not None else {}
    audit_record(
        actor=Actor.for_user(user, _ip(request)), action=AuditAction.LOGIN, target=user, details=details
    )
    if request is not None and hasattr(request, "session"):
        stamp_login(request.session)  # the start of the session's absolute lifetime


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=Actor.for_user(user, _ip(request)), action=AuditAction.LOGOUT, target=user)


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs):
    # Django has already replaced the password in `credentials` with asterisks; a wrong
    # second factor (cardsystem.mfa.second_factor_failed) never puts its code in them.
    username = str(credentials.get("username", ""))[:150]
    actor = Actor(type="user", label=username or "(no username)", ip_address=_ip(request))
    action = AuditAction.SECOND_FACTOR_FAILED if credentials.get(SECOND_FACTOR) else AuditAction.LOGIN_FAILED
    audit_record(actor=actor, action=action, details={"username": username})


@receiver(user_locked_out)
def audit_lockout(sender, request, username, ip_address, **kwargs):
    actor = Actor(type="user", label=str(username or "(no username)")[:150], ip_address=ip_address)
    audit_record(
        actor=actor, action=AuditAction.LOCKOUT, details={"username": username, "ip_address": ip_address}
    )
