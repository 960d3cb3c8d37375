"""`GET /metrics`: the Prometheus metrics (cardsystem/metrics.py), for the machine itself or
a scraper holding the token.

Who may read them:
- a request from this machine's loopback (REMOTE_ADDR 127.0.0.1 or ::1) that no proxy
  forwarded: one carrying X-Forwarded-For, Forwarded or X-Real-IP came through a proxy
  (nginx on the same host connects from loopback too) on behalf of someone else, and
  counts as remote whatever TRUSTED_PROXY_COUNT says;
- or a request with `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time),
  when METRICS_TOKEN is set: a Prometheus server scraping each app server over the
  private network.

Anyone else gets a 404, as for a URL that does not exist: nothing tells a scanner that
the endpoint is here or that a token would open it (a 403 would), and the metrics give
away traffic and fraud volumes. A wrong token is logged (never the token itself), so an
operator whose scraper gets 404s finds out why.

Answered by a middleware placed right after the probes' (settings.MIDDLEWARE), for the
probes' reasons (cardsystem/health.py): a scraper asks over plain HTTP with the instance's
address as Host, so the HTTPS redirect and the ALLOWED_HOSTS check must not answer it
first, and it has no session to read.
"""

import hmac
import ipaddress
import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed, HttpResponseNotFound
from django.utils.cache import add_never_cache_headers
from prometheus_client import CONTENT_TYPE_LATEST

from cardsystem import metrics

logger = logging.getLogger(__name__)

PATH = "/metrics"
# Headers a proxy adds to say for whom it forwards: their presence means "not local".
_FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def from_loopback(request) -> bool:
    """The request comes from this machine itself, not through a proxy."""
    if any(request.META.get(header) for header in _FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return (mapped or address).is_loopback


def token_matches(request) -> bool | None:
    """True or False when the request carries a bearer token and METRICS_TOKEN is set;
    None when either is missing."""
    expected = settings.METRICS_TOKEN
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not given:
        return None
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def may_read(request) -> bool:
    matches = token_matches(request)
    if matches is False:
        logger.warning(
            "metrics: a request with a wrong token was refused", extra={"event": "metrics_refused"}
        )
    return bool(matches) or from_loopback(request)


def metrics_response(request) -> HttpResponse:
    if not may_read(request):
        response = HttpResponseNotFound(b"Not Found", content_type="text/plain")
    elif request.method not in ("GET", "HEAD"):
        response = HttpResponseNotAllowed(["GET", "HEAD"])
    else:
        response = HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
    add_never_cache_headers(response)
    return response


class MetricsMiddleware:
    """Answers /metrics before every middleware but the probes'."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info != PATH:
            return self.get_response(request)
        return metrics_response(request)
