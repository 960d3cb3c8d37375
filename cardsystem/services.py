import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.models import ApiClient
from cardsystem.queries import api_client_by_key_hash

KEY_PREFIX = "csk_"


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_client_create(*, name: str, scopes: list[str], actor: Actor) -> tuple[ApiClient, str]:
    """Create an API client. Returns it with its key, which exists nowhere else afterwards."""
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = "Give the client a name."
    elif len(name) > 100:
        errors["name"] = "At most 100 characters."
    valid = set(ApiClient.Scope.values)
    if not scopes:
        errors["scopes"] = f"Give at least one scope: {', '.join(sorted(valid))}."
    elif not set(scopes) <= valid:
        errors["scopes"] = (
            f"Unknown scope {sorted(set(scopes) - valid)[0]!r}: use {', '.join(sorted(valid))}."
        )
    if errors:
        raise ValidationError(errors)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            client = ApiClient.objects.create(
                name=name, key_prefix=key[:10], key_hash=hash_api_key(key), scopes=sorted(set(scopes))
            )
            audit_record(
                actor=actor,
                action=AuditAction.API_CLIENT_CREATED,
                target=client,
                details={"scopes": client.scopes},
            )
    except IntegrityError:
        raise ValidationError({"name": "An API client with this name already exists."}) from None
    return client, key


def api_client_revoke(*, client: ApiClient, actor: Actor) -> ApiClient:
    with transaction.atomic():
        updated = ApiClient.objects.filter(pk=client.pk, is_active=True).update(
            is_active=False, revoked_at=timezone.now()
        )
        if updated:
            audit_record(actor=actor, action=AuditAction.API_CLIENT_REVOKED, target=client)
    client.refresh_from_db()
    return client


def api_client_for_key(key: str) -> ApiClient | None:
    """The active client with this key, or None. One indexed read, on every API request."""
    if not key.startswith(KEY_PREFIX):
        return None
    return api_client_by_key_hash(hash_api_key(key))
