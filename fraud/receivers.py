"""The fraud app's side of the authorization signals (see transactions/signals.py), and
the receiver that makes this process forget its parsed models when a model row changes.

The working copy's rows (settings, rules, risk lists) need none: they decide nothing
until a version made of them is promoted, and promotion forgets the live configuration
itself (fraud/versions.py)."""

from collections.abc import Callable
from dataclasses import replace

from django.db import transaction as db
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from cardsystem import metrics
from fraud import cases, inference, performance, performance_counts, scoring, shadow
from fraud.feature_reads import FeatureReads
from fraud.models import FraudModel
from fraud.services import alert_open, card_block_for_fraud
from transactions.signals import authorization_attempted, authorization_recorded, fraud_reported


@receiver(authorization_attempted)
def assess_risk(sender, attempt, **kwargs):
    # The configuration read once: the rule summary's thresholds are those that decided.
    config = scoring.load_config()
    reads = FeatureReads(attempt)
    assessment = scoring.assess(attempt, config, reads)
    if scoring.live_changed(reads):
        # Promoted (or put in shadow) by another process since this one last looked: the
        # decision's own statement said so at no extra round trip. Scored again under the
        # version live now, features and all (its windows may differ): once per promotion.
        scoring.forget_config()
        config = scoring.load_config()
        reads = FeatureReads(attempt)
        assessment = scoring.assess(attempt, config, reads)
    if any(factor.code == scoring.MODEL_ERROR for factor in assessment.factors):
        metrics.scorer_error(scoring.MODEL_ERROR)
    # After the live one, sharing its feature statements; it never changes the answer.
    shadow.score_beside(attempt, reads)
    return replace(assessment, rule_summary=performance.rule_summary(assessment.factors, config))


@receiver(authorization_recorded)
def react_to_outcome(sender, transaction, assessment, **kwargs):
    shadow.record(transaction)  # stored only: no alert, no block, no balance
    if assessment.block_card and transaction.card is not None:
        card_block_for_fraud(card=transaction.card, reason=assessment.block_card)
    if transaction.flagged:
        top = ", ".join(f.code for f in assessment.factors[:3]) or "risk score"
        alert = alert_open(
            transaction=transaction, reason=assessment.block_card or f"Score {transaction.risk_score}: {top}"
        )
        declined = transaction.status == transaction.Status.DECLINED
        cases.case_for_alert(
            alert=alert,
            priority=cases.priority_for(declined=declined, card_blocked=bool(assessment.block_card)),
        )


@receiver(fraud_reported)
def mark_performance_day(sender, report, **kwargs):
    """A new label changes its day's performance figures: counted again (fraud/performance_counts.py)."""
    performance_counts.day_marked(report.transaction)


def _forget_now_and_at_commit(forget: Callable[[], None]) -> None:
    forget()
    # Once more at commit: a decision in this process between the save and its commit
    # reads the old rows and would keep them for the cache's whole time to live.
    db.on_commit(forget)


@receiver([post_save, post_delete], sender=FraudModel)
def forget_model(sender, **kwargs):
    """A saved or deleted model row: this process parses its models again."""
    _forget_now_and_at_commit(inference.forget_model)
