"""Rate limits through the API: failed authentications per address, each client's rate per
scope, and the client address behind trusted proxies. The clock is frozen (time_machine):
windows are fixed minutes, seconds and hours of the Unix clock."""

import datetime
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import time_machine
from axes.helpers import get_client_ip_address
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cardsystem.audit import Actor
from cardsystem.checks import check_rate_limit_settings
from cardsystem.client_ip import client_ip
from cardsystem.models import AuditLog
from cardsystem.services import api_client_set_rate_limits
from tests.factories import make_api_client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# Half a minute into a minute: a minute's window has 30 s left, a second's, 0.75 s.
NOW = datetime.datetime(2026, 3, 14, 12, 0, 30, 250000, tzinfo=datetime.UTC)
NEXT_MINUTE = datetime.datetime(2026, 3, 14, 12, 1, tzinfo=datetime.UTC)
BAD_KEY = "Bearer csk_" + "x" * 43
ACTOR = Actor.system("tests")
LIMITED = AuditLog.Action.API_AUTH_FAILURES_LIMITED


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def fail(address="198.51.100.1", authorization=BAD_KEY, **headers):
    api = APIClient(REMOTE_ADDR=address)
    api.credentials(HTTP_AUTHORIZATION=authorization)
    return api.get("/api/v1/bins/", **headers)


def fail_times(count, **kwargs):
    return [fail(**kwargs).status_code for _ in range(count)]


def api_for(client_key, address="198.51.100.1"):
    api = APIClient(REMOTE_ADDR=address)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {client_key}")
    return api


def limited_rows():
    return list(AuditLog.objects.filter(action=LIMITED))


# --- Failed authentications per address -----------------------------------------------------


def test_the_101st_failed_authentication_in_a_minute_is_429_with_retry_after():
    assert fail_times(100) == [401] * 100

    response = fail()

    assert response.status_code == 429
    assert response["Retry-After"] == "30"
    assert response.json() == {
        "detail": "Too many failed authentications from this address. Try again in 30 seconds."
    }
    assert "WWW-Authenticate" not in response


@pytest.mark.parametrize(
    "authorization",
    ["Bearer csk_unknown", "Bearer not-our-prefix", "Token csk_x", "Bearer ", "Basic dXNlcjpwYXNz"],
)
def test_every_kind_of_failed_authentication_counts(authorization):
    assert fail_times(100, authorization=authorization) == [401] * 100
    assert fail(authorization=authorization).status_code == 429


def test_expired_and_revoked_keys_count_as_failures():
    from cardsystem.services import api_client_revoke

    client, key = make_api_client("manage")
    api_client_revoke(client=client, actor=ACTOR)
    assert fail_times(100, authorization=f"Bearer {key}") == [401] * 100
    assert fail(authorization=f"Bearer {key}").status_code == 429


def test_failed_authentications_leave_a_bounded_trail_per_address_and_window():
    fail_times(150)
    fail_times(3, address="198.51.100.2")

    failed = AuditLog.objects.filter(action=AuditLog.Action.API_AUTH_FAILED).order_by("id")
    assert [(row.ip_address, row.actor_type) for row in failed] == [
        ("198.51.100.1", "system"),
        ("198.51.100.2", "system"),
    ]
    assert len(limited_rows()) == 1


def test_requests_without_a_key_are_not_counted():
    for _ in range(150):
        assert APIClient(REMOTE_ADDR="198.51.100.1").get("/api/v1/bins/").status_code == 401
    assert fail().status_code == 401


def test_another_address_is_unaffected():
    fail_times(101)

    assert fail(address="198.51.100.2").status_code == 401
    assert fail(address="2001:db8::7").status_code == 401


def test_the_limit_ends_with_its_minute(frozen_clock):
    assert fail_times(102)[-2:] == [429, 429]

    frozen_clock.move_to(NEXT_MINUTE)

    assert fail().status_code == 401


def test_a_valid_key_from_an_over_limit_address_still_works():
    _, key = make_api_client("manage")
    fail_times(101)

    assert api_for(key).get("/api/v1/bins/").status_code == 200
    assert fail().status_code == 429


def test_crossing_the_limit_is_audited_once_per_address_and_minute(frozen_clock):
    fail_times(250)
    fail_times(120, address="198.51.100.2")

    rows = limited_rows()
    assert sorted(row.ip_address for row in rows) == ["198.51.100.1", "198.51.100.2"]
    assert rows[0].details == {"limit": "100/minute", "refused_for_seconds": 30}
    assert rows[0].actor_type == AuditLog.ActorType.SYSTEM

    frozen_clock.move_to(NEXT_MINUTE)
    fail_times(101)

    assert len(limited_rows()) == 3


def test_the_failure_rate_is_a_setting(settings):
    settings.API_AUTH_FAILURE_RATE = "3/hour"

    assert fail_times(4) == [401, 401, 401, 429]
    # 12:00:30.25 in a window that ends at 13:00.
    assert fail()["Retry-After"] == str(59 * 60 + 30)


# --- The client's address ----------------------------------------------------------------------


def test_a_spoofed_x_forwarded_for_is_ignored_without_trusted_proxies():
    statuses = [fail(HTTP_X_FORWARDED_FOR=f"203.0.113.{n % 250}").status_code for n in range(101)]

    assert statuses == [401] * 100 + [429]
    assert limited_rows()[0].ip_address == "198.51.100.1"


@pytest.fixture
def one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


def test_behind_a_trusted_proxy_the_address_it_saw_is_counted(one_proxy):
    proxy = "10.0.0.5"
    # What the client wrote itself, before the proxy's entry, is not read.
    statuses = [
        fail(address=proxy, HTTP_X_FORWARDED_FOR=f"192.0.2.{n % 250}, 203.0.113.9").status_code
        for n in range(101)
    ]

    assert statuses == [401] * 100 + [429]
    assert fail(address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.10").status_code == 401
    assert limited_rows()[0].ip_address == "203.0.113.9"


@pytest.mark.parametrize(
    "forwarded",
    ["not-an-address", "", " , ", "203.0.113.9, garbage\x7f", "[2001:db8::1]:443", "999.1.1.1", "a" * 5000],
)
def test_a_malformed_x_forwarded_for_counts_under_the_proxy_address_without_an_error(one_proxy, forwarded):
    statuses = fail_times(101, address="10.0.0.5", HTTP_X_FORWARDED_FOR=forwarded)

    assert statuses == [401] * 100 + [429]
    assert limited_rows()[0].ip_address == "10.0.0.5"


def test_django_axes_and_the_api_see_the_same_address(one_proxy):
    request = RequestFactory().get(
        "/admin/login/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9"
    )

    assert client_ip(request) == get_client_ip_address(request) == "203.0.113.9"


def test_without_trusted_proxies_django_axes_ignores_x_forwarded_for():
    request = RequestFactory().get(
        "/admin/login/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )

    assert client_ip(request) == get_client_ip_address(request) == "10.0.0.5"


def _manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("TRUSTED_PROXY_COUNT", "API_AUTH_FAILURE_RATE")}
    return subprocess.run(  # noqa: S603 (fixed arguments)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _num_proxies(**env) -> str:
    code = 'from django.conf import settings; print(settings.REST_FRAMEWORK["NUM_PROXIES"])'
    return _manage("shell", "-c", code, **env).stdout.splitlines()[-1]


def test_trusted_proxy_count_comes_from_the_environment_and_feeds_drf():
    assert _num_proxies() == "0"
    assert _num_proxies(TRUSTED_PROXY_COUNT="1") == "1"


def test_a_malformed_failure_rate_is_a_system_check_error():
    result = _manage("check", API_AUTH_FAILURE_RATE="lots")

    assert result.returncode != 0
    assert "cardsystem.E004" in result.stderr


def test_a_negative_proxy_count_is_a_system_check_error(settings):
    settings.TRUSTED_PROXY_COUNT = -1

    assert [error.id for error in check_rate_limit_settings(None)] == ["cardsystem.E005"]
    settings.TRUSTED_PROXY_COUNT = 0
    assert check_rate_limit_settings(None) == []


# --- Each client's rate per scope -------------------------------------------------------------------


def authorize(api):
    """A request to the authorize scope; its body is refused (400) after the limits ran."""
    return api.post("/api/v1/authorizations/", {}, format="json")


def test_a_client_without_rates_is_never_limited():
    _, key = make_api_client("authorize", "manage")
    api = api_for(key)

    assert {api.get("/api/v1/bins/").status_code for _ in range(150)} == {200}
    assert {authorize(api).status_code for _ in range(150)} == {400}


def test_a_client_over_its_rate_gets_429_until_the_window_ends(frozen_clock):
    client, key = make_api_client("manage")
    api_client_set_rate_limits(client=client, rate_limits={"manage": "3/minute"}, actor=ACTOR)
    api = api_for(key)

    assert [api.get("/api/v1/bins/").status_code for _ in range(4)] == [200, 200, 200, 429]
    response = api.get("/api/v1/bins/")
    assert response["Retry-After"] == "30"
    assert response.json() == {"detail": "Request was throttled. Expected available in 30 seconds."}

    frozen_clock.move_to(NEXT_MINUTE)
    assert api.get("/api/v1/bins/").status_code == 200


def test_a_per_second_rate_retries_after_one_second():
    client, key = make_api_client("authorize")
    api_client_set_rate_limits(client=client, rate_limits={"authorize": "2/second"}, actor=ACTOR)
    api = api_for(key)

    assert [authorize(api).status_code for _ in range(3)] == [400, 400, 429]
    assert authorize(api)["Retry-After"] == "1"


def test_scopes_are_limited_independently():
    client, key = make_api_client("authorize", "manage")
    api_client_set_rate_limits(client=client, rate_limits={"authorize": "2/minute"}, actor=ACTOR)
    api = api_for(key)

    assert [authorize(api).status_code for _ in range(3)] == [400, 400, 429]
    assert {api.get("/api/v1/bins/").status_code for _ in range(120)} == {200}


def test_clients_are_limited_independently():
    limited, limited_key = make_api_client("manage")
    _, other_key = make_api_client("manage")
    api_client_set_rate_limits(client=limited, rate_limits={"manage": "1/hour"}, actor=ACTOR)

    assert [api_for(limited_key).get("/api/v1/bins/").status_code for _ in range(2)] == [200, 429]
    assert api_for(other_key).get("/api/v1/bins/").status_code == 200


def test_a_changed_rate_applies_from_the_next_request():
    client, key = make_api_client("manage")
    api = api_for(key)
    assert api.get("/api/v1/bins/").status_code == 200

    api_client_set_rate_limits(client=client, rate_limits={"manage": "1/hour"}, actor=ACTOR)
    assert [api.get("/api/v1/bins/").status_code for _ in range(2)] == [200, 429]

    api_client_set_rate_limits(client=client, rate_limits={}, actor=ACTOR)
    assert api.get("/api/v1/bins/").status_code == 200


def test_without_a_rate_no_counter_is_touched_and_with_one_a_single_count():
    client, key = make_api_client("manage")
    api = api_for(key)
    with mock.patch("cardsystem.throttling.count_hit") as count_hit:
        for _ in range(5):
            api.get("/api/v1/bins/")
        assert count_hit.call_count == 0

        api_client_set_rate_limits(client=client, rate_limits={"manage": "100/second"}, actor=ACTOR)
        count_hit.return_value = None
        for _ in range(5):
            api.get("/api/v1/bins/")
        assert count_hit.call_count == 5


def test_a_rate_costs_no_database_query():
    client, key = make_api_client("manage")
    api = api_for(key)
    api.get("/api/v1/bins/")  # last use recorded: later requests are reads only

    with CaptureQueriesContext(connection) as without_rate:
        assert api.get("/api/v1/bins/").status_code == 200
    api_client_set_rate_limits(client=client, rate_limits={"manage": "100/second"}, actor=ACTOR)
    with CaptureQueriesContext(connection) as with_rate:
        assert api.get("/api/v1/bins/").status_code == 200

    assert len(with_rate) == len(without_rate)


# --- The schema -------------------------------------------------------------------------------------


def test_the_schema_documents_429_with_retry_after_on_every_operation_that_takes_a_key():
    schema = APIClient().get("/api/schema/?format=json").json()
    operations = [
        operation
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
        if method in {"get", "post", "patch", "put", "delete"}
    ]

    assert operations
    for operation in operations:
        answer = operation["responses"]["429"]
        assert answer["headers"]["Retry-After"]["schema"]["type"] == "integer"
        assert answer["content"]["application/json"]["schema"]["required"] == ["detail"]
