"""Request rates ("50/second") and the fixed-window counters the API's rate limits count
with, in Django's default cache: Redis, shared by every app server, when REDIS_URL is set;
the process's own memory otherwise (each process then counts alone).

Why these counters, and not a library's:
- DRF's SimpleRateThrottle keeps a list of request times per key and writes it back with
  cache get + set: two app servers counting at once both read the same list and the
  second write drops the first's request, so under load a limit lets through several
  times its rate. DRF's throttle *framework* is used (cardsystem/throttling.py: throttle
  classes, 429 with Retry-After from its Throttled exception); its counting is not.
- django-ratelimit counts as here (a fixed window, cache add + incr), but it is a view
  decorator with its own keys and groups that answers 403 unless told otherwise; DRF's
  throttle classes already run on every API view and read its `required_scope`.
What is left is the counter, a few lines:
- the key names its window (`rate:<key>:<period>:<window number>`), so a count never
  outlives its window, even if an expiry were lost;
- on Redis: SET NX EX (open the window) and INCR, in one MULTI/EXEC: one round trip,
  atomic across every app server. Django's RedisCache.incr is EXISTS then INCR: two round
  trips, and a key expiring between them is recreated without an expiry;
- elsewhere (locmem): Django's cache add + incr, atomic within the process.
A fixed window lets up to twice the rate through across a window's edge (the end of one,
the start of the next); that is the usual price of one counter per window.

The cache failing is not an error of the request: `count_hit` returns None and each limit
decides (both API limits fail open, cardsystem/throttling.py). After a failure this
process leaves the cache alone for CACHE_RETRY_SECONDS, so a Redis that does not answer
costs one socket timeout (1 s, settings.CACHES) per process per interval, not one per
request, and one warning instead of a flood.
"""

import functools
import logging
import math
import re
import time
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

PERIODS = {"second": 1, "minute": 60, "hour": 3600}
_UNITS = {
    **{name: "second" for name in ("s", "sec", "second", "seconds")},
    **{name: "minute" for name in ("m", "min", "minute", "minutes")},
    **{name: "hour" for name in ("h", "hour", "hours")},
}
_RATE = re.compile(r"^\s*([0-9]{1,7})\s*/\s*([a-z]+)\s*$", re.ASCII)
MAX_REQUESTS = 1_000_000
CACHE_RETRY_SECONDS = 5.0
# A window's counter lives this much past the window's end: servers whose clocks are a
# little behind still find it.
_EXPIRY_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class Rate:
    requests: int
    period: str  # a key of PERIODS

    @property
    def seconds(self) -> int:
        return PERIODS[self.period]

    def __str__(self) -> str:
        return f"{self.requests}/{self.period}"


@functools.lru_cache(maxsize=256)
def parse_rate(text: str) -> Rate:
    """ "50/second", "1000/minute", "20000/hour" (also s, sec, m, min, h). Raises ValueError
    with a message for people."""
    match = _RATE.match(text.lower()) if isinstance(text, str) else None
    if match is None or match[2] not in _UNITS:
        raise ValueError('Give a number of requests per second, minute or hour, such as "50/second".')
    requests = int(match[1])
    if not 1 <= requests <= MAX_REQUESTS:
        raise ValueError(f"Give from 1 to {MAX_REQUESTS:,} requests; leave it empty for no limit.")
    return Rate(requests=requests, period=_UNITS[match[2]])


@dataclass(frozen=True)
class Hit:
    count: int  # this request's number in its window, from 1
    retry_after: int  # whole seconds until the window ends, at least 1

    def within(self, rate: Rate) -> bool:
        return self.count <= rate.requests


_cache_skipped_until = 0.0


def count_hit(key: str, rate: Rate, *, now: float | None = None) -> Hit | None:
    """Count one request under `key` in the current window of `rate`; None when the cache
    cannot count (see the module's docstring). `now` (a Unix time) defaults to the clock."""
    global _cache_skipped_until
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    retry_after = max(1, math.ceil((window + 1) * rate.seconds - now))
    if time.monotonic() < _cache_skipped_until:
        return None
    try:
        count = _increment(f"rate:{key}:{rate.period}:{window}", rate.seconds + _EXPIRY_MARGIN_SECONDS)
    except Exception as error:
        _cache_skipped_until = time.monotonic() + CACHE_RETRY_SECONDS
        logger.warning(
            "Rate limits are not counted for %s s: the cache failed: %s: %s",
            CACHE_RETRY_SECONDS,
            type(error).__name__,
            error,
        )
        return None
    return Hit(count=count, retry_after=retry_after)


def forget_cache_failure() -> None:
    """Try the cache again at the next count (tests; the interval otherwise)."""
    global _cache_skipped_until
    _cache_skipped_until = 0.0


def _increment(key: str, timeout: int) -> int:
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        # Django's cache API has no atomic "increment or start at 1 with an expiry": its
        # Redis client is asked directly, under the key Django itself would use.
        client = cache._cache.get_client(full_key, write=True)
        with client.pipeline(transaction=True) as pipe:
            pipe.set(full_key, 0, ex=timeout, nx=True)
            pipe.incr(full_key)
            return pipe.execute()[1]
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: a new window of one
        cache.add(key, 1, timeout)
        return 1
