"""Fraud reports: a transaction labelled confirmed fraud, from the time it was reported."""

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db import transaction as db
from django.utils import timezone

from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.card_numbers import contains_pan
from cardsystem.exceptions import ConflictError
from transactions.models import FraudReport, Transaction
from transactions.signals import fraud_reported


def fraud_report_create(
    *, transaction: Transaction, reason: str, actor: Actor, reported_at: datetime.datetime | None = None
) -> FraudReport:
    """Label a transaction confirmed fraud (a dispute or chargeback), from `reported_at` on.
    Only an approval that still stands can be: ConflictError for a decline (no money was
    taken) or a reversed approval (the money came back)."""
    if transaction.status != Transaction.Status.APPROVED:
        what = "declined" if transaction.status == Transaction.Status.DECLINED else "reversed"
        raise ConflictError(f"A {what} transaction took no money and cannot be reported as fraud.")
    now = timezone.now()
    reported_at = reported_at or now
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = "Say what the cardholder reported."
    elif contains_pan(reason):
        errors["reason"] = "This looks like a card number: never write card data here."
    # A transaction may be dated a little ahead (an acquirer's clock): its report may be too.
    if reported_at > max(now, transaction.transaction_time):
        errors["reported_at"] = "A report cannot be dated in the future."
    elif reported_at < transaction.transaction_time:
        errors["reported_at"] = "A report cannot predate its transaction."
    if errors:
        raise ValidationError(errors)
    try:
        with db.atomic():
            report = FraudReport.objects.create(
                transaction=transaction,
                reason=reason,
                reported_at=reported_at,
                client=actor.client,
                merchant_id=transaction.merchant_id,
                card_id=transaction.card_id,
                transaction_time=transaction.transaction_time,
            )
            audit_record(
                actor=actor,
                action=AuditAction.FRAUD_REPORTED,
                target=transaction,
                details={"reason": reason, "reported_at": reported_at.isoformat()},
            )
            fraud_reported.send(sender=FraudReport, report=report)
            return report
    except IntegrityError:
        raise ConflictError("This transaction was already reported as fraud.") from None
