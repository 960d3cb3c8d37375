"""Audit rows for staff authentication events (Django's and django-axes' signals), the
login time every staff session's absolute lifetime counts from, and card numbers kept
out of django-axes' tables: a card number typed as a login name is masked before axes
counts or stores it (AXES_USERNAME_CALLABLE), and every text axes writes is masked."""

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import models
from django.db.models.signals import pre_save
from django.dispatch import receiver

from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.card_numbers import mask_card_numbers
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
    username = mask_card_numbers(str(credentials.get("username", "")))[:150]
    actor = Actor(type="user", label=username or "(no username)", ip_address=_ip(request))
    action = AuditAction.SECOND_FACTOR_FAILED if credentials.get(SECOND_FACTOR) else AuditAction.LOGIN_FAILED
    audit_record(actor=actor, action=action, details={"username": username})


@receiver(user_locked_out)
def audit_lockout(sender, request, username, ip_address, **kwargs):
    actor = Actor(type="user", label=str(username or "(no username)")[:150], ip_address=ip_address)
    audit_record(
        actor=actor, action=AuditAction.LOCKOUT, details={"username": username, "ip_address": ip_address}
    )


def axes_username(request, credentials=None) -> str | None:
    """The login name django-axes counts failures under and stores (AXES_USERNAME_CALLABLE):
    as typed, but with any card number in it masked, so counting and storing agree."""
    if credentials:
        username = credentials.get("username")
    else:
        username = getattr(request, "data", request.POST).get("username")
    return mask_card_numbers(str(username)) if username else username


@receiver(pre_save, sender=AccessAttempt)
@receiver(pre_save, sender=AccessFailureLog)
@receiver(pre_save, sender=AccessLog)
def mask_axes_text(sender, instance, **kwargs):
    """A net under axes_username: the address bar, user agent and request data axes
    keeps of a login attempt never hold a card number in clear either."""
    for field in sender._meta.concrete_fields:
        if isinstance(field, models.CharField | models.TextField):
            value = getattr(instance, field.attname)
            if isinstance(value, str):
                setattr(instance, field.attname, mask_card_numbers(value))
