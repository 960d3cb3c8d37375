import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
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


# --- Demo credentials (local trial only) ---------------------------------------------------

DEMO_USERNAME = "admin"
DEMO_CLIENT_NAME = "demo"


@dataclass(frozen=True)
class DemoCredentials:
    """What a local trial needs to log in; the password and key exist nowhere else."""

    username: str
    password: str
    client: ApiClient
    key: str
    revoked: list[str]


def demo_credentials_issue(*, actor: Actor) -> DemoCredentials:
    """For a local trial: make sure the superuser "admin" exists and give it a fresh random
    password, revoke earlier demo API clients ("demo", "demo-…") and create a new one with
    every scope. All or nothing. Raises PermissionDenied, writing nothing, unless DEBUG is
    on: an admin password is never reset this way in production."""
    if not settings.DEBUG:
        raise PermissionDenied(
            "Demo credentials are for a local trial with DEBUG=true; "
            "with DEBUG off no admin password is reset. Nothing was changed."
        )
    user_model = get_user_model()
    with transaction.atomic():
        user, _ = user_model._default_manager.get_or_create(**{user_model.USERNAME_FIELD: DEMO_USERNAME})
        password = secrets.token_urlsafe(24)
        validate_password(password, user)
        user.set_password(password)
        user.is_active = user.is_staff = user.is_superuser = True
        user.save()
        earlier = ApiClient.objects.filter(
            Q(name=DEMO_CLIENT_NAME) | Q(name__startswith=f"{DEMO_CLIENT_NAME}-"), is_active=True
        )
        revoked = []
        for client in earlier:
            api_client_revoke(client=client, actor=actor)
            revoked.append(client.name)
        # ApiClient names are unique: each run's client gets its own.
        name = f"{DEMO_CLIENT_NAME}-{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        client, key = api_client_create(name=name, scopes=list(ApiClient.Scope.values), actor=actor)
        audit_record(
            actor=actor,
            action=AuditAction.DEMO_CREDENTIALS,
            target=user,
            details={"api_client": client.name, "revoked_api_clients": revoked},
        )
    return DemoCredentials(username=DEMO_USERNAME, password=password, client=client, key=key, revoked=revoked)
