"""Where rate limits count: in Redis, shared by every app server, when REDIS_URL is set; in
each process's memory otherwise; and what happens when Redis is away (both limits fail open).

Uses the Redis on 127.0.0.1:6379, database 7, under a key prefix of its own per test, and
deletes its keys afterwards."""

import datetime
import logging
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import time_machine
from django.test import override_settings
from rest_framework.test import APIClient

from cardsystem import rates
from cardsystem.audit import Actor
from cardsystem.rates import count_hit, parse_rate
from cardsystem.services import api_client_set_rate_limits
from tests.factories import make_api_client

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/7"
NOW = datetime.datetime(2026, 3, 14, 12, 0, 30, tzinfo=datetime.UTC)
HOURLY = parse_rate("1000/hour")
ACTOR = Actor.system("tests")


def redis_caches(location, prefix=""):
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


@pytest.fixture
def prefix():
    """A key prefix of this test's own in Redis database 7, emptied afterwards."""
    name = f"test-rate-{uuid.uuid4().hex}"
    yield name
    server = redis.Redis.from_url(REDIS_URL)
    keys = list(server.scan_iter(f"*{name}*"))
    if keys:
        server.delete(*keys)
    server.close()


@pytest.fixture
def shared_cache(prefix):
    # Not the `settings` fixture: this must be undone before the suite's own cache.clear().
    with override_settings(CACHES=redis_caches(REDIS_URL, prefix)):
        yield


@pytest.fixture
def redis_down():
    # Nothing listens on port 1: refused at once, as a stopped Redis is.
    with override_settings(CACHES=redis_caches("redis://127.0.0.1:1/7")):
        yield


def count_in_process(key, times, *, redis_url=None, prefix=""):
    """The counts a separate Python process (another app server) gets for `times` hits
    of `key`, in the window of NOW, with REDIS_URL set or not, under the cache's `prefix`."""
    code = (
        "import sys, django; django.setup(); "
        "from django.conf import settings; settings.CACHES['default']['KEY_PREFIX'] = sys.argv[4]; "
        "from cardsystem.rates import count_hit, parse_rate; "
        "print(*[count_hit(sys.argv[1], parse_rate('1000/hour'), now=float(sys.argv[2])).count "
        "for _ in range(int(sys.argv[3]))])"
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["DJANGO_SETTINGS_MODULE"] = "cardsystem.settings"
    if redis_url:
        env["REDIS_URL"] = redis_url
    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [sys.executable, "-c", code, key, str(NOW.timestamp()), str(times), prefix],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [int(count) for count in result.stdout.split()]


def test_two_app_servers_share_their_counts_through_redis(prefix):
    first = count_in_process("client:1", 3, redis_url=REDIS_URL, prefix=prefix)
    second = count_in_process("client:1", 2, redis_url=REDIS_URL, prefix=prefix)

    assert (first, second) == ([1, 2, 3], [4, 5])


def test_without_redis_each_process_counts_alone():
    key = f"client:{uuid.uuid4().hex}"

    assert count_in_process(key, 3) == [1, 2, 3]
    assert count_in_process(key, 2) == [1, 2]


def test_counts_through_one_redis_connection_are_seen_by_another(prefix):
    from django.core.cache.backends.redis import RedisCache

    options = redis_caches(REDIS_URL, prefix)["default"]
    other_server = RedisCache(REDIS_URL, {"KEY_PREFIX": prefix, "OPTIONS": options["OPTIONS"]})
    with override_settings(CACHES=redis_caches(REDIS_URL, prefix)):
        hits = [count_hit("k", HOURLY, now=NOW.timestamp()).count for _ in range(3)]
    window = int(NOW.timestamp() // 3600)

    assert hits == [1, 2, 3]
    assert other_server.get(f"rate:k:hour:{window}") == 3
    # The window's counter expires shortly after the window: nothing is kept for ever.
    client = other_server._cache.get_client()
    ttl = client.ttl(other_server.make_and_validate_key(f"rate:k:hour:{window}"))
    assert 3600 < ttl <= 3600 + 5


def test_concurrent_counts_on_separate_redis_connections_lose_nothing(shared_cache):
    # Django's caches are per thread: each thread counts through its own connection.
    def count_ten():
        return [count_hit("k", HOURLY, now=NOW.timestamp()).count for _ in range(10)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = [count for batch in pool.map(lambda _: count_ten(), range(16)) for count in batch]

    assert sorted(counts) == list(range(1, 161))


@pytest.mark.django_db
def test_a_client_rate_is_enforced_across_app_servers_through_redis(shared_cache, prefix):
    client, key = make_api_client("manage")
    api_client_set_rate_limits(client=client, rate_limits={"manage": "5/hour"}, actor=ACTOR)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    counter = f"client:{client.pk}:manage"

    with time_machine.travel(NOW, tick=False):
        # Another app server already answered three of this client's requests this hour.
        assert count_in_process(counter, 3, redis_url=REDIS_URL, prefix=prefix) == [1, 2, 3]
        statuses = [api.get("/api/v1/bins/").status_code for _ in range(3)]
        # And it sees this server's requests.
        assert count_in_process(counter, 1, redis_url=REDIS_URL, prefix=prefix) == [7]

    assert statuses == [200, 200, 429]


@pytest.mark.django_db
def test_the_failure_limit_is_shared_through_redis(shared_cache):
    api = APIClient(REMOTE_ADDR="198.51.100.9")
    api.credentials(HTTP_AUTHORIZATION="Bearer csk_unknown")
    with time_machine.travel(NOW, tick=False):
        statuses = [api.get("/api/v1/bins/").status_code for _ in range(101)]

    assert statuses == [401] * 100 + [429]


# --- Redis away ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_client_rate_fails_open_when_redis_is_down(redis_down, caplog):
    client, key = make_api_client("manage")
    api_client_set_rate_limits(client=client, rate_limits={"manage": "1/hour"}, actor=ACTOR)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    with caplog.at_level(logging.WARNING, logger="cardsystem.rates"):
        statuses = [api.get("/api/v1/bins/").status_code for _ in range(5)]

    assert statuses == [200] * 5
    # One warning, not one per request: the process leaves the cache alone for a while.
    (record,) = [r for r in caplog.records if r.name == "cardsystem.rates"]
    assert "the cache failed" in record.getMessage() and key not in record.getMessage()


@pytest.mark.django_db
def test_failed_authentications_are_401_not_429_when_redis_is_down(redis_down):
    api = APIClient(REMOTE_ADDR="198.51.100.9")
    api.credentials(HTTP_AUTHORIZATION="Bearer csk_unknown")

    assert {api.get("/api/v1/bins/").status_code for _ in range(120)} == {401}


def test_after_a_failure_the_cache_is_left_alone_until_the_retry_interval_passes(redis_down, monkeypatch):
    calls = []
    real_increment = rates._increment
    monkeypatch.setattr(rates, "_increment", lambda *args: calls.append(args) or real_increment(*args))

    assert count_hit("k", HOURLY) is None
    assert count_hit("k", HOURLY) is None
    assert len(calls) == 1

    monkeypatch.setattr(rates, "_cache_skipped_until", 0.0)  # the interval has passed
    assert count_hit("k", HOURLY) is None
    assert len(calls) == 2


def test_counting_resumes_when_redis_is_back(prefix, redis_down):
    assert count_hit("k", HOURLY, now=NOW.timestamp()) is None
    rates.forget_cache_failure()  # the retry interval has passed

    with override_settings(CACHES=redis_caches(REDIS_URL, prefix)):
        assert count_hit("k", HOURLY, now=NOW.timestamp()).count == 1
