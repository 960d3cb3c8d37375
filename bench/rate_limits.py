"""What a rate limit costs an API request: the per-client throttle with no rate set, and
one counted request on the process's memory and on Redis (this project's one-round-trip
SET NX EX + INCR, beside Django's cache add + incr, the textbook way).

    .venv/bin/python bench/rate_limits.py [--calls 20000] [--redis redis://127.0.0.1:6379/7]

Counts under a key prefix of its own and deletes its keys afterwards. Prints microseconds
per call (the median of five runs) and the load average it started with.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.core.cache import caches  # noqa: E402
from django.test import override_settings  # noqa: E402

from cardsystem.models import ApiClient  # noqa: E402
from cardsystem.rates import count_hit, parse_rate  # noqa: E402
from cardsystem.throttling import ClientScopeRateThrottle  # noqa: E402


def per_call_us(function, calls: int) -> float:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.calls} calls, median of 5 runs")
    rate = parse_rate("1000000/hour")
    client = ApiClient(name="bench", scopes=["authorize"], rate_limits={})
    request, view = SimpleNamespace(auth=client), SimpleNamespace(required_scope="authorize")
    throttle = ClientScopeRateThrottle()
    rows = [
        (
            "throttle, no rate set (no cache)",
            per_call_us(lambda: throttle.allow_request(request, view), args.calls),
        )
    ]
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}):
        rows.append(("count_hit, local memory", per_call_us(lambda: count_hit("bench", rate), args.calls)))
    prefix = f"bench-rate-{uuid.uuid4().hex}"
    redis_cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": args.redis,
        "KEY_PREFIX": prefix,
    }
    with override_settings(CACHES={"default": redis_cache}):
        cache = caches["default"]
        rows.append(
            (
                "count_hit, Redis (SET NX EX + INCR, one round trip)",
                per_call_us(lambda: count_hit("bench", rate), args.calls),
            )
        )

        def add_incr():
            if not cache.add("bench-add-incr", 1, 3600):
                cache.incr("bench-add-incr")

        rows.append(("Django cache add + incr, Redis (for comparison)", per_call_us(add_incr, args.calls)))
        client_ = cache._cache.get_client(write=True)
        client_.delete(*client_.keys(f"{prefix}:*"))
    for label, microseconds in rows:
        print(f"{label:55} {microseconds:8.1f} µs")


if __name__ == "__main__":
    main()
