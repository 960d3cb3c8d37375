"""Fraud alerts: opened by the engine, decided by analysts."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cards.models import Card
from cards.services import card_change_status
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.exceptions import ConflictError
from fraud import performance_counts, versions
from fraud.configuration import ModelChoice
from fraud.models import (
    CountryRisk,
    FraudAlert,
    FraudModel,
    FraudSettings,
    MerchantCategoryRisk,
    Rule,
)
from fraud.params import param_messages, validate_rule_params, validate_thresholds
from transactions.models import Transaction
from transactions.services import fraud_report_create

ENGINE = Actor.system("fraud engine")
DECISIONS = (
    FraudAlert.Status.INVESTIGATING,
    FraudAlert.Status.CONFIRMED_FRAUD,
    FraudAlert.Status.FALSE_POSITIVE,
)


def alert_open(*, transaction: Transaction, reason: str) -> FraudAlert:
    """Open an alert for a transaction (once: a second call returns the first alert)."""
    alert, _ = FraudAlert.objects.get_or_create(
        transaction=transaction,
        defaults={
            "card_id": transaction.card_id,
            "risk_score": transaction.risk_score or 0,
            "reason": reason[:200],
        },
    )
    return alert


def card_block_for_fraud(*, card: Card, reason: str, actor: Actor = ENGINE) -> None:
    """Block an active card for fraud: the engine's, or an analyst's (`actor`) decision."""
    if card.status == Card.Status.ACTIVE:
        card_change_status(
            card=card, status=Card.Status.BLOCKED, reason=reason[:200], actor=actor, for_fraud=True
        )


def alert_decide(
    *, alert: FraudAlert, status: str, actor: Actor, notes: str = "", block_card: bool = False
) -> FraudAlert:
    """Move an alert along open -> investigating -> confirmed fraud / false positive.
    Confirming fraud labels the transaction: a fraud report at the decision's time (an
    approval only: a decline or a reversal took no money), which merchant risk and
    training read like a cardholder's dispute. It can block the card too, all in the
    same database transaction.

    ValidationError (nothing written) for a status that is not a decision or block_card
    without confirmed fraud; ConflictError for an alert already decided."""
    if status not in DECISIONS:
        if status == FraudAlert.Status.OPEN:
            raise ValidationError({"status": "An alert cannot be reopened."})
        raise ValidationError({"status": f"Unknown alert status: use {', '.join(DECISIONS)}."})
    if block_card and status != FraudAlert.Status.CONFIRMED_FRAUD:
        raise ValidationError({"block_card": "Only confirmed fraud blocks the card."})
    with transaction.atomic():
        alert = FraudAlert.objects.select_for_update().get(pk=alert.pk)
        if alert.is_resolved:
            raise ConflictError("This alert is already decided.", field="status")
        before = alert.status
        alert.status = status
        if notes:
            alert.notes = f"{alert.notes}\n{notes}".strip()
        user = actor.user if actor.user is not None and actor.user.pk else None
        if status == FraudAlert.Status.INVESTIGATING and user and alert.assignee_id is None:
            alert.assignee = user
        if alert.is_resolved:
            alert.resolved_at = timezone.now()
            alert.resolved_by = user
        alert.save()
        audit_record(
            actor=actor,
            action=AuditAction.ALERT_DECIDED,
            target=alert,
            details={
                "from": before,
                "to": status,
                "transaction": str(alert.transaction_id),
                "block_card": block_card,
            },
        )
        if status == FraudAlert.Status.CONFIRMED_FRAUD:
            _report_confirmed_fraud(alert, actor)
        if block_card:
            card = Card.objects.get(pk=alert.card_id)
            card_block_for_fraud(card=card, reason=f"Fraud confirmed on alert {alert.pk}.", actor=actor)
    return alert


def _report_confirmed_fraud(alert: FraudAlert, actor: Actor) -> None:
    txn = Transaction.objects.get(pk=alert.transaction_id)
    if txn.status == Transaction.Status.APPROVED and not hasattr(txn, "fraud_report"):
        # At the decision's time (or the transaction's own, if an acquirer's clock ran ahead).
        reported_at = max(timezone.now(), txn.transaction_time)
        reason = f"Fraud confirmed by an analyst on alert {alert.pk}."
        fraud_report_create(transaction=txn, reason=reason, actor=actor, reported_at=reported_at)
    elif not hasattr(txn, "fraud_report"):
        # No report for a decline (no money was taken), but the verdict is its label: the
        # performance figures of its day change (fraud/performance_counts.py).
        performance_counts.day_marked(txn)


# --- Configuration: thresholds, rules and risk lists, as staff edit them in the admin --------------


def _config_snapshot(obj) -> dict:
    """The editable values of a configuration row, JSON-ready (countries as codes)."""
    values = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or field.name == "updated_at":
            continue
        value = field.value_from_object(obj)
        values[field.name] = getattr(value, "code", value)
    return values


def _config_check(obj) -> None:

    if isinstance(obj, FraudSettings):
        errors = validate_thresholds(review=obj.review_threshold, decline=obj.decline_threshold)
        if errors:
            raise ValidationError(errors)
    if isinstance(obj, Rule):
        errors = validate_rule_params(obj.code, obj.params)
        if errors:
            raise ValidationError({"params": param_messages(errors)})
    obj.full_clean()


def fraud_config_save(*, obj, actor: Actor):
    """Save fraud settings, a rule or a risk-list entry of the working copy with its audit
    row (before and after). Raises ValidationError (nothing written) for values the engine
    cannot use. Decides nothing: the working copy goes live only as a version, saved
    (fraud.versions.config_version_create) and promoted."""
    _config_check(obj)
    model = type(obj)
    with transaction.atomic():
        stored = model.objects.select_for_update().filter(pk=obj.pk).first() if obj.pk else None
        before = _config_snapshot(stored) if stored is not None else None
        obj.save()
        audit_record(
            actor=actor,
            action=AuditAction.FRAUD_CONFIG_CHANGED,
            target=obj,
            details={"model": model._meta.label_lower, "before": before, "after": _config_snapshot(obj)},
        )
    return obj


def fraud_config_delete(*, obj, actor: Actor) -> None:
    """Delete a risk-list entry of the working copy with its audit row. Settings and rules
    are never deleted."""
    if not isinstance(obj, CountryRisk | MerchantCategoryRisk):
        raise ValidationError("Only risk-list entries can be deleted; switch a rule off instead.")
    model = type(obj)
    with transaction.atomic():
        stored = model.objects.select_for_update().filter(pk=obj.pk).first()
        if stored is None:
            return
        audit_record(
            actor=actor,
            action=AuditAction.FRAUD_CONFIG_CHANGED,
            target=stored,
            details={"model": model._meta.label_lower, "before": _config_snapshot(stored), "after": None},
        )
        stored.delete()


# --- The fraud model: staff choose which one scores (fraud/inference.py) --------------------------


def model_activate(*, model, actor: Actor, reason: str = ""):
    """Make this model the one that scores: an operator's explicit act, so it goes live
    at once, yet through versioning: a new version (the live one with this model) is
    saved and promoted, and the working copy takes the model too. Activating the live
    version's model changes nothing. ConflictError when another promotion commits at the
    same moment (nothing written; try again)."""
    live = versions.live_version()
    if live is not None and live.model_id == model.pk:
        return FraudModel.objects.get(pk=model.pk)
    with transaction.atomic():
        version = versions.config_version_create_and_promote(
            actor=actor,
            reason=reason or f"Fraud model v{model.version} activated.",
            config=versions.live_config_with(model=ModelChoice(model.pk, model.version)),
        )
        FraudSettings.objects.update(model=model)
        audit_record(
            actor=actor,
            action=AuditAction.MODEL_ACTIVATED,
            target=model,
            details={
                "version": model.version,
                "replaces": [live.model.version] if live is not None and live.model else [],
                "config_version": version.number,
            },
        )
    return FraudModel.objects.get(pk=model.pk)


def model_deactivate(*, model, actor: Actor, reason: str = ""):
    """Stop scoring with this model (the rules alone decide): a new version without a
    model, promoted at once, with the working copy's model cleared too. A model the live
    version does not use changes nothing."""
    live = versions.live_version()
    if live is None or live.model_id != model.pk:
        return FraudModel.objects.get(pk=model.pk)
    with transaction.atomic():
        version = versions.config_version_create_and_promote(
            actor=actor,
            reason=reason or f"Fraud model v{model.version} deactivated: the rules alone decide.",
            config=versions.live_config_with(model=None),
        )
        FraudSettings.objects.filter(model=model).update(model=None)
        audit_record(
            actor=actor,
            action=AuditAction.MODEL_DEACTIVATED,
            target=model,
            details={"version": model.version, "config_version": version.number},
        )
    return FraudModel.objects.get(pk=model.pk)
