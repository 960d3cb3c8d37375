"""Four eyes: a risky staff action is a request that a second person approves.

Each app registers the kinds of change it holds for approval (in its AppConfig.ready):
the permission both people need, and how an approved request is applied, through the
same service the one-person path uses. `change_request_create` stores what would happen
and audits it; `change_request_approve` refuses the requester and anyone without both
permissions, re-validates by applying, and audits both people, all in one database
transaction; `change_request_reject` and `change_request_withdraw` close a request with
nothing changed. Nothing takes effect before approval.

Operators' `manage.py` commands are not held (they act with the server's own authority).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.card_numbers import reject_pan
from cardsystem.exceptions import ConflictError
from cardsystem.models import ChangeRequest

APPROVE_PERMISSION = "cardsystem.approve_changerequest"
Status = ChangeRequest.Status


@dataclass(frozen=True)
class ChangeKind:
    """A kind of change held for approval. `apply(request, actor)` makes the change as
    `actor` (the approver) inside the approval's transaction and returns what it made,
    as JSON for `ChangeRequest.result`; it raises ValidationError or ConflictError when
    the change no longer applies, which leaves the request pending."""

    name: str
    label: str
    permission: str
    apply: Callable[[ChangeRequest, Actor], dict]


_KINDS: dict[str, ChangeKind] = {}


def register(kind: ChangeKind) -> None:
    _KINDS[kind.name] = kind


def kind_for(name: str) -> ChangeKind:
    return _KINDS[name]


def kind_label(name: str) -> str:
    return _KINDS[name].label if name in _KINDS else name


def kinds() -> list[ChangeKind]:
    return sorted(_KINDS.values(), key=lambda kind: kind.label)


def _reason(text: str, field: str) -> str:
    text = (text or "").strip()
    if len(text) > 500:
        raise ValidationError({field: "At most 500 characters."})
    reject_pan(text, field)
    return text


def _staff_user(actor: Actor):
    if actor.user is None or not actor.user.pk:
        raise PermissionDenied("Only a staff member can take part in a change request.")
    return actor.user


def change_request_create(
    *,
    kind: str,
    actor: Actor,
    summary: str,
    reason: str,
    params: dict | None = None,
    target: models.Model | None = None,
) -> ChangeRequest:
    """Hold a change for a second person. `params` is what `apply` needs (JSON, no card
    data); `summary` says in words what would happen. Raises PermissionDenied when the
    requester lacks the kind's permission, ValidationError without a reason."""
    change = kind_for(kind)
    user = _staff_user(actor)
    if not user.has_perm(change.permission):
        raise PermissionDenied(f"You may not request this: it needs {change.permission}.")
    reason = _reason(reason, "reason")
    if not reason:
        raise ValidationError({"reason": "Say why the change is needed: the approver reads it."})
    with transaction.atomic():
        request = ChangeRequest.objects.create(
            kind=kind,
            summary=summary[:200],
            params=params or {},
            target_type=target._meta.label_lower if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            target_label=str(target)[:200] if target is not None else "",
            reason=reason,
            requested_by=user,
        )
        audit_record(
            actor=actor,
            action=AuditAction.CHANGE_REQUESTED,
            target=request,
            target_label=request.summary,
            details={"kind": kind, "reason": reason, "target": request.target_label},
        )
    return request


def _own(user, request: ChangeRequest) -> bool:
    """Whether `request` is `user`'s own: they asked for it, or it is about them (a grant
    to them that a colleague asked for on their behalf)."""
    about_them = request.target_type == user._meta.label_lower and request.target_id == str(user.pk)
    return user.pk == request.requested_by_id or about_them


def can_decide(user, request: ChangeRequest) -> bool:
    """Whether `user` may approve or reject `request`: someone other than the requester
    and the person it is about, who holds the approver permission and the kind's own."""
    return (
        request.status == Status.PENDING
        and not _own(user, request)
        and user.has_perm(APPROVE_PERMISSION)
        and user.has_perm(kind_for(request.kind).permission)
    )


def _check_decider(request: ChangeRequest, actor: Actor):
    user = _staff_user(actor)
    if _own(user, request):
        raise PermissionDenied(
            "Nobody approves or rejects their own request, or one about them: a second person must."
        )
    change = kind_for(request.kind)
    if not (user.has_perm(APPROVE_PERMISSION) and user.has_perm(change.permission)):
        raise PermissionDenied(f"Deciding this request needs {APPROVE_PERMISSION} and {change.permission}.")
    return user


def _close(request: ChangeRequest, **fields) -> dict:
    """Close a pending request, conditionally: of two people deciding at once, one wins.
    Returns the fields written, for the caller to set on `request` once committed."""
    fields["decided_at"] = timezone.now()
    if not ChangeRequest.objects.filter(pk=request.pk, status=Status.PENDING).update(**fields):
        raise ConflictError("This request was already decided or withdrawn.", field="status")
    return fields


def _set(request: ChangeRequest, fields: dict) -> ChangeRequest:
    for name, value in fields.items():
        setattr(request, name, value)
    return request


def _audit_decision(request: ChangeRequest, actor: Actor, action: str, **details) -> None:
    """The audit row of a decision, naming both people: the requester and the decider
    (`approved_by` or `rejected_by`, a user), with the note and anything else given."""
    named = {key: value.get_username() if key.endswith("_by") else value for key, value in details.items()}
    audit_record(
        actor=actor,
        action=action,
        target=request,
        target_label=request.summary,
        details={"kind": request.kind, "requested_by": request.requested_by.get_username(), **named},
    )


def change_request_approve(*, request: ChangeRequest, actor: Actor, note: str = "") -> ChangeRequest:
    """Approve and apply a pending request as `actor`, the second person. The change, the
    request's new state and the audit row (naming both people) commit together; if the
    change no longer applies (ValidationError, ConflictError) nothing is written and the
    request stays pending."""
    user = _check_decider(request, actor)
    note = _reason(note, "note")
    with transaction.atomic():
        # Claimed before applying: a second approval of the same request finds it closed.
        fields = _close(request, status=Status.APPROVED, decided_by=user, decision_note=note)
        result = kind_for(request.kind).apply(request, actor) or {}
        ChangeRequest.objects.filter(pk=request.pk).update(result=result)
        _audit_decision(
            request, actor, AuditAction.CHANGE_APPROVED, approved_by=user, note=note, result=result
        )
    return _set(request, {**fields, "result": result})


def change_request_reject(*, request: ChangeRequest, actor: Actor, note: str = "") -> ChangeRequest:
    """Reject a pending request: nothing it asked for happens."""
    user = _check_decider(request, actor)
    note = _reason(note, "note")
    with transaction.atomic():
        fields = _close(request, status=Status.REJECTED, decided_by=user, decision_note=note)
        _audit_decision(request, actor, AuditAction.CHANGE_REJECTED, rejected_by=user, note=note)
    return _set(request, fields)


def change_request_withdraw(*, request: ChangeRequest, actor: Actor) -> ChangeRequest:
    """The requester takes back their own pending request."""
    user = _staff_user(actor)
    if user.pk != request.requested_by_id:
        raise PermissionDenied("Only the requester can withdraw a request.")
    with transaction.atomic():
        fields = _close(request, status=Status.WITHDRAWN)
        audit_record(
            actor=actor,
            action=AuditAction.CHANGE_WITHDRAWN,
            target=request,
            target_label=request.summary,
            details={"kind": request.kind},
        )
    return _set(request, fields)
