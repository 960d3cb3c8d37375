"""Whether this process can serve: the load balancers' probes, and what counts as the
database being away (answered 503 with Retry-After, by the API's exception handler and
by handler500).

`/healthz` (alive) and `/readyz` (ready: the database and a shared cache answer) are
answered by `ProbeMiddleware`, first in MIDDLEWARE, before anything that would refuse
or burden a probe:
- SecurityMiddleware's HTTPS redirect: load balancers probe over plain HTTP;
- the ALLOWED_HOSTS check (CommonMiddleware): AWS target groups and Kubernetes probes
  send the instance's address as Host, which ALLOWED_HOSTS rightly does not list. The
  probes' answers never use the host, so a forged one cannot poison them;
- sessions and authentication: a probe from behind a browser's cookie must not read
  or refresh a staff session (cardsystem/sessions.py), nor touch the database at all.
"""

import logging

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)

# The errors that mean "the database cannot serve now, retry": OperationalError
# (connection refused or lost, the server shutting down, too many connections, a
# statement timeout, a deadlock; on SQLite also a lock held past the timeout) and
# InterfaceError (a connection already closed). IntegrityError, DataError and
# ProgrammingError are about the request or the code: a retry would fail the same way.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_DETAIL = "The database is briefly unavailable; nothing was changed by this request. Retry soon."

# Process-local caches cannot be away: only a shared one (Redis) is probed.
_LOCAL_CACHES = (LocMemCache, DummyCache)
_PROBE_KEY = "cardsystem:readyz"


def database_unavailable(error: BaseException | None) -> bool:
    return isinstance(error, DATABASE_UNAVAILABLE)


def alive() -> JsonResponse:
    """The process answers. Nothing else is asked: a database outage must take servers
    out of rotation (readiness), not get every healthy process restarted."""
    return JsonResponse({"status": "ok"})


def ready() -> JsonResponse:
    """200 when the database and the shared cache (if any) answer; 503 naming the part
    that did not, with Retry-After. Never a 500: any failure of a check means not ready."""
    checks = {"database": _database(), "cache": _cache()}
    if "unavailable" not in checks.values():
        return JsonResponse({"status": "ok", **checks})
    response = JsonResponse({"status": "unavailable", **checks}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        logger.warning("readiness: the database did not answer: %s: %s", type(error).__name__, error)
        return "unavailable"
    return "ok"


def _cache() -> str:
    cache = caches["default"]
    if isinstance(cache, _LOCAL_CACHES):
        return "not configured"
    try:
        # One constant value under one key: concurrent probes of several processes
        # write the same thing, so none can read another's and fail.
        cache.set(_PROBE_KEY, "ok", timeout=60)
        answered = cache.get(_PROBE_KEY) == "ok"
    except Exception as error:
        logger.warning("readiness: the cache did not answer: %s: %s", type(error).__name__, error)
        return "unavailable"
    return "ok" if answered else "unavailable"


_PROBES = {"/healthz": alive, "/readyz": ready}


class ProbeMiddleware:
    """Answers GET (and HEAD) /healthz and /readyz before every other middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = _PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        response = probe() if request.method in ("GET", "HEAD") else HttpResponseNotAllowed(["GET", "HEAD"])
        add_never_cache_headers(response)
        return response
