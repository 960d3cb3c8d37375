"""Audit rows for changes to who may do what in the back office: a staff user created or
deleted, their staff, superuser or active flag changed, groups (roles) or permissions
granted or taken, a group's permissions changed. They are written by signal receivers,
so that every path (the admin, `createsuperuser`, a shell, a data migration run by
hand) leaves its row in the same transaction as the change.

Who acted: the staff user of the request being served (RequestActorMiddleware keeps it
for the request's duration), or, outside a request, the management command running.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from cardsystem.audit import Actor, AuditAction, audit_record

User = get_user_model()
FLAGS = ("is_staff", "is_superuser", "is_active")

_request = ContextVar("cardsystem_audit_request", default=None)
_acting = ContextVar("cardsystem_audit_acting", default=None)


class RequestActorMiddleware:
    """Keeps the request being served for the receivers below (after authentication)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Changes made inside are audited as `actor`'s: the approver of a four-eyes request
    applies the grant, whoever's request is being served."""
    token = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(token)


def current_actor() -> Actor:
    acting = _acting.get()
    if acting is not None:
        return acting
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and user.is_authenticated:
        return Actor.for_request(request)
    command = " ".join(sys.argv[1:2]) if sys.argv and sys.argv[0].endswith("manage.py") else ""
    return Actor.system(f"manage.py {command}".strip() if command else "system")


# --- Users ----------------------------------------------------------------------------------------


@receiver(pre_save, sender=User)
def _remember_flags(sender, instance, update_fields=None, raw=False, **kwargs):
    # Login's `last_login` save names its field: no read for it, nor for new users.
    if raw or instance.pk is None or (update_fields is not None and not set(update_fields) & set(FLAGS)):
        instance._audit_flags = None
        return
    instance._audit_flags = User.objects.filter(pk=instance.pk).values(*FLAGS).first()


@receiver(post_save, sender=User)
def _audit_user_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    if created:
        audit_record(
            actor=current_actor(),
            action=AuditAction.STAFF_USER_CREATED,
            target=instance,
            details={flag: getattr(instance, flag) for flag in FLAGS},
        )
        return
    before = getattr(instance, "_audit_flags", None)
    if not before:
        return
    changed = {
        flag: [before[flag], getattr(instance, flag)]
        for flag in FLAGS
        if before[flag] != getattr(instance, flag)
    }
    if changed:
        audit_record(
            actor=current_actor(), action=AuditAction.STAFF_FLAGS_CHANGED, target=instance, details=changed
        )


@receiver(post_delete, sender=User)
def _audit_user_deleted(sender, instance, **kwargs):
    audit_record(
        actor=current_actor(),
        action=AuditAction.STAFF_USER_DELETED,
        target_label=instance.get_username(),
        details={"id": instance.pk},
    )


# --- Groups and permissions -------------------------------------------------------------------------


@receiver(post_save, sender=Group)
def _audit_group_created(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        audit_record(actor=current_actor(), action=AuditAction.GROUP_CREATED, target=instance)


@receiver(post_delete, sender=Group)
def _audit_group_deleted(sender, instance, **kwargs):
    audit_record(actor=current_actor(), action=AuditAction.GROUP_DELETED, target_label=instance.name)


def _names(model, pks) -> list[str]:
    if model is Group:
        return sorted(Group.objects.filter(pk__in=pks).values_list("name", flat=True))
    if model is Permission:
        pairs = model.objects.filter(pk__in=pks).values_list("content_type__app_label", "codename")
        return sorted(f"{app}.{codename}" for app, codename in pairs)
    return sorted(str(pk) for pk in pks)


def _audit_grants(action, accessors, *, instance, model, pk_set, change, reverse):
    """One row per user or group whose groups or permissions changed. Forward (say
    `user.groups.add(group)`) the instance is that holder and `pk_set` what it gained or
    lost; reverse (`group.user_set.add(user)`) `pk_set` are the holders and the instance
    what they gained or lost. `accessors` name the relation from each side, for a clear."""
    verb = {"post_add": "added", "post_remove": "removed", "pre_clear": "removed"}.get(change)
    if verb is None:
        return
    if change == "pre_clear":
        pk_set = set(getattr(instance, accessors[reverse]).values_list("pk", flat=True))
    if not pk_set:
        return
    actor = current_actor()
    if reverse:
        granted = _names(type(instance), [instance.pk])
        for holder in model.objects.filter(pk__in=pk_set):
            audit_record(actor=actor, action=action, target=holder, details={verb: granted})
    else:
        audit_record(actor=actor, action=action, target=instance, details={verb: _names(model, pk_set)})


# (relation, action, the relation's name from the holder's side and from the other side)
GRANTS = [
    (User.groups.through, AuditAction.STAFF_GROUPS_CHANGED, ("groups", "user_set")),
    (User.user_permissions.through, AuditAction.STAFF_PERMISSIONS_CHANGED, ("user_permissions", "user_set")),
    (Group.permissions.through, AuditAction.GROUP_PERMISSIONS_CHANGED, ("permissions", "group_set")),
]


def _grants_receiver(audit_action, accessors):
    # `action` is the signal's own word for the change ("post_add", ...).
    def audit(sender, instance, action, reverse, model, pk_set, **kwargs):
        _audit_grants(
            audit_action,
            accessors,
            instance=instance,
            model=model,
            pk_set=pk_set,
            change=action,
            reverse=reverse,
        )

    return audit


for _through, _action, _accessors in GRANTS:
    m2m_changed.connect(
        _grants_receiver(_action, _accessors), sender=_through, weak=False, dispatch_uid=f"audit {_action}"
    )
