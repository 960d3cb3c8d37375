import datetime
import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.card_numbers import contains_pan
from cardsystem.models import ApiClient
from cardsystem.queries import api_client_by_key_hash
from cardsystem.rates import parse_rate

KEY_PREFIX = "csk_"
# How long both keys work after a rotation, at most: long enough to deploy a key
# everywhere, short enough that a leaked old key does not live on.
MAX_ROTATION_OVERLAP = datetime.timedelta(days=30)
# last_used_at is rewritten at most this often, so that a busy client's requests stay reads.
LAST_USE_PRECISION = datetime.timedelta(minutes=1)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _expiry_error(expires_at: datetime.datetime | None, now: datetime.datetime) -> str | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        return "Give a time with a time zone."
    if expires_at <= now:
        return "Must be in the future."
    return None


def key_expiry(days: int | None) -> datetime.datetime | None:
    """When a key given now for `days` days stops working; None (no expiry) for None. Zero
    or fewer days is a time not in the future, which the services refuse."""
    return None if days is None else timezone.now() + datetime.timedelta(days=days)


def api_client_errors(*, name: str, scopes: list[str], expires_at: datetime.datetime | None) -> dict:
    """What is wrong with a new client's name, scopes and expiry, by field (empty: nothing).
    The name's uniqueness is the database's to check."""
    name = (name or "").strip()
    errors = {}
    expiry_error = _expiry_error(expires_at, timezone.now())
    if expiry_error:
        errors["expires_at"] = expiry_error
    if not name:
        errors["name"] = "Give the client a name."
    elif len(name) > 100:
        errors["name"] = "At most 100 characters."
    elif contains_pan(name):
        errors["name"] = "This looks like a card number: never write card data here."
    valid = set(ApiClient.Scope.values)
    if not scopes:
        errors["scopes"] = f"Give at least one scope: {', '.join(sorted(valid))}."
    elif not set(scopes) <= valid:
        errors["scopes"] = (
            f"Unknown scope {sorted(set(scopes) - valid)[0]!r}: use {', '.join(sorted(valid))}."
        )
    return errors


def api_key_new() -> tuple[str, str, str]:
    """A new key with its prefix and hash: (key, key_prefix, key_hash). Only the last two
    are ever stored."""
    key = _new_key()
    return key, key[:10], hash_api_key(key)


def api_client_create(
    *,
    name: str,
    scopes: list[str],
    actor: Actor,
    expires_at: datetime.datetime | None = None,
    key_hash: str | None = None,
    key_prefix: str | None = None,
) -> tuple[ApiClient, str | None]:
    """Create an API client. Returns it with its key, which exists nowhere else afterwards.
    `expires_at` (optional, in the future): when the key stops working; None, never.
    With `key_hash` and `key_prefix` (a key made earlier, as for a request held for
    approval, whose requester was shown the key) the client gets that key, and the key
    returned is None: it is not known here."""
    errors = api_client_errors(name=name, scopes=scopes, expires_at=expires_at)
    if errors:
        raise ValidationError(errors)
    name = name.strip()
    key = None
    if key_hash is None or key_prefix is None:
        key, key_prefix, key_hash = api_key_new()
    try:
        with transaction.atomic():
            client = ApiClient.objects.create(
                name=name,
                key_prefix=key_prefix,
                key_hash=key_hash,
                scopes=sorted(set(scopes)),
                expires_at=expires_at,
            )
            audit_record(
                actor=actor,
                action=AuditAction.API_CLIENT_CREATED,
                target=client,
                details={
                    "scopes": client.scopes,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
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


def api_key_rotation_errors(
    *, overlap: datetime.timedelta, expires_at: datetime.datetime | None
) -> dict[str, str]:
    """What api_client_rotate_key would refuse in these values, by argument name."""
    errors = {}
    if overlap < datetime.timedelta(0):
        errors["overlap"] = "Cannot be negative."
    elif overlap > MAX_ROTATION_OVERLAP:
        errors["overlap"] = f"At most {MAX_ROTATION_OVERLAP.days} days."
    expiry_error = _expiry_error(expires_at, timezone.now())
    if expiry_error:
        errors["expires_at"] = expiry_error
    return errors


def api_client_rotate_key(
    *,
    client: ApiClient,
    actor: Actor,
    overlap: datetime.timedelta,
    expires_at: datetime.datetime | None = None,
    key_hash: str | None = None,
    key_prefix: str | None = None,
) -> tuple[ApiClient, str | None]:
    """Give a client a new key, returned here and stored nowhere but as a hash. The key
    it replaces keeps working for `overlap` (0 to 30 days), never past its own expiry;
    a key replaced by an earlier rotation stops at once. `expires_at` (optional, in the
    future): when the new key stops working; None, never. With `key_hash` and
    `key_prefix` (a key made earlier, for a rotation held for approval) the client gets
    that key, and the key returned is None."""
    now = timezone.now()
    errors = api_key_rotation_errors(overlap=overlap, expires_at=expires_at)
    if errors:
        raise ValidationError(errors)
    key = None
    if key_hash is None or key_prefix is None:
        key, key_prefix, key_hash = api_key_new()
    with transaction.atomic():
        # Locked, so that two rotations at once cannot both keep the same old key.
        current = ApiClient.objects.select_for_update().get(pk=client.pk)
        if not current.is_active:
            raise ValidationError({"client": "This API client is revoked: its key cannot be rotated."})
        overlap_ends_at = now + overlap
        if current.expires_at is not None:
            overlap_ends_at = min(overlap_ends_at, current.expires_at)
        current.previous_key_hash = current.key_hash
        current.previous_key_expires_at = overlap_ends_at
        current.key_hash = key_hash
        current.key_prefix = key_prefix
        current.expires_at = expires_at
        current.save(
            update_fields=[
                "previous_key_hash",
                "previous_key_expires_at",
                "key_hash",
                "key_prefix",
                "expires_at",
            ]
        )
        audit_record(
            actor=actor,
            action=AuditAction.API_CLIENT_KEY_ROTATED,
            target=current,
            details={
                "previous_key_expires_at": overlap_ends_at.isoformat(),
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return current, key


def api_client_set_rate_limits(
    *, client: ApiClient, rate_limits: dict[str, str | None], actor: Actor
) -> ApiClient:
    """Set the client's request rate for each of its scopes, replacing the whole set:
    {"authorize": "50/second", "manage": "600/minute"}. A scope left out, or given None or
    "", has no limit. Raises ValidationError naming the scope (nothing written). Audited
    with the rates before and after; a change to nothing is not written."""
    errors, rates = {}, {}
    for scope, text in rate_limits.items():
        if not (text or "").strip():
            continue
        if scope not in client.scopes:
            errors[scope] = f"This client does not have the {scope!r} scope."
            continue
        try:
            rates[scope] = str(parse_rate(text))
        except ValueError as error:
            errors[scope] = str(error)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # Locked, so that two staff changing rates at once audit what each really replaced.
        current = ApiClient.objects.select_for_update().get(pk=client.pk)
        if current.rate_limits != rates:
            before, current.rate_limits = current.rate_limits, rates
            current.save(update_fields=["rate_limits"])
            audit_record(
                actor=actor,
                action=AuditAction.API_CLIENT_RATE_LIMITS_CHANGED,
                target=current,
                details={"before": before, "after": rates},
            )
    return current


def api_client_for_key(key: str) -> ApiClient | None:
    """The active client whose current key (until it expires) or previous key (until the
    rotation's overlap ends) this is, or None. One indexed read, on every API request."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_hash = hash_api_key(key)
    client = api_client_by_key_hash(key_hash)
    if client is None:
        return None
    now = timezone.now()
    # A previous key with no overlap recorded is not accepted (its end is now).
    ends = client.expires_at if client.key_hash == key_hash else client.previous_key_expires_at or now
    if ends is not None and ends <= now:
        return None
    return client


def api_client_record_use(*, client: ApiClient) -> None:
    """Note that `client` was just used, to the minute. Checked in Python first, so a
    client already seen this minute costs no statement; the UPDATE's own condition keeps
    concurrent requests from writing it more than once. Not audited: it is a fact about
    traffic, and an audit row a minute per client would drown the log."""
    now = timezone.now()
    stale = now - LAST_USE_PRECISION
    if client.last_used_at is not None and client.last_used_at > stale:
        return
    ApiClient.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=client.pk).update(
        last_used_at=now
    )
    client.last_used_at = now
