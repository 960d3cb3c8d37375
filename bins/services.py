from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from bins.models import Bin
from cardsystem.audit import Actor, AuditAction, audit_record

BIN_FIELDS = ("bin", "network", "issuer_name", "card_type", "country", "currency", "pan_length", "is_active")


def bin_build(**fields) -> Bin:
    """A validated, unsaved BIN. Raises ValidationError naming every bad field."""
    unknown = set(fields) - set(BIN_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})
    candidate = Bin(**fields)
    candidate.full_clean()
    return candidate


def bin_create(*, actor: Actor, **fields) -> Bin:
    """Create a BIN after checking every field and the network's prefix ranges."""
    candidate = bin_build(**fields)
    try:
        with transaction.atomic():
            candidate.save()
            audit_record(actor=actor, action=AuditAction.BIN_CREATED, target=candidate)
    except IntegrityError:  # a concurrent create of the same BIN
        raise ValidationError({"bin": "A BIN with this number already exists."}) from None
    return candidate


class BinImportError(Exception):
    """Rows that failed validation, {row label: {field: [messages]}}; nothing was imported."""

    def __init__(self, errors: dict[str, dict[str, list[str]]]):
        super().__init__(f"{len(errors)} rows have errors")
        self.errors = errors


def bin_import(*, rows: list[tuple[str, dict]], actor: Actor, source: str) -> list[Bin]:
    """Create many BINs, all or none. `rows` pairs a label ("line 3") with the fields.
    Raises BinImportError listing every bad row."""
    errors: dict[str, dict] = {}
    candidates: list[Bin] = []
    seen: dict[str, str] = {}
    for label, fields in rows:
        try:
            candidate = bin_build(**fields)
        except ValidationError as error:
            errors[label] = error.message_dict
            continue
        if candidate.bin in seen:
            errors[label] = {"bin": [f"Duplicate of {seen[candidate.bin]} in this file."]}
            continue
        seen[candidate.bin] = label
        candidates.append(candidate)
    if errors:
        raise BinImportError(errors)
    try:
        with transaction.atomic():
            created = Bin.objects.bulk_create(candidates)
            audit_record(
                actor=actor,
                action=AuditAction.BINS_IMPORTED,
                target_label=source,
                details={"count": len(created), "bins": [b.bin for b in created][:100]},
            )
    except IntegrityError:
        raise BinImportError({source: {"bin": ["A BIN in this file was created meanwhile."]}}) from None
    return created


def bin_set_active(*, bin: Bin, is_active: bool, actor: Actor) -> Bin:
    with transaction.atomic():
        updated = Bin.objects.filter(pk=bin.pk, is_active=not is_active).update(is_active=is_active)
        if updated:
            action = AuditAction.BIN_ACTIVATED if is_active else AuditAction.BIN_DEACTIVATED
            audit_record(actor=actor, action=action, target=bin)
    bin.refresh_from_db()
    return bin
