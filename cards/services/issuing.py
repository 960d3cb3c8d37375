"""Issuing: a card to a cardholder or a batch of stock, its credentials shown once, the
only lookup by card number, and the hand-over of a stock card to its cardholder."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from bins.models import Bin
from cards import pan as card_data
from cards.models import Card, Cardholder
from cards.queries import card_by_fingerprint
from cards.services.lifecycle import LIMIT_FIELDS, check_limits
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.exceptions import ConflictError
from cardsystem.models import DataKey

Status = Card.Status

DEFAULT_VALIDITY_YEARS = 3
MAX_VALIDITY_YEARS = 10
_PAN_ATTEMPTS = 20


@dataclass(frozen=True)
class IssuedCard:
    """A card with its number and CVV in clear: returned once, at issue, never stored."""

    card: Card
    pan: str
    cvv: str


def default_expiry(today: datetime.date) -> tuple[int, int]:
    return today.month, today.year + DEFAULT_VALIDITY_YEARS


def _check_expiry(month: int, year: int, today: datetime.date) -> dict[str, str]:
    if not 1 <= month <= 12:
        return {"expiry_month": "Give a month from 1 to 12."}
    if (year, month) < (today.year, today.month):
        return {"expiry_year": "The expiry date must not be in the past."}
    if year > today.year + MAX_VALIDITY_YEARS:
        return {"expiry_year": f"A card is valid for at most {MAX_VALIDITY_YEARS} years."}
    return {}


def _new_card(
    *,
    bin: Bin,
    cardholder: Cardholder | None,
    month: int,
    year: int,
    status: str,
    limits: dict,
    cvk: DataKey,
    replaces: Card | None = None,
):
    """Insert a card under a fresh random PAN, retrying on the (rare) collision. Its CVV is
    computed with `cvk`, the newest card verification key."""
    for _ in range(_PAN_ATTEMPTS):
        pan = card_data.generate_pan(bin.bin, bin.pan_length)
        fingerprints = card_data.pan_fingerprints(pan)
        # Cards issued under an earlier key are indexed under that key's fingerprint.
        if len(fingerprints) > 1 and Card.objects.filter(pan_fingerprint__in=fingerprints[1:]).exists():
            continue
        key_id, encrypted = card_data.encrypt_pan(pan)
        card = Card(
            bin=bin,
            cardholder=cardholder,
            pan_key_id=key_id,
            pan_encrypted=encrypted,
            pan_fingerprint=fingerprints[0],
            masked_pan=card_data.mask_pan(pan),
            cvk=cvk,
            last4=pan[-4:],
            expiry_month=month,
            expiry_year=year,
            status=status,
            currency=bin.currency,
            replaces=replaces,
            **{LIMIT_FIELDS[name]: value for name, value in limits.items()},
        )
        try:
            with transaction.atomic():
                card.save(force_insert=True)
        except IntegrityError:
            continue
        cvv = card_data.compute_cvv(pan=pan, expiry_month=month, expiry_year=year, cvk_id=cvk.pk)
        return IssuedCard(card=card, pan=pan, cvv=cvv)
    raise ValidationError({"bin": "No unused card number could be found in this BIN's range."})


def _issuable(bin: Bin) -> None:
    if not bin.is_active:
        raise ValidationError({"bin": "This BIN is inactive and issues no new cards."})


def card_issue(
    *,
    bin: Bin,
    cardholder: Cardholder,
    actor: Actor,
    expiry_month: int | None = None,
    expiry_year: int | None = None,
    limits: dict[str, int | None] | None = None,
) -> IssuedCard:
    """Issue an active card to a cardholder. The result is the only time the PAN and
    CVV exist in clear; the caller shows them once and keeps neither."""
    _issuable(bin)
    today = timezone.localdate()
    default_month, default_year = default_expiry(today)
    if (expiry_month is None) != (expiry_year is None):
        missing = "expiry_year" if expiry_year is None else "expiry_month"
        raise ValidationError({missing: "Give both expiry_month and expiry_year, or neither."})
    month = expiry_month if expiry_month is not None else default_month
    year = expiry_year if expiry_year is not None else default_year
    limits = limits or {}
    errors = {**_check_expiry(month, year, today), **check_limits(limits)}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        issued = _new_card(
            bin=bin,
            cardholder=cardholder,
            month=month,
            year=year,
            status=Status.ACTIVE,
            limits=limits,
            cvk=card_data.newest_cvk(),
        )
        audit_record(
            actor=actor,
            action=AuditAction.CARD_ISSUED,
            target=issued.card,
            details={"bin": bin.bin, "cardholder": str(cardholder.pk), "expiry": f"{month:02d}/{year}"},
        )
    return issued


def card_issue_bulk(
    *, bin: Bin, count: int, actor: Actor, on_issued: Callable[[IssuedCard], None], source: str = ""
) -> int:
    """Issue `count` unassigned, inactive cards (stock for the card manufacturer), all
    or none: `on_issued` receives each card in clear inside the transaction, and if it
    raises (say, the output file cannot be written) nothing is issued."""
    _issuable(bin)
    if count < 1:
        raise ValidationError({"count": "Issue at least one card."})
    month, year = default_expiry(timezone.localdate())
    with transaction.atomic():
        stock = {"cardholder": None, "status": Status.INACTIVE, "limits": {}, "cvk": card_data.newest_cvk()}
        for _ in range(count):
            on_issued(_new_card(bin=bin, month=month, year=year, **stock))
        audit_record(
            actor=actor,
            action=AuditAction.CARDS_BULK_ISSUED,
            target=bin,
            details={"count": count, "expiry": f"{month:02d}/{year}", "output": source},
        )
    return count


def card_credentials(card: Card) -> IssuedCard:
    """Recover the PAN and recompute the CVV of an issued card, for the one place that
    shows them again: replaying the issuing response under its Idempotency-Key."""
    pan = card_data.decrypt_pan(card.pan_key_id, card.pan_encrypted)
    cvv = card_data.compute_cvv(
        pan=pan, expiry_month=card.expiry_month, expiry_year=card.expiry_year, cvk_id=card.cvk_id
    )
    return IssuedCard(card=card, pan=pan, cvv=cvv)


def card_get_by_pan(pan: str, *, lock: bool = False) -> Card | None:
    """The only query by card number: through its keyed fingerprint(s). With `lock`,
    the card row stays locked until the caller's transaction ends (PostgreSQL; SQLite
    serialises write transactions anyway). The card comes with its cardholder, not its
    BIN, which the decision never reads."""
    fingerprints = card_data.pan_fingerprints(pan)
    if len(fingerprints) == 1:  # every authorization, outside a key rotation
        return card_by_fingerprint(fingerprints[0], lock=lock)
    cards = Card.objects.select_related("cardholder")
    if lock:
        cards = cards.select_for_update(of=("self",))
    return cards.filter(pan_fingerprint__in=fingerprints).first()


def card_assign(*, card: Card, cardholder: Cardholder, actor: Actor) -> Card:
    """Hand a bulk-issued card to a cardholder (it stays inactive until activated)."""
    with transaction.atomic():
        if not Card.objects.filter(pk=card.pk, cardholder__isnull=True).update(
            cardholder=cardholder, updated_at=timezone.now()
        ):
            raise ConflictError("This card already belongs to a cardholder.", field="cardholder")
        audit_record(
            actor=actor,
            action=AuditAction.CARD_ASSIGNED,
            target=card,
            details={"cardholder": str(cardholder.pk)},
        )
    card.refresh_from_db()
    return card
