"""Shadow mode: a draft version scored on live traffic beside the live one, deciding
nothing.

At most one version is in shadow (state `shadow`, fraud_config_one_shadow). For each
decision on a known card, `score_beside` scores the same attempt under it, reusing the
live assessment's feature statements where the windows are the same
(fraud/feature_reads.py); `record` stores what it would have decided with the recorded
transaction (ShadowDecision). A shadow never opens an alert, blocks a card or moves a
balance, and its failure is logged and stores nothing: the live answer never depends on
it. `comparison` sets the shadow's decisions of a period beside the live ones.
"""

import datetime
import logging
from contextvars import ContextVar
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count

from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.exceptions import ConflictError
from fraud import scoring
from fraud.configuration import forget_live, shadow_config
from fraud.feature_reads import FeatureReads
from fraud.models import FraudConfigVersion, ShadowDecision
from fraud.versions import _reason
from transactions.codes import Decision, risk_decision
from transactions.models import Transaction
from transactions.signals import AuthorizationAttempt, RiskAssessment

logger = logging.getLogger(__name__)
State = FraudConfigVersion.State
Outcome = ShadowDecision.Outcome

# The checks the contract makes before risk counts: the shadow answers as the live did.
BEFORE_RISK = {
    d.code
    for d in (
        Decision.INVALID_CARD,
        Decision.RESTRICTED_CARD,
        Decision.LOST_CARD,
        Decision.STOLEN_CARD,
        Decision.EXPIRED_CARD,
        Decision.CVV_MISMATCH,
        Decision.INCORRECT_PIN,
    )
}


# --- Putting a version in shadow and taking it out ------------------------------------------


def shadow_start(*, version: FraudConfigVersion, actor: Actor, reason: str) -> FraudConfigVersion:
    """Score this draft beside the live version on every decision from now on (other
    processes within fraud.scoring.CONFIG_TTL_SECONDS). ValidationError without a reason;
    ConflictError (nothing written) for a version that is not a draft or while another
    version is in shadow: take that one out first."""
    reason = _reason(reason)
    try:
        with transaction.atomic():
            version = FraudConfigVersion.objects.select_for_update().get(pk=version.pk)
            if version.state != State.DRAFT:
                raise ConflictError(
                    f"Only a draft can be put in shadow; version {version.number} is {version.state}.",
                    field="version",
                )
            other = FraudConfigVersion.objects.filter(state=State.SHADOW).first()
            if other is not None:
                raise ConflictError(
                    f"Version {other.number} is in shadow: take it out first.", field="version"
                )
            version.state = State.SHADOW
            version.save(update_fields=["state"])
            audit_record(
                actor=actor,
                action=AuditAction.CONFIG_SHADOW_STARTED,
                target=version,
                details={"number": version.number, "reason": reason},
            )
            transaction.on_commit(forget_live)
    except IntegrityError:  # fraud_config_one_shadow: another start committed first
        raise ConflictError(
            "Another version was put in shadow at the same moment.", field="version"
        ) from None
    forget_live()
    return version


def shadow_end(*, version: FraudConfigVersion, actor: Actor, reason: str) -> FraudConfigVersion:
    """Stop scoring this version beside the live one: it is a draft again, its shadow
    decisions kept. ConflictError for a version not in shadow."""
    reason = _reason(reason)
    with transaction.atomic():
        version = FraudConfigVersion.objects.select_for_update().get(pk=version.pk)
        if version.state != State.SHADOW:
            raise ConflictError(f"Version {version.number} is not in shadow.", field="version")
        version.state = State.DRAFT
        version.save(update_fields=["state"])
        audit_record(
            actor=actor,
            action=AuditAction.CONFIG_SHADOW_ENDED,
            target=version,
            details={"number": version.number, "reason": reason},
        )
        transaction.on_commit(forget_live)
    forget_live()
    return version


# --- Scoring beside the live version ---------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    attempt: AuthorizationAttempt
    version: int
    assessment: RiskAssessment


# The shadow's assessment, from the attempt's scoring to the recorded transaction (the two
# signals of one authorization, in one thread).
_pending: ContextVar[_Pending | None] = ContextVar("shadow_pending", default=None)


def score_beside(attempt: AuthorizationAttempt, reads: FeatureReads) -> None:
    """Score the attempt under the version in shadow, if any (no query when none). Never
    raises: a failure is logged and nothing is kept."""
    _pending.set(None)
    try:
        config = shadow_config(ttl_seconds=scoring.CONFIG_TTL_SECONDS)
        if config is None:
            return
        # A savepoint of its own: on PostgreSQL a failed query would otherwise abort the
        # live decision's transaction.
        with transaction.atomic():
            assessment = scoring.assess(attempt, config, reads)
        _pending.set(_Pending(attempt, config.version, assessment))
    except Exception:
        logger.exception("shadow scoring failed; the live decision stands alone")


def record(txn: Transaction) -> ShadowDecision | None:
    """Store the pending shadow assessment with its recorded transaction. Never raises."""
    pending = _pending.get()
    _pending.set(None)
    if pending is None or (pending.attempt.card.pk, pending.attempt.transaction_time) != (
        txn.card_id,
        txn.transaction_time,
    ):
        return None
    try:
        with transaction.atomic():
            return _store(txn, pending)
    except Exception:
        logger.exception("storing the shadow decision failed; the live decision stands alone")
        return None


def _outcome(code: str, review: bool) -> str:
    if code != Decision.APPROVED.code:
        return Outcome.DECLINE
    return Outcome.REVIEW if review else Outcome.APPROVE


def shadow_response_code(txn: Transaction, shadow: RiskAssessment) -> str:
    """The code the shadow would have answered: the live one where a check before risk
    decided, the contract's order otherwise. (A live restriction the shadow lifts is
    judged by the balance and the shadow's score; the limits are not read again.)"""
    live = txn.response_code
    if live in BEFORE_RISK:
        return live
    if shadow.restriction or txn.currency != txn.card.currency:
        return Decision.NOT_PERMITTED.code
    if live in (Decision.EXCEEDS_LIMIT.code, Decision.INSUFFICIENT_FUNDS.code):
        return live
    if live == Decision.NOT_PERMITTED.code and txn.amount_minor > txn.card.balance_minor:
        return Decision.INSUFFICIENT_FUNDS.code
    return risk_decision(decline=shadow.decline, verification=shadow.verification).code


def _store(txn: Transaction, pending: _Pending) -> ShadowDecision:
    shadow = pending.assessment
    code = shadow_response_code(txn, shadow)
    decision = _outcome(code, shadow.review or bool(shadow.block_card))
    live_decision = _outcome(txn.response_code, txn.flagged)
    return ShadowDecision.objects.create(
        transaction=txn,
        version_id=pending.version,  # by number: no query
        transaction_time=txn.transaction_time,
        score=shadow.score,
        level=shadow.level,
        decision=decision,
        response_code=code,
        factors=[f.as_dict() for f in shadow.factors],
        live_score=txn.risk_score or 0,
        live_decision=live_decision,
        live_response_code=txn.response_code,
        changed=(decision, code) != (live_decision, txn.response_code),
    )


# --- The comparison ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    decisions: int
    changed: int
    matrix: dict[tuple[str, str], int]  # (live, shadow) -> how many
    examples: list[ShadowDecision]  # the latest changed ones, at most `limit`


def comparison(
    *, version: FraudConfigVersion, since: datetime.datetime, until: datetime.datetime, limit: int = 100
) -> Comparison:
    """The shadow's decisions of `since` <= transaction_time < `until` beside the live
    ones: two grouped reads and one page, each by the (version, [changed,] time) index."""
    if since >= until:
        raise ValidationError({"until": "Must be after since."})
    rows = ShadowDecision.objects.filter(
        version=version, transaction_time__gte=since, transaction_time__lt=until
    )
    matrix = {
        (row["live_decision"], row["decision"]): row["n"]
        for row in rows.order_by().values("live_decision", "decision").annotate(n=Count("pk"))
    }
    changed = rows.filter(changed=True)
    return Comparison(
        decisions=sum(matrix.values()),
        changed=changed.count(),
        matrix=matrix,
        examples=list(changed.select_related("transaction").order_by("-transaction_time")[:limit]),
    )


def factor_differences(shadow: ShadowDecision) -> list[tuple[str, int | None, int | None]]:
    """Why they differ: each factor whose points differ, (code, live points, shadow
    points), None where one side lacks it."""
    live = {f["code"]: f["score"] for f in shadow.transaction.risk_factors}
    theirs = {f["code"]: f["score"] for f in shadow.factors}
    return [
        (code, live.get(code), theirs.get(code))
        for code in sorted(live.keys() | theirs.keys())
        if live.get(code) != theirs.get(code)
    ]
