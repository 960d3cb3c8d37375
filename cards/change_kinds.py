"""The card changes held for a second person (four eyes, cardsystem/change_requests.py):
unblocking or reactivating a card blocked for fraud, and a manual top-up from the back
office above TOP_UP_APPROVAL_ABOVE (with the card's manual top-ups of the day). A
request stores what the one-person path would do; its `apply` calls that same service
as the approver, and refuses (leaving the request pending) when the card no longer
allows it.

Only the back office is held: the API's PATCH of a card blocked for fraud back to
active or inactive is refused (409, the service's guard), and the API's top-ups (an
API client is a system, not a person) and the operators' commands are not held.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from cards import staff_permissions
from cards.models import Card
from cards.services import CREDITABLE, card_change_status, card_top_up, check_top_up, needs_approval_to_change
from cardsystem import money
from cardsystem.audit import Actor
from cardsystem.change_requests import ChangeKind, change_request_create, register
from cardsystem.exceptions import ConflictError
from cardsystem.models import AuditLog, ChangeRequest

CARD_UNBLOCK = "card_unblock"
CARD_TOP_UP = "card_top_up"


def top_up_approval_above(currency: str) -> int:
    """TOP_UP_APPROVAL_ABOVE in minor units of `currency`."""
    return money.threshold_to_minor(settings.TOP_UP_APPROVAL_ABOVE, currency)


def manual_top_ups_today(card: Card) -> int:
    """What staff have credited to `card` by top-ups since midnight (UTC), in minor units,
    from the audit log (an API client's top-ups are not staff's)."""
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    amounts = AuditLog.objects.filter(
        action=AuditLog.Action.CARD_TOPPED_UP,
        actor_type=AuditLog.ActorType.USER,
        target_type=Card._meta.label_lower,
        target_id=str(card.pk),
        created_at__gte=midnight,
    ).values_list("details__amount_minor", flat=True)
    return sum(int(amount or 0) for amount in amounts)


def top_up_needs_approval(card: Card, amount_minor: int) -> bool:
    """Whether a manual top-up of this amount waits for a second person: when it, with
    the card's manual top-ups of the day, goes above the configured amount, so that a
    large top-up split into small ones is held like the whole."""
    return manual_top_ups_today(card) + amount_minor > top_up_approval_above(card.currency)


def pending_for(card_id, kind: str | None = None):
    """The pending change requests about a card (of one kind), oldest first."""
    pending = ChangeRequest.objects.filter(
        status=ChangeRequest.Status.PENDING, target_type=Card._meta.label_lower, target_id=str(card_id)
    )
    return (pending.filter(kind=kind) if kind else pending).order_by("requested_at")


def _card_of(request: ChangeRequest) -> Card:
    """The request's card, locked until the approval commits: what apply checks of it
    still holds when the service changes it."""
    try:
        return Card.objects.select_for_update().get(pk=request.target_id)
    except (Card.DoesNotExist, ValidationError):
        raise ConflictError("The card of this request no longer exists.", field="card") from None


# --- Unblocking a card blocked for fraud ------------------------------------------------------


def card_unblock_request(*, card: Card, status: str, reason: str, actor: Actor) -> ChangeRequest:
    """Ask a second person to move a card blocked for fraud to `status` (active or
    inactive). Raises ConflictError when the change needs no approval (make it at once)
    or one for this card is already pending; PermissionDenied or ValidationError from
    change_request_create (the kind's permission, the reason)."""
    card.refresh_from_db(fields=["status", "blocked_for_fraud", "status_changed_at"])
    if not needs_approval_to_change(card, status):
        raise ConflictError("This change needs no approval: make it directly.", field="status")
    if pending_for(card.pk, CARD_UNBLOCK).exists():
        raise ConflictError("An unblock of this card already waits for approval.", field="status")
    return change_request_create(
        kind=CARD_UNBLOCK,
        actor=actor,
        summary=f"Make card {card} {Card.Status(status).label} (blocked for fraud)",
        reason=reason,
        # The block this request lifts: a newer one (blocked again meanwhile) is not lifted.
        params={"status": status, "blocked_at": _blocked_at(card)},
        target=card,
    )


def _blocked_at(card: Card) -> str:
    return card.status_changed_at.isoformat() if card.status_changed_at else ""


def _apply_unblock(request: ChangeRequest, actor: Actor) -> dict:
    card = _card_of(request)
    if card.status != Card.Status.BLOCKED:
        raise ConflictError(
            f"The card is {card.get_status_display().lower()} now, no longer blocked.", field="status"
        )
    if _blocked_at(card) != request.params["blocked_at"]:
        raise ConflictError("The card was blocked again since this request: ask anew.", field="status")
    card = card_change_status(
        card=card, status=request.params["status"], reason=request.reason[:200], actor=actor, approved=True
    )
    return {"status": card.status}


# --- A large manual top-up ----------------------------------------------------------------------


def card_top_up_request(
    *, card: Card, amount_minor: int, reference: str, reason: str, actor: Actor
) -> ChangeRequest:
    """Ask a second person to top up a card: the same checks as card_top_up (amount,
    reference, a card that takes money), nothing credited until approved."""
    check_top_up(amount_minor=amount_minor, reference=reference)
    card.refresh_from_db(fields=["status"])
    if card.status not in CREDITABLE:
        raise ValidationError({"card": "This card is lost, stolen, expired or closed and takes no top-ups."})
    return change_request_create(
        kind=CARD_TOP_UP,
        actor=actor,
        summary=f"Top up card {card} by {money.format_amount(amount_minor, card.currency)}",
        reason=reason,
        params={"amount_minor": amount_minor, "currency": card.currency, "reference": reference},
        target=card,
    )


def _apply_top_up(request: ChangeRequest, actor: Actor) -> dict:
    card = _card_of(request)
    params = request.params
    if card.currency != params["currency"]:
        raise ConflictError("The card's currency is not the request's.", field="currency")
    entry = card_top_up(
        card=card, amount_minor=params["amount_minor"], reference=params["reference"], actor=actor
    )
    return {
        "ledger_entry": entry.pk,
        "amount": money.to_major(entry.amount_minor, entry.currency),
        "balance_after": money.to_major(entry.balance_after_minor, entry.currency),
        "currency": entry.currency,
    }


def register_kinds() -> None:
    register(
        ChangeKind(
            name=CARD_UNBLOCK,
            label="Unblock a card blocked for fraud",
            permission=staff_permissions.UNBLOCK,
            apply=_apply_unblock,
        )
    )
    register(
        ChangeKind(
            name=CARD_TOP_UP,
            label="Large manual top-up",
            permission=staff_permissions.TOP_UP,
            apply=_apply_top_up,
        )
    )
