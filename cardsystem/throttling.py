"""The API's two rate limits, both answered 429 with Retry-After (whole seconds) and the
API's usual {"detail": ...} body, through DRF's Throttled exception and exception handler.
Both count in cardsystem.rates (shared through Redis when REDIS_URL is set).

Failed authentications per client address (settings.API_AUTH_FAILURE_RATE, default
100/minute): a key that is unknown, expired or revoked, or a malformed Authorization
header, counts against the address (cardsystem.client_ip). Beyond the rate, a failing
request from that address gets 429 instead of 401 until the window ends. A request with
no Authorization header is not an attempt and is not counted (the schema and docs are
open). A valid key from an over-limit address still works: an acquirer behind the same
NAT as an attacker must not be locked out, and keys are 256-bit, so the limit is about
the cost and noise of failures, not about guessing. Crossing the limit writes one audit
row (and one warning) per address and window, not one per refused request.

Per client and scope (ApiClient.rate_limits, set by staff): every API view names its
`required_scope`; a client with a rate for it is counted under its id and that scope.
No rate (the default) is no limit and costs no cache round trip; a rate costs one atomic
increment. The rate is read from the ApiClient row that authentication loads anyway, so
a change made on one server applies on every server from its next request.

The cache unavailable: both fail open (logged, see cardsystem.rates). A per-client rate
must not stop authorizations because Redis is away; failed authentications are refused
(401) anyway, so not counting them only loses the 429's back-off.
"""

import logging
from typing import NoReturn

from django.conf import settings
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.client_ip import client_ip
from cardsystem.models import ApiClient, AuditLog
from cardsystem.rates import count_hit, parse_rate

logger = logging.getLogger(__name__)


class TooManyFailedAuthentications(exceptions.Throttled):
    default_detail = "Too many failed authentications from this address."
    extra_detail_singular = "Try again in {wait} second."
    extra_detail_plural = "Try again in {wait} seconds."


def refuse_authentication(request, message: str) -> NoReturn:
    """Raise the answer to a failed authentication: 401 with `message`, or 429 when the
    request's address is over the failure limit. Counts the failure."""
    rate = parse_rate(settings.API_AUTH_FAILURE_RATE)
    address = client_ip(request)
    hit = count_hit(f"auth-failures:{address}", rate)
    if hit is not None and hit.count == 1:
        # The first failure from an address in each window: a bounded trail (at most this
        # and the "over the limit" row per address and window), never one row per request.
        audit_record(
            actor=Actor(type=AuditLog.ActorType.SYSTEM, label="API authentication", ip_address=address),
            action=AuditAction.API_AUTH_FAILED,
            target_label=address or "",
            details={"reason": message, "window": str(rate)},
        )
    if hit is None or hit.within(rate):
        raise exceptions.AuthenticationFailed(message)
    if hit.count == rate.requests + 1:
        logger.warning("Failed API authentications from %s passed the limit of %s.", address, rate)
        audit_record(
            actor=Actor(type=AuditLog.ActorType.SYSTEM, label="API rate limit", ip_address=address),
            action=AuditAction.API_AUTH_FAILURES_LIMITED,
            target_label=address or "",
            details={"limit": str(rate), "refused_for_seconds": hit.retry_after},
        )
    raise TooManyFailedAuthentications(wait=hit.retry_after)


class ClientScopeRateThrottle(BaseThrottle):
    """The rate staff set for the authenticated client and the view's scope, if any."""

    def allow_request(self, request, view):
        client, scope = request.auth, getattr(view, "required_scope", None)
        if not isinstance(client, ApiClient) or not scope or not client.rate_limits.get(scope):
            return True
        rate = parse_rate(client.rate_limits[scope])
        hit = count_hit(f"client:{client.pk}:{scope}", rate)
        if hit is None or hit.within(rate):
            return True
        self._wait = hit.retry_after
        return False

    def wait(self):
        return self._wait
