"""Cardholders: the people cards are issued to."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cards.models import Cardholder
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.card_numbers import reject_pan


def cardholder_create(
    *, name: str, date_of_birth: datetime.date, country: str, actor: Actor, email: str = ""
) -> Cardholder:
    cardholder = Cardholder(
        name=(name or "").strip(), date_of_birth=date_of_birth, country=country, email=email or ""
    )
    cardholder.full_clean()
    reject_pan(cardholder.name, "name")
    reject_pan(cardholder.email, "email")
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
