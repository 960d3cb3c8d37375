"""The staff second factor through the real admin pages: the code after the password,
enrolment with a QR code, recovery codes, lockout on wrong codes, the audited reset.
Codes are computed here from the device's key with django-otp's own TOTP function."""

import datetime
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from axes.models import AccessAttempt
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from cardsystem.audit import Actor
from cardsystem.checks import check_staff_second_factor
from cardsystem.mfa import can_reset_mfa, enrolment_device, format_secret, mfa_enrol
from cardsystem.models import AuditLog, RecoveryCode, RecoveryCodeDevice
from tests.conftest import STAFF_PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
CODE = "/admin/login/code/"
ENROL = "/admin/login/enrol/"
ACCOUNT = "/admin/second-factor/"
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
STEP = datetime.timedelta(seconds=30)  # a TOTP code is accepted once: the next login needs the next one
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _mfa_required(settings):
    settings.STAFF_MFA_REQUIRED = True


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def code_now(device: TOTPDevice) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def wrong_code(device: TOTPDevice) -> str:
    return f"{(int(code_now(device)) + 500_000) % 1_000_000:06d}"


def enrol(user, clock) -> tuple[TOTPDevice, list[str]]:
    """Enrolled through the service, as the enrolment page does; the clock then moves on a step."""
    device = enrolment_device(user=user)
    codes = mfa_enrol(user=user, code=code_now(device), actor=Actor.system("test"))
    clock.shift(STEP)
    device.refresh_from_db()
    return device, codes


def password(client, username="analyst", password=STAFF_PASSWORD, ip="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip)


def second_factor(client, code, ip="10.0.0.1"):
    return client.post(CODE, {"code": code}, REMOTE_ADDR=ip)


def verified_session(client, user, device):
    """A session logged in and verified by `device`, as the code page leaves it."""
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def refused(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN)


def audit_text() -> str:
    return " ".join(f"{row.actor_label} {row.target_label} {row.details}" for row in AuditLog.objects.all())


# --- The code after the password ------------------------------------------------------------------


def test_the_password_alone_leads_to_the_code_page_not_into_the_back_office(client, staff_user, clock):
    enrol(staff_user, clock)

    response = password(client)

    assert response.status_code == 302 and response["Location"] == CODE
    assert refused(client.get("/admin/"))
    assert not AuditLog.objects.filter(action=AuditLog.Action.LOGIN).exists()


def test_no_code_or_a_wrong_code_is_refused(client, staff_user, clock):
    device, _ = enrol(staff_user, clock)
    password(client)

    empty = second_factor(client, "")
    assert empty.status_code == 200 and "This field is required." in empty.content.decode()
    wrong = wrong_code(device)
    response = second_factor(client, wrong)

    assert response.status_code == 200
    assert "That code was not accepted" in response.content.decode()
    assert wrong not in response.content.decode()  # not echoed back into the form
    assert refused(client.get("/admin/"))
    failed = AuditLog.objects.get(action=AuditLog.Action.SECOND_FACTOR_FAILED)
    assert (failed.actor_label, failed.ip_address, failed.details) == (
        "analyst",
        "10.0.0.1",
        {"username": "analyst"},
    )
    assert not AuditLog.objects.filter(action=AuditLog.Action.LOGIN).exists()
    # Neither the audit log nor django-axes' record of the attempt holds the code.
    assert wrong not in audit_text()
    attempt = AccessAttempt.objects.get()
    assert wrong not in attempt.post_data and "code=****" in attempt.post_data


def test_the_right_code_logs_in_and_the_login_row_names_the_factor(client, staff_user, clock):
    device, _ = enrol(staff_user, clock)
    password(client)

    response = second_factor(client, code_now(device))

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    login = AuditLog.objects.get(action=AuditLog.Action.LOGIN)
    assert login.actor_user == staff_user and login.details == {"second_factor": "Authenticator app"}


def test_a_code_with_spaces_is_read_as_its_digits(client, staff_user, clock):
    device, _ = enrol(staff_user, clock)
    password(client)
    code = code_now(device)
    assert second_factor(client, f" {code[:3]} {code[3:]} ").status_code == 302


def test_a_code_is_accepted_only_once(client, staff_user, clock):
    device, _ = enrol(staff_user, clock)
    code = code_now(device)
    password(client)
    assert second_factor(client, code).status_code == 302
    client.post("/admin/logout/")

    password(client)
    assert second_factor(client, code).status_code == 200  # the same code, replayed


def test_no_code_is_asked_when_the_second_factor_is_not_required(client, staff_user, settings, clock):
    settings.STAFF_MFA_REQUIRED = False
    enrol(staff_user, clock)

    response = password(client)

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_session_without_a_verified_device_does_not_open_the_back_office(admin_client):
    assert refused(admin_client.get("/admin/"))
    assert refused(admin_client.get("/admin/cards/card/"))


def test_the_code_page_expires_five_minutes_after_the_password(client, staff_user, clock):
    device, _ = enrol(staff_user, clock)
    password(client)
    clock.shift(datetime.timedelta(minutes=5, seconds=1))

    response = second_factor(client, code_now(device))

    assert refused(response)
    assert refused(client.get("/admin/"))


def test_the_code_page_needs_a_password_first(client, staff_user, clock):
    device, _ = enrol(staff_user, clock)
    assert refused(second_factor(client, code_now(device)))


# --- Lockout ---------------------------------------------------------------------------------------


def test_ten_wrong_codes_lock_the_account_like_ten_wrong_passwords(client, staff_user, clock):
    device, _ = enrol(staff_user, clock)
    password(client)
    statuses = [second_factor(client, wrong_code(device)).status_code for _ in range(10)]

    assert statuses == [200] * 9 + [429]
    assert second_factor(client, code_now(device)).status_code == 429  # even the right code
    assert password(client).status_code == 429
    assert AuditLog.objects.filter(action=AuditLog.Action.SECOND_FACTOR_FAILED).count() >= 10
    assert AuditLog.objects.filter(action=AuditLog.Action.LOCKOUT).exists()
    assert refused(client.get("/admin/"))


def test_wrong_passwords_and_wrong_codes_add_up(client, staff_user, clock):
    device, _ = enrol(staff_user, clock)
    for _ in range(5):
        password(client, password="wrong password")
    password(client)
    statuses = [second_factor(client, wrong_code(device)).status_code for _ in range(5)]
    assert statuses == [200] * 4 + [429]


def test_after_the_cool_off_the_right_code_logs_in(client, staff_user, clock):
    device, _ = enrol(staff_user, clock)
    password(client)
    for _ in range(10):
        second_factor(client, wrong_code(device))
    clock.shift(datetime.timedelta(minutes=30, seconds=1))

    assert password(client).status_code == 302
    assert second_factor(client, code_now(device)).status_code == 302
    assert client.get("/admin/").status_code == 200


# --- Enrolment -------------------------------------------------------------------------------------


def test_enrolment_from_the_qr_code_to_recovery_codes_that_each_work_once(client, staff_user, clock):
    response = password(client)
    assert response.status_code == 302 and response["Location"] == ENROL

    page = client.get(ENROL)
    device = TOTPDevice.objects.get(user=staff_user)
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    html = page.content.decode()
    assert "<svg" in html and format_secret(device) in html
    assert not device.confirmed
    assert client.get(ENROL).content.decode().count(format_secret(device)) == 1  # a reload keeps the secret

    wrong = client.post(ENROL, {"code": wrong_code(device)})
    assert wrong.status_code == 200 and "not the current one" in wrong.content.decode()
    assert refused(client.get("/admin/"))

    clock.shift(STEP)  # django-otp's throttle waits a second after the wrong code
    done = client.post(ENROL, {"code": code_now(device)})

    assert done.status_code == 200 and "no-store" in done["Cache-Control"]
    codes = re.findall(r"<li><code>([A-Z2-7-]{19})</code></li>", done.content.decode())
    assert len(codes) == 10 == len(set(codes))
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/admin/").status_code == 200
    enrolled = AuditLog.objects.get(action=AuditLog.Action.MFA_ENROLLED)
    assert enrolled.actor_user == staff_user and enrolled.details["recovery_codes"] == 10
    login = AuditLog.objects.get(action=AuditLog.Action.LOGIN)
    assert login.details == {"second_factor": "Authenticator app"}
    # Stored as hashes only, and shown on no other page.
    stored = set(RecoveryCode.objects.values_list("code_hash", flat=True))
    assert stored == {hashlib.sha256(code.replace("-", "").encode()).hexdigest() for code in codes}
    account = client.get(ACCOUNT).content.decode()
    assert re.search(r'id="recovery-codes-left">10<', account)
    for code in codes:
        assert code not in account and code.replace("-", "") not in audit_text()
    assert format_secret(device) not in account

    # Each recovery code logs in once, in place of the app's code.
    client.post("/admin/logout/")
    password(client)
    assert second_factor(client, codes[0].lower()).status_code == 302
    used = AuditLog.objects.get(action=AuditLog.Action.MFA_RECOVERY_CODE_USED)
    assert used.actor_user == staff_user and used.details == {"remaining": 9}
    assert AuditLog.objects.filter(action=AuditLog.Action.LOGIN).first().details == {
        "second_factor": "Recovery codes"
    }
    client.post("/admin/logout/")
    clock.shift(STEP)
    password(client)
    assert second_factor(client, codes[0]).status_code == 200  # used up
    clock.shift(datetime.timedelta(seconds=1))  # django-otp's throttle after that wrong code
    assert second_factor(client, codes[1]).status_code == 302
    assert RecoveryCode.objects.count() == 8


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/cards/card/", "/admin/cardsystem/auditlog/", ACCOUNT, CODE]
)
def test_nothing_but_enrolment_opens_while_it_is_pending(client, staff_user, path):
    password(client)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_enrolment_is_not_offered_to_someone_already_enrolled(client, staff_user, clock):
    enrol(staff_user, clock)
    password(client)
    response = client.get(ENROL)
    assert response.status_code == 302 and response["Location"] == CODE


# --- A staff member's own page ----------------------------------------------------------------------


def test_new_recovery_codes_need_a_current_code_and_replace_the_old_ones(client, staff_user, clock):
    device, old_codes = enrol(staff_user, clock)
    verified_session(client, staff_user, device)

    wrong = client.post(ACCOUNT, {"code": wrong_code(device)})
    assert wrong.status_code == 200 and "not the current one" in wrong.content.decode()
    assert AuditLog.objects.filter(action=AuditLog.Action.SECOND_FACTOR_FAILED).count() == 1
    assert not AuditLog.objects.filter(action=AuditLog.Action.MFA_RECOVERY_CODES_REGENERATED).exists()

    clock.shift(STEP)
    response = client.post(ACCOUNT, {"code": code_now(device)})

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    new_codes = re.findall(r"<li><code>([A-Z2-7-]{19})</code></li>", response.content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert (
        AuditLog.objects.get(action=AuditLog.Action.MFA_RECOVERY_CODES_REGENERATED).actor_user == staff_user
    )
    client.post("/admin/logout/")
    password(client)
    assert second_factor(client, old_codes[0]).status_code == 200
    clock.shift(datetime.timedelta(seconds=1))  # django-otp's throttle after that wrong code
    assert second_factor(client, new_codes[0]).status_code == 302


# --- The reset ---------------------------------------------------------------------------------------


@pytest.fixture
def administrator(db, clock):
    user = UserFactory(username="admin")
    device, _ = enrol(user, clock)
    return user, device


def reset_url(user) -> str:
    return f"/admin/cardsystem/staffsecondfactor/{user.pk}/reset/"


def test_a_reset_is_audited_and_the_next_login_enrols_again(client, staff_user, administrator, clock):
    device, _ = enrol(staff_user, clock)
    colleague = client_class_session(client.__class__, staff_user, device)
    admin_user, admin_device = administrator
    verified_session(client, admin_user, admin_device)
    listing = client.get("/admin/cardsystem/staffsecondfactor/")
    assert listing.status_code == 200 and reset_url(staff_user) in listing.content.decode()

    response = client.post(reset_url(staff_user), {"reason": "phone lost, identity checked by video call"})

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=staff_user).exists()
    assert not RecoveryCodeDevice.objects.filter(user=staff_user).exists()
    row = AuditLog.objects.get(action=AuditLog.Action.MFA_RESET)
    assert (row.actor_user, row.target_id) == (admin_user, str(staff_user.pk))
    assert row.details == {"reason": "phone lost, identity checked by video call", "devices_removed": 2}
    assert refused(colleague.get("/admin/"))  # the session the old app verified is over
    login_page = colleague.get(LOGIN)
    assert login_page.status_code == 200 and "not authorized" not in login_page.content.decode()
    assert AuditLog.objects.filter(action=AuditLog.Action.LOGOUT, actor_user=staff_user).exists()
    client.post("/admin/logout/")
    assert password(client)["Location"] == ENROL


def client_class_session(client_class, user, device):
    other = client_class()
    verified_session(other, user, device)
    assert other.get("/admin/").status_code == 200
    return other


def test_a_reset_needs_a_reason(client, staff_user, administrator, clock):
    enrol(staff_user, clock)
    verified_session(client, *administrator)

    response = client.post(reset_url(staff_user), {"reason": "  "})

    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert TOTPDevice.objects.filter(user=staff_user).exists()
    assert not AuditLog.objects.filter(action=AuditLog.Action.MFA_RESET).exists()


def test_nobody_resets_their_own_second_factor(client, administrator):
    admin_user, admin_device = administrator
    verified_session(client, admin_user, admin_device)

    response = client.post(reset_url(admin_user), {"reason": "I lost my phone"})

    assert response.status_code == 200
    assert "Nobody resets their own second factor" in response.content.decode()
    assert TOTPDevice.objects.filter(user=admin_user, confirmed=True).exists()
    assert not AuditLog.objects.filter(action=AuditLog.Action.MFA_RESET).exists()


def test_staff_who_are_not_administrators_cannot_reset(client, staff_user, clock):
    clerk = UserFactory(username="clerk", is_superuser=False)
    clerk_device, _ = enrol(clerk, clock)
    enrol(staff_user, clock)
    assert not can_reset_mfa(clerk)
    verified_session(client, clerk, clerk_device)

    response = client.post(reset_url(staff_user), {"reason": "asked nicely"})

    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=staff_user).exists()
    assert not AuditLog.objects.filter(action=AuditLog.Action.MFA_RESET).exists()


def test_no_page_shows_a_totp_secret_but_enrolment(client, staff_user, administrator, clock):
    device, _ = enrol(staff_user, clock)
    verified_session(client, *administrator)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404  # django-otp's admin is withdrawn
    for path in [
        "/admin/cardsystem/staffsecondfactor/",
        f"/admin/cardsystem/staffsecondfactor/{staff_user.pk}/change/",
    ]:
        response = client.get(path)
        assert response.status_code == 200
        assert format_secret(device) not in response.content.decode()
        assert device.key not in response.content.decode()


# --- Settings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "required"),
    [
        ({"DEBUG": "false"}, True),
        ({"DEBUG": "true"}, False),
        ({"DEBUG": "false", "STAFF_MFA_REQUIRED": "false"}, False),
        ({"DEBUG": "true", "STAFF_MFA_REQUIRED": "true"}, True),
    ],
)
def test_the_second_factor_is_required_by_default_in_production_only(environment, required):
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "STAFF_MFA_REQUIRED")}
    result = subprocess.run(
        [sys.executable, "-c", "import cardsystem.settings as s; print(s.STAFF_MFA_REQUIRED)"],
        cwd=ROOT,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(required)


def test_production_without_the_second_factor_fails_the_deploy_checks(settings):
    settings.DEBUG, settings.STAFF_MFA_REQUIRED = False, False
    assert [w.id for w in check_staff_second_factor(None)] == ["cardsystem.W001"]
    settings.STAFF_MFA_REQUIRED = True
    assert check_staff_second_factor(None) == []
    settings.DEBUG, settings.STAFF_MFA_REQUIRED = True, False  # a local trial
    assert check_staff_second_factor(None) == []
