"""The one way to write the audit log.

Services call `audit_record` inside their own transaction, so an action and its
audit row commit or roll back together.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.db import models

from cardsystem.card_numbers import mask_pans
from cardsystem.client_ip import client_ip
from cardsystem.models import ApiClient, AuditLog

AuditAction = AuditLog.Action
# An id, not typed text: its digit groups can look like a card number to the pattern.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff user (admin), an API client (API) or the system (commands)."""

    type: str
    label: str
    user: Any = None
    client: ApiClient | None = None
    ip_address: str | None = None

    @classmethod
    def for_user(cls, user, ip_address: str | None = None) -> "Actor":
        return cls(type=AuditLog.ActorType.USER, label=user.get_username(), user=user, ip_address=ip_address)

    @classmethod
    def for_client(cls, client: ApiClient, ip_address: str | None = None) -> "Actor":
        return cls(
            type=AuditLog.ActorType.API_CLIENT, label=client.name, client=client, ip_address=ip_address
        )

    @classmethod
    def system(cls, label: str) -> "Actor":
        return cls(type=AuditLog.ActorType.SYSTEM, label=label)

    @classmethod
    def for_request(cls, request) -> "Actor":
        """The actor behind an admin or API request."""
        ip_address = client_ip(request)
        if isinstance(getattr(request, "auth", None), ApiClient):
            return cls.for_client(request.auth, ip_address)
        return cls.for_user(request.user, ip_address)


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: models.Model | None = None,
    details: dict | None = None,
    target_label: str | None = None,
) -> AuditLog:
    """Append one audit row. `details` must hold no card data: pass masked values only.
    Whatever people typed (a login name, a reason) is masked here too, should it hold a
    (Luhn-valid) card number: the audit log never stores one in clear."""
    label = target_label if target_label is not None else str(target) if target is not None else ""
    return AuditLog.objects.create(
        actor_type=actor.type,
        actor_user=actor.user if actor.user is not None and actor.user.pk else None,
        actor_client=actor.client,
        actor_label=mask_pans(actor.label)[:150],
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=mask_pans(label)[:200],
        details=_masked(details or {}),
        ip_address=actor.ip_address,
    )


def _masked(value):
    if isinstance(value, str):
        return value if _UUID.fullmatch(value) else mask_pans(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value
