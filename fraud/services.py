"""Fraud alerts: opened by the engine, decided by analysts."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cards.models import Card
from cards.services import card_change_status
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.exceptions import ConflictError
from fraud.models import FraudAlert
from transactions.models import Transaction

ENGINE = Actor.system("fraud engine")


def alert_open(*, transaction: Transaction, reason: str) -> FraudAlert:
    """Open an alert for a transaction (once: a second call returns the first alert)."""
    alert, _ = FraudAlert.objects.get_or_create(
        transaction=transaction,
        defaults={
            "card_id": transaction.card_id,
            "risk_score": transaction.risk_score or 0,
            "reason": reason[:200],
        },
    )
    return alert


def card_block_by_engine(*, card: Card, reason: str) -> None:
    if card.status == Card.Status.ACTIVE:
        card_change_status(card=card, status=Card.Status.BLOCKED, reason=reason[:200], actor=ENGINE)


def alert_decide(
    *, alert: FraudAlert, status: str, actor: Actor, notes: str = "", block_card: bool = False
) -> FraudAlert:
    """Move an alert along open -> investigating -> confirmed fraud / false positive.
    Confirming fraud can block the card in the same transaction."""
    if status not in FraudAlert.Status.values:
        raise ValidationError({"status": "Unknown alert status."})
    if block_card and status != FraudAlert.Status.CONFIRMED_FRAUD:
        raise ValidationError({"block_card": "Only confirmed fraud blocks the card."})
    with transaction.atomic():
        alert = FraudAlert.objects.select_for_update().get(pk=alert.pk)
        if alert.is_resolved:
            raise ConflictError("This alert is already decided.", field="status")
        before = alert.status
        alert.status = status
        if notes:
            alert.notes = f"{alert.notes}\n{notes}".strip()
        user = actor.user if actor.user is not None and actor.user.pk else None
        if status == FraudAlert.Status.INVESTIGATING and user and alert.assignee_id is None:
            alert.assignee = user
        if alert.is_resolved:
            alert.resolved_at = timezone.now()
            alert.resolved_by = user
        alert.save()
        audit_record(
            actor=actor,
            action=AuditAction.ALERT_DECIDED,
            target=alert,
            details={
                "from": before,
                "to": status,
                "transaction": str(alert.transaction_id),
                "block_card": block_card,
            },
        )
        if block_card:
            card = Card.objects.get(pk=alert.card_id)
            if card.status == Card.Status.ACTIVE:
                card_change_status(
                    card=card,
                    status=Card.Status.BLOCKED,
                    reason=f"Fraud confirmed on alert {alert.pk}.",
                    actor=actor,
                )
    return alert
