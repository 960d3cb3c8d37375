"""The staff second factor: a TOTP authenticator app (django-otp's TOTPDevice) plus ten
one-time recovery codes (RecoveryCodeDevice, stored as hashes).

Required for the back office when STAFF_MFA_REQUIRED is true. The login flow lives in
cardsystem/admin_mfa.py; these are its services. A code is never written to a log, an
audit row or a page: the secret appears on the enrolment page alone, and recovery codes
on the one response that creates them.
"""

import base64
import re
import secrets

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django_otp import devices_for_user, verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.models import RecoveryCode, RecoveryCodeDevice, recovery_code_hash

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
# In the credentials of a user_login_failed signal: the password was right, the second
# factor was not. django-axes counts it like any failed login; the audit row says which.
SECOND_FACTOR = "second_factor"

_TOTP_CODE = re.compile(r"\d{6}")
_RECOVERY_CODE = re.compile(r"[A-Z2-7]{16}")


def can_reset_mfa(user) -> bool:
    """Who may reset another staff member's second factor. The one place that decides."""
    return bool(user.is_active and user.has_perm("cardsystem.reset_second_factor"))


def mfa_required() -> bool:
    return settings.STAFF_MFA_REQUIRED


def confirmed_totp_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def needs_enrolment(user) -> bool:
    return confirmed_totp_device(user) is None


def recovery_codes_remaining(user) -> int:
    return RecoveryCode.objects.filter(device__user=user, device__confirmed=True).count()


def normalise_code(code: str) -> str:
    """Spaces and hyphens out, upper case: "abcd-efgh ijkl-mnop" reads as ABCDEFGHIJKLMNOP."""
    return re.sub(r"[\s-]", "", code or "").upper()


def format_secret(device: TOTPDevice) -> str:
    """The device's secret in base32 as an authenticator app asks for it, in groups of four."""
    secret = base64.b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _new_recovery_codes() -> list[str]:
    codes = set()
    while len(codes) < RECOVERY_CODE_COUNT:
        codes.add(base64.b32encode(secrets.token_bytes(10)).decode())  # 80 bits, 16 characters
    return sorted(codes)


def display_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _replace_recovery_codes(user) -> list[str]:
    """Deletes the user's recovery codes and makes RECOVERY_CODE_COUNT new ones (returned
    in clear, once; only their hashes are stored)."""
    RecoveryCodeDevice.objects.filter(user=user).delete()
    device = RecoveryCodeDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = _new_recovery_codes()
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(device=device, code_hash=recovery_code_hash(code)) for code in codes]
    )
    return [display_code(code) for code in codes]


def enrolment_device(*, user) -> TOTPDevice:
    """The unconfirmed authenticator device the enrolment page shows, made on first view
    and kept until confirmed, so that reloading the page does not change the secret."""
    if not needs_enrolment(user):
        raise ValidationError({"code": "This account already has an authenticator app."})
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def _require_app_code(user, device: TOTPDevice | None, code: str) -> None:
    """Raises ValidationError({"code": ...}) unless `code` is the device's current one
    (and not one used before); django-otp's throttle counts a wrong one."""
    token = normalise_code(code)
    if (
        device is None
        or not _TOTP_CODE.fullmatch(token)
        or verify_token(user, device.persistent_id, token) is None
    ):
        raise ValidationError({"code": "That code is not the current one. Check the app and try again."})


def mfa_enrol(*, user, code: str, actor: Actor) -> list[str]:
    """Confirms the enrolment device with a current code from the app and makes the
    recovery codes. Returns the codes, in clear, to be shown once. Raises ValidationError
    ({"code": ...}, nothing written but django-otp's throttle) on a wrong code."""
    device = enrolment_device(user=user)
    _require_app_code(user, device, code)
    with transaction.atomic():
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        codes = _replace_recovery_codes(user)
        audit_record(
            actor=actor,
            action=AuditAction.MFA_ENROLLED,
            target=user,
            details={"device": TOTP_DEVICE_NAME, "recovery_codes": len(codes)},
        )
    return codes


def mfa_verify(*, user, code: str, actor: Actor):
    """The device that accepts `code` at login: the authenticator app for six digits, the
    recovery codes for anything else. None when it does not (or may not yet: django-otp's
    throttle). A recovery code is used up and audited."""
    token = normalise_code(code)
    if _TOTP_CODE.fullmatch(token):
        device = confirmed_totp_device(user)
    else:
        device = RecoveryCodeDevice.objects.devices_for_user(user, confirmed=True).first()
        if not _RECOVERY_CODE.fullmatch(token):
            token = ""  # still a failed attempt against the device (its throttle counts it)
    if device is None:
        return None
    verified = verify_token(user, device.persistent_id, token)
    if isinstance(verified, RecoveryCodeDevice):
        audit_record(
            actor=actor,
            action=AuditAction.MFA_RECOVERY_CODE_USED,
            target=user,
            details={"remaining": recovery_codes_remaining(user)},
        )
    return verified


def second_factor_failed(request, *, username: str) -> None:
    """A wrong code after a right password: a failed login for django-axes (it counts
    toward the lockout, and may lock the account at once) and for the audit log."""
    user_login_failed.send(
        sender=__name__, credentials={"username": username, SECOND_FACTOR: True}, request=request
    )


def mfa_recovery_codes_regenerate(*, user, code: str, actor: Actor) -> list[str]:
    """New recovery codes for a staff member who proves the app with a current code; the
    old ones stop working. Raises ValidationError({"code": ...}) on a wrong code."""
    _require_app_code(user, confirmed_totp_device(user), code)
    with transaction.atomic():
        codes = _replace_recovery_codes(user)
        audit_record(
            actor=actor,
            action=AuditAction.MFA_RECOVERY_CODES_REGENERATED,
            target=user,
            details={"recovery_codes": len(codes)},
        )
    return codes


def mfa_reset(*, user, actor: Actor, reason: str) -> int:
    """Removes every second-factor device of `user`: they enrol again at their next login,
    and a session verified by a removed device no longer reaches the back office. Only
    someone can_reset_mfa allows, never for themselves; a reason is required. Returns how
    many devices were removed."""
    if actor.user is None or not can_reset_mfa(actor.user):
        raise PermissionDenied("Only an administrator may reset a second factor.")
    if actor.user.pk == user.pk:
        raise ValidationError({"user": "Nobody resets their own second factor: ask another administrator."})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the second factor is reset."})
    with transaction.atomic():
        devices = list(devices_for_user(user, confirmed=None))
        for device in devices:
            device.delete()
        audit_record(
            actor=actor,
            action=AuditAction.MFA_RESET,
            target=user,
            details={"reason": reason[:500], "devices_removed": len(devices)},
        )
    return len(devices)
