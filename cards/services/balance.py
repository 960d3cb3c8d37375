"""The balance: top-ups and the check of balances against the ledger."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from cards.models import Card, LedgerEntry
from cardsystem import money
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.card_numbers import reject_pan

Status = Card.Status

# A lost, stolen, expired or closed card takes no more money.
CREDITABLE = (Status.ACTIVE, Status.INACTIVE, Status.BLOCKED)


def check_top_up(*, amount_minor: int, reference: str) -> None:
    """What a top-up must be whatever the card: a positive amount and a short reference
    without card data. Also asked before a top-up is held for approval."""
    if amount_minor <= 0:
        raise ValidationError({"amount": "Must be greater than zero."})
    if len(reference) > 64:
        raise ValidationError({"reference": "At most 64 characters."})
    reject_pan(reference, "reference")


def card_top_up(*, card: Card, amount_minor: int, actor: Actor, reference: str = "") -> LedgerEntry:
    """Credit a card. Raises ValidationError (nothing written) on a bad amount or a card
    that takes no money."""
    check_top_up(amount_minor=amount_minor, reference=reference)
    with transaction.atomic():
        # One conditional UPDATE: concurrent top-ups add up, none is lost.
        updated = Card.objects.filter(
            pk=card.pk, status__in=CREDITABLE, balance_minor__lte=money.MAX_MINOR - amount_minor
        ).update(balance_minor=F("balance_minor") + amount_minor, updated_at=timezone.now())
        if not updated:
            if Card.objects.filter(pk=card.pk, status__in=CREDITABLE).exists():
                raise ValidationError({"amount": "The balance would exceed the largest a card can hold."})
            raise ValidationError(
                {"card": "This card is lost, stolen, expired or closed and takes no top-ups."}
            )
        balance = Card.objects.values_list("balance_minor", flat=True).get(pk=card.pk)
        entry = LedgerEntry.objects.create(
            card=card,
            kind=LedgerEntry.Kind.TOP_UP,
            amount_minor=amount_minor,
            balance_after_minor=balance,
            currency=card.currency,
            reference=reference,
        )
        audit_record(
            actor=actor,
            action=AuditAction.CARD_TOPPED_UP,
            target=card,
            details={"amount_minor": amount_minor, "currency": card.currency, "reference": reference},
        )
    card.balance_minor = balance
    return entry


def ledger_mismatches():
    """Cards whose balance differs from the sum of their ledger entries, annotated
    with `ledger_sum_minor`."""
    entries_sum = (
        LedgerEntry.objects.filter(card=OuterRef("pk"))
        .values("card")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )
    return (
        Card.objects.annotate(ledger_sum_minor=Coalesce(Subquery(entries_sum), Value(0)))
        .exclude(balance_minor=F("ledger_sum_minor"))
        .order_by("created_at")
    )
