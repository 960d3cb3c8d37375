"""The system's changes held for four eyes (cardsystem/change_requests.py): creating an
API client or rotating its key (either hands one person a working key), and granting a
staff user staff status, superuser, a role or a permission. The admin asks through
`api_client_request`, `api_key_rotation_request` and `staff_grant_request`; an approval
applies the change through the same service, or the same model writes, the one-person
path uses. Registered by CardsystemConfig.ready().

Operators' `manage.py create_api_client` is not held. Revoking a client, setting its
rates and taking powers away from a staff user are immediate: each reduces what someone
can do, and a second person would only delay stopping a leak (a leaked key is stopped by
revoking its client, at once).
"""

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction

from cardsystem.audit import Actor
from cardsystem.change_requests import ChangeKind, change_request_create, register
from cardsystem.models import ApiClient, ChangeRequest
from cardsystem.services import (
    api_client_create,
    api_client_errors,
    api_client_rotate_key,
    api_key_new,
    api_key_rotation_errors,
    key_expiry,
)
from cardsystem.staff_audit import acting_as

API_CLIENT_CREATE = "api_client_create"
API_CLIENT_ROTATE_KEY = "api_client_rotate_key"
STAFF_GRANT = "staff_grant"
MANAGE_APICLIENTS = "cardsystem.manage_apiclients"
MANAGE_STAFF = "cardsystem.manage_staff"
# The user flags that give powers; `is_active` among them: reactivating a deactivated
# account gives back every power it holds (a new user is active from the start).
GRANTED_FLAGS = {"is_staff": "staff status", "is_superuser": "superuser", "is_active": "reactivation"}

User = get_user_model()


# --- API clients --------------------------------------------------------------------------------


def api_client_request(
    *, name: str, scopes: list[str], expires_in_days: int | None, reason: str, actor: Actor
) -> tuple[ChangeRequest, str]:
    """Hold the creation of an API client for a second person. The key is made now and
    returned, to be shown once to the requester; the request keeps only its prefix and
    hash, so the key works from the approval on, and never if the request is rejected
    or withdrawn. The key's lifetime (`expires_in_days`) starts at the approval.
    Raises ValidationError (nothing written) on what api_client_create would refuse, a
    name taken by a client or a pending request, or no reason; PermissionDenied without
    cardsystem.manage_apiclients."""
    name = (name or "").strip()
    errors = api_client_errors(name=name, scopes=scopes, expires_at=key_expiry(expires_in_days))
    if "name" not in errors and (
        ApiClient.objects.filter(name=name).exists()
        or ChangeRequest.objects.filter(
            kind=API_CLIENT_CREATE, status=ChangeRequest.Status.PENDING, params__name=name
        ).exists()
    ):
        errors["name"] = "An API client with this name exists or awaits approval."
    if errors:
        raise ValidationError(errors)
    scopes = sorted(set(scopes))
    key, key_prefix, key_hash = api_key_new()
    request = change_request_create(
        kind=API_CLIENT_CREATE,
        actor=actor,
        summary=f"Create API client {name} ({', '.join(scopes)})",
        reason=reason,
        params={
            "name": name,
            "scopes": scopes,
            "expires_in_days": expires_in_days,
            "key_prefix": key_prefix,
            "key_hash": key_hash,
        },
    )
    return request, key


def _apply_api_client_create(request: ChangeRequest, actor: Actor) -> dict:
    params = request.params
    client, _ = api_client_create(
        name=params["name"],
        scopes=params["scopes"],
        actor=actor,
        expires_at=key_expiry(params["expires_in_days"]),
        key_hash=params["key_hash"],
        key_prefix=params["key_prefix"],
    )
    return {"api_client": str(client.pk), "name": client.name}


def api_key_rotation_request(
    *, client: ApiClient, overlap_hours: int, expires_in_days: int | None, reason: str, actor: Actor
) -> tuple[ChangeRequest, str]:
    """Hold the rotation of `client`'s key for a second person, as api_client_request holds
    a new client: the new key is made now and returned, to be shown once to the requester,
    and works from the approval on; the current key keeps working until then, and for the
    overlap after. Raises ValidationError (nothing written) on what api_client_rotate_key
    would refuse, a revoked client, or no reason; PermissionDenied without
    cardsystem.manage_apiclients."""
    errors = api_key_rotation_errors(
        overlap=datetime.timedelta(hours=overlap_hours), expires_at=key_expiry(expires_in_days)
    )
    if not client.is_active:
        errors["client"] = "This API client is revoked: its key cannot be rotated."
    if errors:
        raise ValidationError(errors)
    key, key_prefix, key_hash = api_key_new()
    request = change_request_create(
        kind=API_CLIENT_ROTATE_KEY,
        actor=actor,
        summary=f"Rotate the key of API client {client.name} ({', '.join(client.scopes)})",
        reason=reason,
        params={
            "overlap_hours": overlap_hours,
            "expires_in_days": expires_in_days,
            "key_prefix": key_prefix,
            "key_hash": key_hash,
        },
        target=client,
    )
    return request, key


def _apply_api_key_rotation(request: ChangeRequest, actor: Actor) -> dict:
    params = request.params
    client = ApiClient.objects.filter(pk=request.target_id).first()
    if client is None:
        raise ValidationError({"client": "This API client no longer exists."})
    client, _ = api_client_rotate_key(
        client=client,
        actor=actor,
        overlap=datetime.timedelta(hours=params["overlap_hours"]),
        expires_at=key_expiry(params["expires_in_days"]),
        key_hash=params["key_hash"],
        key_prefix=params["key_prefix"],
    )
    return {"api_client": str(client.pk), "previous_key_expires_at": str(client.previous_key_expires_at)}


# --- Staff grants -------------------------------------------------------------------------------


def _permission_code(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def staff_grants_added(*, user, flags: dict[str, bool], groups, permissions) -> dict[str, list[str]]:
    """What `user` would gain from a form asking for these `flags` (is_staff,
    is_superuser, is_active), `groups` and `permissions`, against what the database holds for them
    (nothing for a user not saved yet): {"flags": [...], "groups": [names],
    "permissions": ["app.codename"]}. Losing anything is not a grant."""
    saved = user.pk is not None
    held = User.objects.filter(pk=user.pk).values(*GRANTED_FLAGS).first() if saved else None
    held_groups = set(user.groups.values_list("pk", flat=True)) if saved else set()
    held_permissions = set(user.user_permissions.values_list("pk", flat=True)) if saved else set()
    return {
        "flags": [flag for flag in GRANTED_FLAGS if flags.get(flag) and not (held or {}).get(flag)],
        "groups": sorted(group.name for group in groups if group.pk not in held_groups),
        "permissions": sorted(
            _permission_code(perm) for perm in permissions if perm.pk not in held_permissions
        ),
    }


def describe_grants(grants: dict[str, list[str]]) -> str:
    parts = [GRANTED_FLAGS[flag] for flag in grants.get("flags", [])]
    parts += [f"role {name}" for name in grants.get("groups", [])]
    parts += [f"permission {code}" for code in grants.get("permissions", [])]
    return ", ".join(parts)


def staff_grant_request(*, user, grants: dict[str, list[str]], reason: str, actor: Actor) -> ChangeRequest:
    """Hold `grants` (as staff_grants_added returns them) to `user` for a second person.
    Raises ValidationError (nothing written) for nothing to grant or no reason,
    PermissionDenied without cardsystem.manage_staff."""
    grants = {key: list(grants.get(key, [])) for key in ("flags", "groups", "permissions")}
    if not any(grants.values()):
        raise ValidationError({"grants": "Nothing to grant."})
    return change_request_create(
        kind=STAFF_GRANT,
        actor=actor,
        summary=f"Grant {user.get_username()}: {describe_grants(grants)}",
        reason=reason,
        params={"user": user.pk, **grants},
        target=user,
    )


def _apply_staff_grant(request: ChangeRequest, actor: Actor) -> dict:
    """Re-read the user and add the grants; the staff_audit receivers record each change
    as the approver's."""
    params = request.params
    user = User.objects.select_for_update().filter(pk=params["user"]).first()
    if user is None:
        raise ValidationError({"user": "This user no longer exists."})
    groups = list(Group.objects.filter(name__in=params["groups"]))
    if len(groups) != len(params["groups"]):
        raise ValidationError({"groups": "A role of this request no longer exists."})
    permissions = []
    for code in params["permissions"]:
        app_label, codename = code.split(".", 1)
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if permission is None:
            raise ValidationError({"permissions": f"The permission {code} no longer exists."})
        permissions.append(permission)
    with transaction.atomic(), acting_as(actor):
        for flag in params["flags"]:
            setattr(user, flag, True)
        if params["flags"]:
            user.save(update_fields=params["flags"])
        user.groups.add(*groups)
        user.user_permissions.add(*permissions)
    return {"user": user.get_username(), "granted": describe_grants(params)}


def register_kinds() -> None:
    register(
        ChangeKind(
            name=API_CLIENT_CREATE,
            label="Create an API client",
            permission=MANAGE_APICLIENTS,
            apply=_apply_api_client_create,
        )
    )
    register(
        ChangeKind(
            name=API_CLIENT_ROTATE_KEY,
            label="Rotate an API client's key",
            permission=MANAGE_APICLIENTS,
            apply=_apply_api_key_rotation,
        )
    )
    register(
        ChangeKind(
            name=STAFF_GRANT,
            label="Grant staff powers",
            permission=MANAGE_STAFF,
            apply=_apply_staff_grant,
        )
    )
