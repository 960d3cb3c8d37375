"""Staff logins through the real admin login view: lockout (django-axes), audit rows,
password rules and the idle timeout of staff sessions."""

import datetime

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from cardsystem.models import AuditLog
from tests.conftest import STAFF_PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


def log_in(client, username="analyst", password=STAFF_PASSWORD, ip="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip)


def fail(client, times, **kwargs):
    return [log_in(client, password="wrong password", **kwargs).status_code for _ in range(times)]


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_settings_are_the_documented_ones():
    assert settings.AXES_FAILURE_LIMIT == 10
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 30 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]
    assert settings.SESSION_COOKIE_AGE == 900
    assert "cardsystem.sessions.IdleTimeoutMiddleware" in settings.MIDDLEWARE


# --- Lockout ---------------------------------------------------------------------------------------


def test_nine_wrong_passwords_still_show_the_login_form(client, staff_user, clock):
    statuses = fail(client, 9)
    assert statuses == [200] * 9
    assert log_in(client).status_code == 302  # and the right password still works


def test_tenth_wrong_password_locks_the_account_out(client, staff_user, clock):
    fail(client, 9)
    locked = log_in(client, password="wrong password")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "axes/lockout.html" in [t.name for t in locked.templates]


def test_right_password_is_refused_during_lockout_and_accepted_after_cool_off(client, staff_user, clock):
    fail(client, 10)
    assert log_in(client).status_code == 429
    clock.shift(datetime.timedelta(minutes=30, seconds=1))
    response = log_in(client)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_attempts_during_lockout_do_not_extend_it_beyond_thirty_minutes(client, staff_user, clock):
    fail(client, 10)
    clock.shift(datetime.timedelta(minutes=20))
    assert log_in(client).status_code == 429
    assert log_in(client, password="wrong password").status_code == 429
    clock.shift(datetime.timedelta(minutes=10, seconds=1))
    assert log_in(client).status_code == 302


def test_lockout_of_an_account_holds_from_every_address(client, staff_user, clock):
    fail(client, 10, ip="10.0.0.1")
    assert log_in(client, ip="10.9.9.9").status_code == 429


def test_lockout_of_an_address_holds_for_every_account(client, staff_user, clock):
    UserFactory(username="colleague")
    for n in range(10):
        log_in(client, username=f"guess{n}", password="wrong password", ip="10.0.0.66")
    assert log_in(client, username="colleague", ip="10.0.0.66").status_code == 429
    assert log_in(client, username="colleague", ip="10.0.0.1").status_code == 302


def test_successful_login_clears_the_failures_of_its_account(client, staff_user, clock):
    fail(client, 9)
    assert log_in(client).status_code == 302
    client.logout()
    assert fail(client, 9) == [200] * 9


def test_failed_login_lockout_and_login_are_audited(client, staff_user, clock):
    fail(client, 1)
    failed = AuditLog.objects.get(action=AuditLog.Action.LOGIN_FAILED)
    assert (failed.actor_label, failed.ip_address) == ("analyst", "10.0.0.1")
    assert "wrong password" not in str(failed.details)
    fail(client, 9)
    lockout = AuditLog.objects.get(action=AuditLog.Action.LOCKOUT)
    assert lockout.details == {"username": "analyst", "ip_address": "10.0.0.1"}
    clock.shift(datetime.timedelta(minutes=31))
    log_in(client)
    login = AuditLog.objects.get(action=AuditLog.Action.LOGIN)
    assert login.actor_user == staff_user and login.ip_address == "10.0.0.1"


# --- Passwords ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "Tr0ub4dor&3x",  # 12 characters
        "correct-horse-battery-staple",
        "vK9#qLm2!xZp7@rT",
    ],
)
def test_accepts_long_strong_passwords(password):
    validate_password(password, UserFactory.build(username="analyst"))


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Tr0ub4dor&3", "at least 12 characters"),  # 11 characters
        ("password1234", "too common"),
        ("846290173654", "entirely numeric"),
        ("analyst@bank", "too similar"),
    ],
)
def test_rejects_short_common_numeric_or_personal_passwords(password, reason):
    with pytest.raises(ValidationError) as error:
        validate_password(password, UserFactory.build(username="analyst", email="analyst@bank.test"))
    assert any(reason in message for message in error.value.messages)


@pytest.mark.parametrize(
    "password",
    [
        "aaaaaaaaaaaa",  # twelve identical characters pass Django's own validators
        "abcdefghijklmnop",
        "qwertyuiopasdf",
        "1qaz2wsx3edc4rfv",
        "analystanalyst1",
    ],
)
def test_rejects_long_passwords_that_are_easy_to_guess(password):
    with pytest.raises(ValidationError) as error:
        validate_password(password, UserFactory.build(username="analyst", email="analyst@bank.test"))
    assert [e.code for e in error.value.error_list if e.code == "password_too_guessable"]


# --- Idle timeout ----------------------------------------------------------------------------------------


def test_session_ends_after_fifteen_idle_minutes(client, staff_user, clock):
    assert log_in(client).status_code == 302
    clock.shift(datetime.timedelta(minutes=14))
    assert client.get("/admin/").status_code == 200
    clock.shift(datetime.timedelta(minutes=15, seconds=1))
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_activity_keeps_the_session_alive(client, staff_user, clock):
    assert log_in(client).status_code == 302
    for _ in range(6):  # an hour and a half of work, never 15 minutes idle
        clock.shift(datetime.timedelta(minutes=14))
        assert client.get("/admin/cards/card/").status_code == 200


def test_a_busy_session_still_ends_eight_hours_after_its_login(client, staff_user, clock):
    assert settings.SESSION_ABSOLUTE_SECONDS == 8 * 60 * 60
    assert log_in(client).status_code == 302
    for _ in range(8 * 6 - 1):  # a working day, never ten minutes idle
        clock.shift(datetime.timedelta(minutes=10))
        assert client.get("/admin/cards/card/").status_code == 200
    clock.shift(datetime.timedelta(minutes=10, seconds=1))

    response = client.get("/admin/cards/card/")

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert AuditLog.objects.filter(action=AuditLog.Action.LOGOUT, actor_label="analyst").count() == 1
    assert log_in(client).status_code == 302  # a new login starts a new day
    assert client.get("/admin/cards/card/").status_code == 200


def test_a_session_with_no_login_time_is_not_trusted(client, staff_user):
    assert log_in(client).status_code == 302
    session = client.session
    del session["cardsystem.logged_in_at"]
    session.save()

    response = client.get("/admin/")

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
