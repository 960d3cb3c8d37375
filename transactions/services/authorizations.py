"""Authorizations: decide, record, debit.

One authorization is one database transaction: the card row is locked, risk is
assessed through the `authorization_attempted` signal, the decision is taken in the
contract's order, the transaction recorded and, when approved, the balance debited
with its ledger entry; then `authorization_recorded` lets the fraud app react.
"""

import calendar
import datetime
import functools
import logging
import time
import uuid
from dataclasses import dataclass

from django.db import transaction as db
from django.db.models import Q, Sum
from django.utils import timezone

from cards import pan as card_data
from cards.models import Card, LedgerEntry
from cards.services import card_get_by_pan
from cardsystem import metrics
from cardsystem.models import ApiClient
from transactions.authentication_facts import CardholderVerification
from transactions.codes import Decision, risk_decision
from transactions.models import Transaction
from transactions.queries import approval_insert, transaction_insert
from transactions.signals import (
    NO_RISK,
    AuthorizationAttempt,
    RiskAssessment,
    RiskFactor,
    authorization_attempted,
    authorization_recorded,
)

# One structured line per decision (settings.LOGGING sends it to the decisions file).
decisions = logging.getLogger("cardsystem.authorizations")
logger = logging.getLogger(__name__)

Status = Card.Status
_STATUS_DECISIONS = {
    Status.INACTIVE: Decision.RESTRICTED_CARD,
    Status.BLOCKED: Decision.RESTRICTED_CARD,
    Status.CLOSED: Decision.RESTRICTED_CARD,
    Status.LOST: Decision.LOST_CARD,
    Status.STOLEN: Decision.STOLEN_CARD,
    Status.EXPIRED: Decision.EXPIRED_CARD,
}
RISK_ENGINE_ERROR = "risk_engine_error"
RISK_ENGINE_FAILED = RiskAssessment(
    score=100,
    level="high",
    factors=[RiskFactor(RISK_ENGINE_ERROR, 100, "Risk could not be assessed; declined to be safe.")],
    decline=True,
    review=True,  # an analyst should see that scoring failed
)

# An unknown card number: neither its CVV nor its expiry date can be checked.
NOTHING_CHECKED = {
    "cvv_result": Transaction.CvvResult.UNCHECKED,
    "expiry_result": Transaction.ExpiryResult.UNCHECKED,
}


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
    # How card and cardholder were authenticated (transactions/authentication_facts.py):
    # "" is unknown; the device as its keyed hash only.
    entry_mode: str = ""
    cardholder_verification: str = ""
    three_ds: str = ""
    device_hash: str = ""

    def facts(self) -> dict:
        """Everything but the card data: what the risk attempt and the record both keep."""
        return {
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "merchant_id": self.merchant_id,
            "merchant_name": self.merchant_name,
            "mcc": self.mcc,
            "merchant_country": self.merchant_country,
            "channel": self.channel,
            "transaction_time": self.transaction_time,
            "bin_prefix": card_data.bin_prefix(self.card_number),
            "entry_mode": self.entry_mode,
            "cardholder_verification": self.cardholder_verification,
            "three_ds": self.three_ds,
            "device_hash": self.device_hash,
        }

    def __repr__(self):  # never print the card number or CVV
        masked = card_data.mask_pan(self.card_number)
        return f"AuthorizationRequest({masked}, {self.amount_minor} {self.currency})"


def authorization_decide(*, request: AuthorizationRequest, client: ApiClient | None = None) -> Transaction:
    """Decide an authorization and record it. Every call records one Transaction.

    Unknown cards are recorded with the masked number only and no risk score. A risk
    receiver that raises fails closed (declined, factor `risk_engine_error`); a receiver
    of `authorization_recorded` that raises rolls everything back and propagates.
    """
    started = time.perf_counter()
    # On its own, the decision is one database transaction and the risk receivers run in
    # it bare: a savepoint around them would cost two more statements per decision. If
    # one of them fails, its query may have aborted the transaction (PostgreSQL), so the
    # whole transaction is rolled back and the decision made again, failing closed.
    # Inside a caller's transaction (the Idempotency-Key claim) a rollback would take
    # the caller's work with it: there the receivers keep a savepoint of their own.
    guarded = db.get_connection().in_atomic_block
    try:
        return _decide_and_record(request, client, started, guarded=guarded)
    except _RiskReceiverFailed:
        return _decide_and_record(request, client, started, guarded=guarded, risk_failed=True)


class _RiskReceiverFailed(Exception):
    """A risk receiver failed outside a savepoint: its transaction is rolled back."""


def _decide_and_record(
    request: AuthorizationRequest,
    client: ApiClient | None,
    started: float,
    *,
    guarded: bool,
    risk_failed: bool = False,
) -> Transaction:
    # savepoint=False: on its own this block is the transaction; inside a caller's (the
    # Idempotency-Key claim) a savepoint would only add two statements per decision, as
    # that caller rolls back on any failure anyway. A caller that wants to carry on after
    # a failure here must wrap the call in its own atomic().
    with db.atomic(savepoint=False):
        # The card row stays locked until commit: concurrent authorizations on one card
        # are decided one after the other, each seeing the balance and the approvals
        # (limits) the previous one committed.
        card = card_get_by_pan(request.card_number, lock=True)
        if card is None:
            assessment = None
            decision = Decision.INVALID_CARD
            checks = NOTHING_CHECKED
        else:
            checks = {
                "cvv_result": _cvv_result(card, request),
                "expiry_result": _expiry_result(card, request),
            }
            assessment = (
                RISK_ENGINE_FAILED if risk_failed else _assess(card, request, checks, guarded=guarded)
            )
            decision = _decide(card, request, checks["cvv_result"], assessment)
        recorded = None
        if decision.approved:
            recorded = _approve(request, card, decision, checks, assessment, client)
            if recorded is None:  # the conditional debit found the balance short after all
                decision = Decision.INSUFFICIENT_FUNDS
        if recorded is None:
            recorded = transaction_insert(
                **_transaction_values(request, card, decision, checks, assessment, client)
            )
        authorization_recorded.send(
            sender=Transaction, transaction=recorded, assessment=assessment or NO_RISK
        )
        # Logged and counted (/metrics) once committed: a decision rolled back later (by the caller's
        # transaction, say a failure while answering under an Idempotency-Key) was never taken.
        db.on_commit(functools.partial(_log_decision, recorded, started), robust=True)
    return recorded


def _expiry_result(card: Card, request: AuthorizationRequest) -> str:
    """Checked, like the CVV, only on an active card: elsewhere a wrong expiry's risk
    factors would tell a guesser what the decline (62, 41, 43) does not."""
    if card.status != Status.ACTIVE:
        return Transaction.ExpiryResult.UNCHECKED
    if (request.expiry_month, request.expiry_year) != (card.expiry_month, card.expiry_year):
        return Transaction.ExpiryResult.MISMATCH
    return Transaction.ExpiryResult.MATCH


def _cvv_result(card: Card, request: AuthorizationRequest) -> str:
    if request.cvv is None:
        return Transaction.CvvResult.ABSENT
    # Checked only where it can decide: on an active card with the right, unexpired
    # expiry. Anywhere else its result would leak through the risk factors of a
    # decline (62, 41, 43, 54), an oracle for guessing expiry and CVV from a PAN alone.
    if (
        card.status != Status.ACTIVE
        or (request.expiry_month, request.expiry_year) != (card.expiry_month, card.expiry_year)
        or card.is_expired(on=request.transaction_time.astimezone(datetime.UTC).date())
    ):
        return Transaction.CvvResult.UNCHECKED
    matches = card_data.cvv_matches(
        cvv=request.cvv,
        pan=request.card_number,
        expiry_month=card.expiry_month,
        expiry_year=card.expiry_year,
        cvk_id=card.cvk_id,
    )
    return Transaction.CvvResult.MATCH if matches else Transaction.CvvResult.MISMATCH


def _assess(card: Card, request: AuthorizationRequest, checks: dict, *, guarded: bool) -> RiskAssessment:
    attempt = AuthorizationAttempt(card=card, **checks, **request.facts())
    if guarded:
        # In a savepoint of its own: on PostgreSQL a receiver's failed query aborts the
        # whole transaction, and only rolling back to here lets the decision be recorded.
        with db.atomic():
            results = authorization_attempted.send_robust(sender=Transaction, attempt=attempt)
            failed = [(r, a) for r, a in results if a is not None and not isinstance(a, RiskAssessment)]
            if failed:
                db.set_rollback(True)
    else:
        results = authorization_attempted.send_robust(sender=Transaction, attempt=attempt)
        failed = [(r, a) for r, a in results if a is not None and not isinstance(a, RiskAssessment)]
    if failed:
        receiver, answer = failed[0]
        # Logged apart from the decision's own line, which carries risk_engine_error.
        metrics.scorer_error(RISK_ENGINE_ERROR)
        logger.error(
            "risk receiver %s failed; failing closed",
            getattr(receiver, "__qualname__", receiver),
            exc_info=answer if isinstance(answer, Exception) else None,
        )
        if not guarded:  # the transaction may be aborted: authorization_decide starts again
            raise _RiskReceiverFailed
        return RISK_ENGINE_FAILED
    return combine_assessments([answer for _, answer in results if answer is not None])


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
        verification=next((a.verification for a in answers if a.verification), None),
        block_card=next((a.block_card for a in answers if a.block_card), None),
        features={k: v for a in answers for k, v in a.features.items()},
        config_version=next((a.config_version for a in answers if a.config_version is not None), None),
    )


def _decide(
    card: Card, request: AuthorizationRequest, cvv_result: str, assessment: RiskAssessment
) -> Decision:
    """The checks of the contract, in its order; the first that fails decides."""
    if card.status != Status.ACTIVE:
        return _STATUS_DECISIONS[card.status]
    # Judged on the UTC date of transaction_time, like the limit windows.
    on = request.transaction_time.astimezone(datetime.UTC).date()
    if (request.expiry_month, request.expiry_year) != (card.expiry_month, card.expiry_year) or (
        card.is_expired(on=on)
    ):
        return Decision.EXPIRED_CARD
    if cvv_result == Transaction.CvvResult.MISMATCH:
        return Decision.CVV_MISMATCH
    # The terminal verified the PIN against the chip and it failed: the purchase is not
    # the cardholder's until the right PIN is given (their next attempt, a thief's never).
    if request.cardholder_verification == CardholderVerification.PIN_FAILED:
        return Decision.INCORRECT_PIN
    if request.currency != card.currency or assessment.restriction:
        return Decision.NOT_PERMITTED
    if _exceeds_limits(card, request):
        return Decision.EXCEEDS_LIMIT
    if request.amount_minor > card.balance_minor:
        return Decision.INSUFFICIENT_FUNDS
    return risk_decision(decline=assessment.decline, verification=assessment.verification)


def _exceeds_limits(card: Card, request: AuthorizationRequest) -> bool:
    """Per-transaction, daily and monthly limits. The windows are the UTC calendar day
    and month of transaction_time; approvals count, reversed ones no longer do."""
    amount = request.amount_minor
    daily, monthly = card.limit_daily_minor, card.limit_monthly_minor
    if any(
        limit is not None and amount > limit for limit in (card.limit_per_transaction_minor, daily, monthly)
    ):
        return True
    if daily is None and monthly is None:
        return False
    at = request.transaction_time.astimezone(datetime.UTC)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    next_day = day + datetime.timedelta(days=1)
    month = day.replace(day=1)
    next_month = month + datetime.timedelta(days=calendar.monthrange(at.year, at.month)[1])
    # One query for both windows: the month holds the day.
    start, end = (month, next_month) if monthly is not None else (day, next_day)
    spent = Transaction.objects.filter(
        card=card,
        status=Transaction.Status.APPROVED,
        transaction_time__gte=start,
        transaction_time__lt=end,
    ).aggregate(
        spent_day=Sum("amount_minor", filter=Q(transaction_time__gte=day, transaction_time__lt=next_day)),
        spent_month=Sum("amount_minor"),
    )
    return (daily is not None and (spent["spent_day"] or 0) + amount > daily) or (
        monthly is not None and (spent["spent_month"] or 0) + amount > monthly
    )


def _approve(request, card, decision, checks, assessment, client) -> Transaction | None:
    """The debit, the transaction and its ledger entry (one statement on PostgreSQL), or
    None and nothing written when the balance is short. Conditional even under the row
    lock: the balance can never go below zero."""
    values = _transaction_values(request, card, decision, checks, assessment, client)
    values["id"] = uuid.uuid4()
    balance_after = card.balance_minor - request.amount_minor  # exact: the row is locked
    recorded = approval_insert(
        card_id=card.pk,
        amount_minor=request.amount_minor,
        now=timezone.now(),
        transaction=values,
        ledger={
            "card": card,
            "kind": LedgerEntry.Kind.DEBIT,
            "amount_minor": -request.amount_minor,
            "balance_after_minor": balance_after,
            "currency": card.currency,
            "reference": str(values["id"]),
        },
    )
    if recorded is not None:
        card.balance_minor = balance_after
    return recorded


def _transaction_values(request, card, decision, checks, assessment, client) -> dict:
    flagged = bool(assessment and (assessment.review or assessment.block_card))
    return {
        "card": card,
        "masked_pan": card.masked_pan if card else card_data.mask_pan(request.card_number),
        **request.facts(),
        "status": Transaction.Status.APPROVED if decision.approved else Transaction.Status.DECLINED,
        "response_code": decision.code,
        "reason": decision.reason,
        **checks,
        "risk_score": assessment.score if assessment else None,
        "risk_level": assessment.level if assessment else "",
        "risk_factors": [f.as_dict() for f in assessment.factors] if assessment else [],
        "risk_features": assessment.features if assessment else {},
        "risk_config_version": assessment.config_version if assessment else None,
        "risk_rules": assessment.rule_summary if assessment else "",
        "flagged": flagged,
        "client": client,
    }


def _log_decision(recorded: Transaction, started: float) -> None:
    """The decision's log line and its metrics (cardsystem/metrics.py), at commit."""
    elapsed = time.perf_counter() - started
    metrics.decision_recorded(status=recorded.status, response_code=recorded.response_code, seconds=elapsed)
    decisions.info(
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
            "reason": recorded.reason,
            "risk_score": recorded.risk_score,
            "risk_factors": [f["code"] for f in recorded.risk_factors],
            "flagged": recorded.flagged,
            "latency_ms": round(elapsed * 1000, 2),
        },
    )
