"""Replacing a card: a new card for the same cardholder on the same BIN, with the old
card's limits and its balance, moved by a ledger entry on each card; the old card is
closed and the two name each other (`replaces`, `replaced_by`). Money that later comes
back for the old card (a reversal) follows the chain to the card in service."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cards import pan as card_data
from cards.models import Card, LedgerEntry
from cards.services.issuing import IssuedCard, _new_card, default_expiry
from cards.services.lifecycle import LIMIT_FIELDS
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.card_numbers import reject_pan
from cardsystem.exceptions import ConflictError

Status = Card.Status
MAX_REASON = 200


def card_replace(*, card: Card, reason: str, actor: Actor) -> IssuedCard:
    """Issue the replacement of `card` and close it, all or nothing. The result holds the
    new card's PAN and CVV in clear: the caller shows them once and keeps neither.

    The new card is active (inactive if the old one was never activated) and valid for
    the default period from today. ValidationError for a missing reason; ConflictError
    for a closed card, a card without a cardholder or a BIN that issues no more cards.
    """
    reason = _checked_reason(reason)
    now = timezone.now()
    with transaction.atomic():
        # Locked (PostgreSQL; SQLite's write transactions are serial anyway): no
        # authorization, top-up or reversal changes the balance while it moves.
        old = Card.objects.select_for_update(of=("self",)).select_related("bin", "cardholder").get(pk=card.pk)
        _check_replaceable(old)
        month, year = default_expiry(timezone.localdate())
        issued = _new_card(
            bin=old.bin,
            cardholder=old.cardholder,
            month=month,
            year=year,
            status=Status.INACTIVE if old.status == Status.INACTIVE else Status.ACTIVE,
            limits={name: getattr(old, field) for name, field in LIMIT_FIELDS.items()},
            cvk=card_data.newest_cvk(),
            replaces=old,
        )
        new = issued.card
        Card.objects.filter(pk=old.pk).update(
            status=Status.CLOSED,
            status_reason=f"Replaced: {reason}"[:MAX_REASON],
            status_changed_at=now,
            balance_minor=0,
            updated_at=now,
        )
        moved = old.balance_minor
        if moved:
            Card.objects.filter(pk=new.pk).update(balance_minor=moved)
            new.balance_minor = moved
            LedgerEntry.objects.bulk_create(
                [
                    _entry(old, -moved, 0, reference=f"replaced by {new.pk}"),
                    _entry(new, moved, moved, reference=f"replaces {old.pk}"),
                ]
            )
        audit_record(
            actor=actor,
            action=AuditAction.CARD_STATUS_CHANGED,
            target=old,
            details={"from": old.status, "to": Status.CLOSED, "reason": f"Replaced: {reason}"},
        )
        audit_record(
            actor=actor,
            action=AuditAction.CARD_REPLACED,
            target=old,
            details={
                "replaced_by": str(new.pk),
                "reason": reason,
                "balance_moved_minor": moved,
                "currency": old.currency,
            },
        )
        audit_record(
            actor=actor,
            action=AuditAction.CARD_ISSUED,
            target=new,
            details={
                "bin": old.bin.bin,
                "cardholder": str(old.cardholder_id),
                "expiry": f"{month:02d}/{year}",
                "replaces": str(old.pk),
            },
        )
    return issued


def card_to_credit(card_id) -> object:
    """The id of the card that takes money meant for `card_id`: the card itself, or the
    newest of its replacements. Call it inside the transaction that credits: each card
    on the way is locked, so a replacement running meanwhile either finishes first (and
    the money follows it to the new card) or waits until the credit is committed."""
    while True:
        list(Card.objects.select_for_update().filter(pk=card_id).values_list("pk"))
        successor = Card.objects.filter(replaces_id=card_id).values_list("pk", flat=True).first()
        if successor is None:
            return card_id
        card_id = successor


def _checked_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the card is replaced."})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"At most {MAX_REASON} characters."})
    reject_pan(reason, "reason")
    return reason


def _check_replaceable(card: Card) -> None:
    if card.status == Status.CLOSED:
        raise ConflictError("A closed card cannot be replaced.", field="status")
    if card.cardholder_id is None:
        raise ConflictError(
            "A card without a cardholder cannot be replaced; assign it first.", field="cardholder"
        )
    if not card.bin.is_active:
        raise ConflictError("The card's BIN is inactive and issues no new cards.", field="bin")


def _entry(card: Card, amount_minor: int, balance_after_minor: int, *, reference: str) -> LedgerEntry:
    return LedgerEntry(
        card=card,
        kind=LedgerEntry.Kind.REPLACEMENT,
        amount_minor=amount_minor,
        balance_after_minor=balance_after_minor,
        currency=card.currency,
        reference=reference,
    )
