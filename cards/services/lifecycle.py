"""The card lifecycle (status transitions) and its spending limits."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cards.models import Card
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.card_numbers import reject_pan
from cardsystem.exceptions import ConflictError

Status = Card.Status

# Which status may follow which. Lost, stolen, expired and closed are final in
# practice (a replacement card is issued instead), except that a lost card may
# turn out to be stolen and every card can still be closed.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.ACTIVE: frozenset(
        {Status.INACTIVE, Status.BLOCKED, Status.LOST, Status.STOLEN, Status.EXPIRED, Status.CLOSED}
    ),
    Status.INACTIVE: frozenset(
        {Status.ACTIVE, Status.BLOCKED, Status.LOST, Status.STOLEN, Status.EXPIRED, Status.CLOSED}
    ),
    Status.BLOCKED: frozenset(
        {Status.ACTIVE, Status.INACTIVE, Status.LOST, Status.STOLEN, Status.EXPIRED, Status.CLOSED}
    ),
    Status.LOST: frozenset({Status.STOLEN, Status.CLOSED}),
    Status.STOLEN: frozenset({Status.CLOSED}),
    Status.EXPIRED: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

LIMIT_FIELDS = {
    "per_transaction": "limit_per_transaction_minor",
    "daily": "limit_daily_minor",
    "monthly": "limit_monthly_minor",
}


def check_limits(limits: dict[str, int | None]) -> dict[str, str]:
    """The errors of a set of limits, by limit name: issuing and changing limits both
    ask, so that a card never holds limits it could not be given."""
    errors = {}
    for name, value in limits.items():
        if name not in LIMIT_FIELDS:
            errors[name] = f"Unknown limit: use {', '.join(LIMIT_FIELDS)}."
        elif value is not None and value <= 0:
            errors[name] = "A limit must be greater than zero, or null for none."
    if errors:
        return errors
    per_transaction, daily, monthly = (limits.get(name) for name in LIMIT_FIELDS)
    if per_transaction and daily and daily < per_transaction:
        errors["daily"] = "The daily limit must be at least the per-transaction limit."
    if daily and monthly and monthly < daily:
        errors["monthly"] = "The monthly limit must be at least the daily limit."
    elif per_transaction and monthly and monthly < per_transaction:
        errors["monthly"] = "The monthly limit must be at least the per-transaction limit."
    return errors


UNBLOCKED = frozenset({Status.ACTIVE, Status.INACTIVE})


def needs_approval_to_change(card: Card, status: str) -> bool:
    """Whether moving `card` to `status` takes a second person: unblocking or reactivating
    a card blocked for fraud (four eyes, cardsystem/change_requests.py)."""
    return card.status == Status.BLOCKED and card.blocked_for_fraud and status in UNBLOCKED


def card_change_status(
    *, card: Card, status: str, reason: str, actor: Actor, for_fraud: bool = False, approved: bool = False
) -> Card:
    """Move a card to `status` along TRANSITIONS, recording the reason and the actor.
    `for_fraud` marks a block as one for fraud; unblocking or reactivating such a card is
    refused unless `approved` (by a second person, through a change request).

    Raises ValidationError for an unknown status or a missing reason, ConflictError for
    a transition the card's current status does not allow. The same status is a no-op.
    """
    reason = (reason or "").strip()
    if status not in Status.values:
        raise ValidationError({"status": f"Unknown status: use {', '.join(Status.values)}."})
    if not reason:
        raise ValidationError({"reason": "Say why the status changes."})
    if len(reason) > 200:
        raise ValidationError({"reason": "At most 200 characters."})
    reject_pan(reason, "reason")
    card.refresh_from_db(fields=["status", "blocked_for_fraud", "cardholder", "expiry_month", "expiry_year"])
    current = card.status
    if status == current:
        return card
    if status not in TRANSITIONS[current]:
        raise ConflictError(f"A {current} card cannot become {status}.", field="status")
    if needs_approval_to_change(card, status) and not approved:
        raise ConflictError(
            "This card was blocked for fraud: unblocking it takes a second person's approval "
            "(a change request in the back office).",
            field="status",
        )
    if status == Status.ACTIVE:
        if card.cardholder_id is None:
            raise ConflictError("Assign the card to a cardholder before activating it.", field="status")
        if card.is_expired(on=timezone.localdate()):
            raise ConflictError("An expired card cannot be activated.", field="status")
    now = timezone.now()
    with transaction.atomic():
        # Conditional on the status read above, so two concurrent changes cannot both
        # pass the transition check.
        if not Card.objects.filter(pk=card.pk, status=current).update(
            status=status,
            status_reason=reason,
            status_changed_at=now,
            updated_at=now,
            blocked_for_fraud=for_fraud and status == Status.BLOCKED,
        ):
            raise ConflictError("The card's status changed meanwhile; try again.", field="status")
        audit_record(
            actor=actor,
            action=AuditAction.CARD_STATUS_CHANGED,
            target=card,
            details={"from": current, "to": status, "reason": reason}
            | ({"for_fraud": True} if for_fraud else {}),
        )
    card.refresh_from_db()
    return card


def card_set_limits(*, card: Card, limits: dict[str, int | None], actor: Actor) -> Card:
    """Set some or all spending limits (None removes one); the others keep their value."""
    card.refresh_from_db(fields=list(LIMIT_FIELDS.values()))
    current = {name: getattr(card, field) for name, field in LIMIT_FIELDS.items()}
    merged = {**current, **limits}
    errors = check_limits(merged)
    if errors:
        raise ValidationError(errors)
    changed = {name: value for name, value in limits.items() if current[name] != value}
    if not changed:
        return card
    with transaction.atomic():
        Card.objects.filter(pk=card.pk).update(
            updated_at=timezone.now(), **{LIMIT_FIELDS[name]: value for name, value in changed.items()}
        )
        audit_record(
            actor=actor,
            action=AuditAction.CARD_LIMITS_CHANGED,
            target=card,
            details={"currency": card.currency, "before": {n: current[n] for n in changed}, "after": changed},
        )
    card.refresh_from_db()
    return card


def card_update(
    *,
    card: Card,
    actor: Actor,
    status: str | None = None,
    reason: str | None = None,
    limits: dict[str, int | None] | None = None,
) -> Card:
    """Change status and/or limits together: both or neither (the API's PATCH)."""
    if status is None and reason is not None:
        raise ValidationError({"reason": "A reason goes with a status change."})
    with transaction.atomic():
        if limits:
            card = card_set_limits(card=card, limits=limits, actor=actor)
        if status is not None:
            card = card_change_status(card=card, status=status, reason=reason or "", actor=actor)
    return card
