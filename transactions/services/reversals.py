"""Reversals: an approval undone once, its amount credited back."""

from django.db import transaction as db
from django.db.models import F
from django.utils import timezone

from cards.models import Card, LedgerEntry
from cards.services import card_to_credit
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.exceptions import ConflictError
from transactions.models import Transaction


def authorization_reverse(*, transaction: Transaction, actor: Actor) -> Transaction:
    """Reverse an approval once, crediting the amount back with a ledger entry and an
    audit row: to the card charged, or to its replacement if it was replaced since.
    ConflictError (nothing written) for a decline or a second reversal."""
    now = timezone.now()
    with db.atomic():
        # Conditional on the status: of two concurrent reversals exactly one matches.
        if not Transaction.objects.filter(pk=transaction.pk, status=Transaction.Status.APPROVED).update(
            status=Transaction.Status.REVERSED, reversed_at=now
        ):
            current = Transaction.objects.values_list("status", flat=True).get(pk=transaction.pk)
            what = "was already reversed" if current == Transaction.Status.REVERSED else "was declined"
            raise ConflictError(f"This authorization {what}; only an approval can be reversed, once.")
        card_id = card_to_credit(transaction.card_id)
        Card.objects.filter(pk=card_id).update(
            balance_minor=F("balance_minor") + transaction.amount_minor, updated_at=now
        )
        balance = Card.objects.values_list("balance_minor", flat=True).get(pk=card_id)
        LedgerEntry.objects.create(
            card_id=card_id,
            kind=LedgerEntry.Kind.REVERSAL,
            amount_minor=transaction.amount_minor,
            balance_after_minor=balance,
            currency=transaction.currency,
            reference=str(transaction.pk),
        )
        audit_record(
            actor=actor,
            action=AuditAction.AUTHORIZATION_REVERSED,
            target=transaction,
            details={"amount_minor": transaction.amount_minor, "currency": transaction.currency},
        )
    transaction.status, transaction.reversed_at = Transaction.Status.REVERSED, now
    return transaction
