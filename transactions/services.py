"""Authorizations: decide, record, debit. Reversals and fraud reports.

One authorization is one database transaction: the card row is locked, risk is
assessed through the `authorization_attempted` signal, the decision is taken in the
contract's order, the transaction recorded and, when approved, the balance debited
with its ledger entry; then `authorization_recorded` lets the fraud app react.
"""

import calendar
import datetime
import logging
import time
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db import transaction as db
from django.db.models import F, Sum
from django.utils import timezone

from cards import pan as card_data
from cards.models import Card, LedgerEntry
from cards.services import card_get_by_pan
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.exceptions import ConflictError
from cardsystem.models import ApiClient
from transactions.codes import Decision
from transactions.models import FraudReport, Transaction
from transactions.signals import (
    NO_RISK,
    AuthorizationAttempt,
    RiskAssessment,
    RiskFactor,
    authorization_attempted,
    authorization_recorded,
)

logger = logging.getLogger("cardsystem.authorizations")

Status = Card.Status
_STATUS_DECISIONS = {
    Status.INACTIVE: Decision.RESTRICTED_CARD,
    Status.BLOCKED: Decision.RESTRICTED_CARD,
    Status.CLOSED: Decision.RESTRICTED_CARD,
    Status.LOST: Decision.LOST_CARD,
    Status.STOLEN: Decision.STOLEN_CARD,
    Status.EXPIRED: Decision.EXPIRED_CARD,
}
RISK_ENGINE_FAILED = RiskAssessment(
    score=100,
    level="high",
    factors=[RiskFactor("risk_engine_error", 100, "Risk could not be assessed; declined to be safe.")],
    decline=True,
)


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated request: card data in clear lives only here, only for the decision."""

    card_number: str
    expiry_month: int
    expiry_year: int
    cvv: str | None
    amount_minor: int
    currency: str
    merchant_id: str
    merchant_name: str
    mcc: str
    merchant_country: str
    channel: str
    transaction_time: datetime.datetime

    def __repr__(self):  # never print the card number or CVV
        masked = card_data.mask_pan(self.card_number)
        return f"AuthorizationRequest({masked}, {self.amount_minor} {self.currency})"


def authorization_decide(*, request: AuthorizationRequest, client: ApiClient | None = None) -> Transaction:
    """Decide an authorization and record it. Every call records one Transaction."""
    started = time.perf_counter()
    with db.atomic():
        card = card_get_by_pan(request.card_number, lock=True)
        if card is None:
            assessment = None
            decision = Decision.INVALID_CARD
            cvv_result = Transaction.CvvResult.UNCHECKED
        else:
            cvv_result = _cvv_result(card, request)
            assessment = _assess(card, request, cvv_result)
            decision = _decide(card, request, cvv_result, assessment)
            if decision.approved and not _debit(card, request.amount_minor):
                decision = Decision.INSUFFICIENT_FUNDS
        recorded = _record(request, card, decision, cvv_result, assessment, client)
        if decision.approved:
            LedgerEntry.objects.create(
                card=card,
                kind=LedgerEntry.Kind.DEBIT,
                amount_minor=-request.amount_minor,
                balance_after_minor=card.balance_minor,
                currency=card.currency,
                reference=str(recorded.pk),
            )
        authorization_recorded.send(
            sender=Transaction, transaction=recorded, assessment=assessment or NO_RISK
        )
    _log_decision(recorded, time.perf_counter() - started)
    return recorded


def _cvv_result(card: Card, request: AuthorizationRequest) -> str:
    if request.cvv is None:
        return Transaction.CvvResult.ABSENT
    # The CVV is derived from the card's own expiry: a wrong expiry fails on its own (54).
    matches = card_data.cvv_matches(
        cvv=request.cvv,
        pan=request.card_number,
        expiry_month=card.expiry_month,
        expiry_year=card.expiry_year,
        key_id=card.pan_key_id,
    )
    return Transaction.CvvResult.MATCH if matches else Transaction.CvvResult.MISMATCH


def _assess(card: Card, request: AuthorizationRequest, cvv_result: str) -> RiskAssessment:
    attempt = AuthorizationAttempt(
        card=card,
        amount_minor=request.amount_minor,
        currency=request.currency,
        merchant_id=request.merchant_id,
        merchant_name=request.merchant_name,
        mcc=request.mcc,
        merchant_country=request.merchant_country,
        channel=request.channel,
        transaction_time=request.transaction_time,
        cvv_result=cvv_result,
    )
    answers = []
    for receiver, answer in authorization_attempted.send_robust(sender=Transaction, attempt=attempt):
        if isinstance(answer, Exception):
            logger.error(
                "risk receiver %s failed; failing closed",
                getattr(receiver, "__qualname__", receiver),
                exc_info=(type(answer), answer, answer.__traceback__),
            )
            return RISK_ENGINE_FAILED
        if answer is not None:
            answers.append(answer)
    return combine_assessments(answers)


def combine_assessments(answers: list[RiskAssessment]) -> RiskAssessment:
    """One assessment from several scorers: points add up (to 100), flags combine."""
    if not answers:
        return NO_RISK
    if len(answers) == 1:
        return answers[0]
    score = min(100, sum(a.score for a in answers))
    highest = max(answers, key=lambda a: ("low", "medium", "high").index(a.level))
    return RiskAssessment(
        score=score,
        level=highest.level,
        factors=[f for a in answers for f in a.factors],
        decline=any(a.decline for a in answers),
        review=any(a.review for a in answers),
        restriction=next((a.restriction for a in answers if a.restriction), None),
        block_card=next((a.block_card for a in answers if a.block_card), None),
        features={k: v for a in answers for k, v in a.features.items()},
    )


def _decide(
    card: Card, request: AuthorizationRequest, cvv_result: str, assessment: RiskAssessment
) -> Decision:
    """The checks of the contract, in its order; the first that fails decides."""
    if card.status != Status.ACTIVE:
        return _STATUS_DECISIONS[card.status]
    if (request.expiry_month, request.expiry_year) != (
        card.expiry_month,
        card.expiry_year,
    ) or card.is_expired(on=request.transaction_time.date()):
        return Decision.EXPIRED_CARD
    if cvv_result == Transaction.CvvResult.MISMATCH:
        return Decision.CVV_MISMATCH
    if request.currency != card.currency or assessment.restriction:
        return Decision.NOT_PERMITTED
    if _exceeds_limits(card, request):
        return Decision.EXCEEDS_LIMIT
    if request.amount_minor > card.balance_minor:
        return Decision.INSUFFICIENT_FUNDS
    if assessment.decline:
        return Decision.SUSPECTED_FRAUD
    return Decision.APPROVED


def _exceeds_limits(card: Card, request: AuthorizationRequest) -> bool:
    amount = request.amount_minor
    if card.limit_per_transaction_minor is not None and amount > card.limit_per_transaction_minor:
        return True
    at = request.transaction_time.astimezone(datetime.UTC)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    windows = [
        (card.limit_daily_minor, day, day + datetime.timedelta(days=1)),
        (
            card.limit_monthly_minor,
            month,
            month + datetime.timedelta(days=calendar.monthrange(at.year, at.month)[1]),
        ),
    ]
    for limit, start, end in windows:
        if limit is None:
            continue
        if amount > limit:
            return True
        spent = (
            Transaction.objects.filter(
                card=card,
                status=Transaction.Status.APPROVED,
                transaction_time__gte=start,
                transaction_time__lt=end,
            ).aggregate(total=Sum("amount_minor"))["total"]
            or 0
        )
        if spent + amount > limit:
            return True
    return False


def _debit(card: Card, amount_minor: int) -> bool:
    # Conditional even under the row lock: the balance can never go below zero.
    updated = Card.objects.filter(pk=card.pk, balance_minor__gte=amount_minor).update(
        balance_minor=F("balance_minor") - amount_minor
    )
    if updated:
        card.balance_minor -= amount_minor  # exact: the row is locked for this transaction
    return bool(updated)


def _record(request, card, decision, cvv_result, assessment, client) -> Transaction:
    flagged = bool(assessment and (assessment.review or assessment.block_card))
    return Transaction.objects.create(
        card=card,
        masked_pan=card.masked_pan if card else card_data.mask_pan(request.card_number),
        amount_minor=request.amount_minor,
        currency=request.currency,
        merchant_id=request.merchant_id,
        merchant_name=request.merchant_name,
        mcc=request.mcc,
        merchant_country=request.merchant_country,
        channel=request.channel,
        transaction_time=request.transaction_time,
        status=Transaction.Status.APPROVED if decision.approved else Transaction.Status.DECLINED,
        response_code=decision.code,
        reason=decision.reason,
        cvv_result=cvv_result,
        risk_score=assessment.score if assessment else None,
        risk_level=assessment.level if assessment else "",
        risk_factors=[f.as_dict() for f in assessment.factors] if assessment else [],
        flagged=flagged,
        client=client,
    )


def _log_decision(recorded: Transaction, elapsed: float) -> None:
    logger.info(
        "authorization",
        extra={
            "event": "authorization",
            "transaction": str(recorded.pk),
            "masked_pan": recorded.masked_pan,
            "amount": recorded.amount,
            "currency": recorded.currency,
            "merchant_id": recorded.merchant_id,
            "status": recorded.status,
            "response_code": recorded.response_code,
            "risk_score": recorded.risk_score,
            "risk_factors": [f["code"] for f in recorded.risk_factors],
            "flagged": recorded.flagged,
            "latency_ms": round(elapsed * 1000, 2),
        },
    )


# --- Reversal ----------------------------------------------------------------------------------


def authorization_reverse(*, transaction: Transaction, actor: Actor) -> Transaction:
    """Reverse an approval once, crediting the amount back. ConflictError for a decline
    or a second reversal."""
    now = timezone.now()
    with db.atomic():
        if not Transaction.objects.filter(pk=transaction.pk, status=Transaction.Status.APPROVED).update(
            status=Transaction.Status.REVERSED, reversed_at=now
        ):
            transaction.refresh_from_db(fields=["status"])
            what = (
                "was already reversed"
                if transaction.status == Transaction.Status.REVERSED
                else "was declined"
            )
            raise ConflictError(f"This authorization {what}; only an approval can be reversed, once.")
        Card.objects.filter(pk=transaction.card_id).update(
            balance_minor=F("balance_minor") + transaction.amount_minor
        )
        balance = Card.objects.values_list("balance_minor", flat=True).get(pk=transaction.card_id)
        LedgerEntry.objects.create(
            card_id=transaction.card_id,
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
    transaction.refresh_from_db()
    return transaction


# --- Fraud reports -----------------------------------------------------------------------------


def fraud_report_create(
    *, transaction: Transaction, reason: str, actor: Actor, reported_at: datetime.datetime | None = None
) -> FraudReport:
    """Label a transaction confirmed fraud (a dispute or chargeback), from `reported_at` on."""
    now = timezone.now()
    reported_at = reported_at or now
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = "Say what the cardholder reported."
    if reported_at > now:
        errors["reported_at"] = "A report cannot be dated in the future."
    elif reported_at < transaction.transaction_time:
        errors["reported_at"] = "A report cannot predate its transaction."
    if errors:
        raise ValidationError(errors)
    try:
        with db.atomic():
            report = FraudReport.objects.create(
                transaction=transaction, reason=reason, reported_at=reported_at, client=actor.client
            )
            audit_record(
                actor=actor,
                action=AuditAction.FRAUD_REPORTED,
                target=transaction,
                details={"reason": reason, "reported_at": reported_at.isoformat()},
            )
            return report
    except IntegrityError:
        raise ConflictError("This transaction was already reported as fraud.") from None
