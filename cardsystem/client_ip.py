"""The address a request comes from, one answer for the API's rate limits, the audit log
and django-axes (AXES_CLIENT_IP_CALLABLE), so that all three count and record the same
address.

REMOTE_ADDR, unless TRUSTED_PROXY_COUNT (REST_FRAMEWORK["NUM_PROXIES"]) proxies stand in
front and each appends the address it received from to X-Forwarded-For: then the entry
that many places from the end, the last one a trusted proxy wrote. Entries before it are
the client's own words and are never read. With no trusted proxy the header is ignored,
so a client cannot choose the address it is counted under.
"""

import ipaddress

from rest_framework.throttling import BaseThrottle

_THROTTLE = BaseThrottle()  # its get_ident() reads NUM_PROXIES; it keeps no state


def client_ip(request) -> str | None:
    """The client's IP address (a Django or DRF request). An X-Forwarded-For entry that is
    not an IP address (a proxy misconfigured, a request that bypassed it) gives REMOTE_ADDR,
    never an error: the address is stored in GenericIPAddressField columns and cache keys."""
    remote_addr = request.META.get("REMOTE_ADDR") or None
    candidate = _THROTTLE.get_ident(request)
    if candidate == remote_addr:
        return remote_addr
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote_addr
