"""Cardholders, card issuing, the card lifecycle, limits and the balance ledger.

Every function here is the single place its rule lives: the admin, the API and the
management commands all call these, inside the transaction each one opens.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from bins.models import Bin
from cards import pan as card_data
from cards.models import Card, Cardholder, LedgerEntry
from cards.queries import card_by_fingerprint
from cardsystem import money
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.exceptions import ConflictError

Status = Card.Status

DEFAULT_VALIDITY_YEARS = 3
MAX_VALIDITY_YEARS = 10
_PAN_ATTEMPTS = 20

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
# A lost, stolen, expired or closed card takes no more money.
CREDITABLE = (Status.ACTIVE, Status.INACTIVE, Status.BLOCKED)

LIMIT_FIELDS = {
    "per_transaction": "limit_per_transaction_minor",
    "daily": "limit_daily_minor",
    "monthly": "limit_monthly_minor",
}


@dataclass(frozen=True)
class IssuedCard:
    """A card with its number and CVV in clear: returned once, at issue, never stored."""

    card: Card
    pan: str
    cvv: str


# --- Cardholders ----------------------------------------------------------------------


def cardholder_create(
    *, name: str, date_of_birth: datetime.date, country: str, actor: Actor, email: str = ""
) -> Cardholder:
    cardholder = Cardholder(
        name=(name or "").strip(), date_of_birth=date_of_birth, country=country, email=email or ""
    )
    cardholder.full_clean()
    errors = {}
    today = timezone.localdate()
    if date_of_birth >= today:
        errors["date_of_birth"] = "The date of birth must be in the past."
    elif date_of_birth < datetime.date(1900, 1, 1):
        errors["date_of_birth"] = "The date of birth must be after 1900-01-01."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        cardholder.save()
        audit_record(actor=actor, action=AuditAction.CARDHOLDER_CREATED, target=cardholder)
    return cardholder


# --- Issuing ----------------------------------------------------------------------------


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


def _check_limits(limits: dict[str, int | None]) -> dict[str, str]:
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


def _new_card(*, bin: Bin, cardholder: Cardholder | None, month: int, year: int, status: str, limits: dict):
    """Insert a card under a fresh random PAN, retrying on the (rare) collision."""
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
            last4=pan[-4:],
            expiry_month=month,
            expiry_year=year,
            status=status,
            currency=bin.currency,
            **{LIMIT_FIELDS[name]: value for name, value in limits.items()},
        )
        try:
            with transaction.atomic():
                card.save(force_insert=True)
        except IntegrityError:
            continue
        cvv = card_data.compute_cvv(pan=pan, expiry_month=month, expiry_year=year, key_id=key_id)
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
    errors = {**_check_expiry(month, year, today), **_check_limits(limits)}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        issued = _new_card(
            bin=bin, cardholder=cardholder, month=month, year=year, status=Status.ACTIVE, limits=limits
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
        for _ in range(count):
            on_issued(
                _new_card(bin=bin, cardholder=None, month=month, year=year, status=Status.INACTIVE, limits={})
            )
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
        pan=pan, expiry_month=card.expiry_month, expiry_year=card.expiry_year, key_id=card.pan_key_id
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


# --- Lifecycle and limits ------------------------------------------------------------------


def card_change_status(*, card: Card, status: str, reason: str, actor: Actor) -> Card:
    """Move a card to `status` along TRANSITIONS, recording the reason and the actor.

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
    card_data.reject_pan(reason, "reason")
    card.refresh_from_db(fields=["status", "cardholder", "expiry_month", "expiry_year"])
    current = card.status
    if status == current:
        return card
    if status not in TRANSITIONS[current]:
        raise ConflictError(f"A {current} card cannot become {status}.", field="status")
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
            status=status, status_reason=reason, status_changed_at=now, updated_at=now
        ):
            raise ConflictError("The card's status changed meanwhile; try again.", field="status")
        audit_record(
            actor=actor,
            action=AuditAction.CARD_STATUS_CHANGED,
            target=card,
            details={"from": current, "to": status, "reason": reason},
        )
    card.refresh_from_db()
    return card


def card_set_limits(*, card: Card, limits: dict[str, int | None], actor: Actor) -> Card:
    """Set some or all spending limits (None removes one); the others keep their value."""
    card.refresh_from_db(fields=list(LIMIT_FIELDS.values()))
    current = {name: getattr(card, field) for name, field in LIMIT_FIELDS.items()}
    merged = {**current, **limits}
    errors = _check_limits(merged)
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


# --- Balance ------------------------------------------------------------------------------


def card_top_up(*, card: Card, amount_minor: int, actor: Actor, reference: str = "") -> LedgerEntry:
    """Credit a card. Raises ValidationError (nothing written) on a bad amount or a card
    that takes no money."""
    if amount_minor <= 0:
        raise ValidationError({"amount": "Must be greater than zero."})
    if len(reference) > 64:
        raise ValidationError({"reference": "At most 64 characters."})
    card_data.reject_pan(reference, "reference")
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
