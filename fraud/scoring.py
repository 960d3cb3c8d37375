"""A live decision's risk: the attempt's features read point in time (fraud/features.py),
the rules' own inputs beside them, the model's factor, and the rules (fraud/rules.py),
all under the configuration a decision is scored under (the live version's,
fraud/configuration.py). Everything the rules read is stored with the decision, so a
backtest (fraud/backtest.py) decides again by the same function from the stored values.
"""

import dataclasses
import logging

from fraud import card_testing, features, inference, rules
from fraud.configuration import (
    FraudConfig,
    cached_versions,
    forget_live,
    live_config,
    reported_merchant_window,
)
from fraud.feature_reads import FeatureReads
from fraud.models import CountryRisk, MerchantCategoryRisk
from fraud.rules import RULES, Context  # noqa: F401 (the rules' names, as scoring always gave them)
from transactions.signals import AuthorizationAttempt, RiskAssessment, RiskFactor

logger = logging.getLogger(__name__)

CONFIG_TTL_SECONDS = 5.0
MODEL_ERROR = "model_error"  # the factor of a model that could not run (counted in /metrics)


def load_config() -> FraudConfig:
    """The live version's configuration (fraud/configuration.py), which version is live
    looked up at most every CONFIG_TTL_SECONDS per process: one query per TTL, none per
    decision. A promotion forgets this process's copy at once (fraud/versions.py); other
    processes score with the promoted version within CONFIG_TTL_SECONDS."""
    return live_config(ttl_seconds=CONFIG_TTL_SECONDS)


def live_changed(reads: FeatureReads) -> bool:
    """Whether the versions live and in shadow, as the decision's first statement read
    them, differ from those this process decides by: another process promoted or shadowed
    a version within the last CONFIG_TTL_SECONDS."""
    return reads.versions is not None and reads.versions != cached_versions(ttl_seconds=CONFIG_TTL_SECONDS)


def forget_config() -> None:
    """Drop this process's copy, so that the next decision reads which version is live."""
    forget_live()


def rule_inputs(
    attempt: AuthorizationAttempt,
    activity: features.CardHistory,
    cross: features.CrossCardActivity,
    config: FraudConfig,
    reads: FeatureReads,
) -> dict:
    """What the rules read beyond the model's features (catalogue.RULE_INPUTS), exact:
    minor units and counts, not the features' rounded dollars and shares. Stored with
    the decision beside the features, so a backtest reads what the rules read."""
    holder = attempt.card.cardholder
    streak = expiries = None
    if rules.card_check_failed(attempt):  # the one read only a failed check needs
        streak, expiries = reads.card_check_failures_in_a_row(config.cvv_failure_limit)
    previous = activity.previous_present_time
    return {
        "card_count_1m": activity.count_1m,
        "card_approved_count_30d": activity.approved_count_30d,
        "card_approved_minor_30d": activity.approved_amount_30d,
        "card_approved_minor_1h": activity.approved_amount_1h,
        "card_approved_minor_24h": activity.approved_amount_24h,
        "previous_present_time": previous.isoformat() if previous else None,
        "previous_present_country": activity.previous_present_country,
        "merchant_recent_count": cross.merchant_recent_count,
        "merchant_recent_fraud": cross.merchant_recent_fraud,
        "home_country": holder.country.code if holder else None,
        "card_check_streak": streak,
        "card_check_streak_expiries": expiries,
        "card_verified_cvm_1h": activity.verified_cvm_1h,
        "card_unverified_present_mccs_1h": activity.unverified_present_mccs_1h,
    }


def config_features(config: FraudConfig, facts) -> dict:
    """The features that depend on the configuration rather than on history: a
    backtest under another version reads them afresh."""
    return {
        "high_risk_country": config.countries.get(facts.merchant_country) == CountryRisk.Level.HIGH_RISK,
        "high_risk_mcc": config.mccs.get(facts.mcc) == MerchantCategoryRisk.Level.HIGH_RISK,
    }


def assess(
    attempt: AuthorizationAttempt, config: FraudConfig | None = None, reads: FeatureReads | None = None
) -> RiskAssessment:
    """Score an attempt: read its features point in time, then decide by the rules
    (fraud/rules.py `evaluate`, the pure function a backtest calls too) and the model.

    Under the live version by default; under any other with `config`
    (fraud.configuration.version_config). The assessment names the version. `reads`,
    shared with another assessment of the same attempt (the shadow's, fraud/shadow.py),
    runs each feature statement once for both."""
    config = config or load_config()
    reads = reads or FeatureReads(attempt)
    windows = card_testing.windows(config)
    activity, cross = reads.card_and_cross_card(reported_merchant_window(config), windows)
    if activity.failures_at_merchant > 0:  # the card failed a check here: the merchant's longer window too
        cross = reads.cross_card_activity(reported_merchant_window(config), windows, tested_here=True)
    values = features.behaviour(attempt, activity, cross, **config_features(config, attempt))
    values.update(rule_inputs(attempt, activity, cross, config, reads))
    verdict = rules.evaluate(rules.Facts.of(attempt), values, config, _model_factor(config, values))
    # The verdict's every field is the assessment's field of the same name.
    decided = {field.name: getattr(verdict, field.name) for field in dataclasses.fields(verdict)}
    return RiskAssessment(**decided, features=values, config_version=config.version)


def _model_factor(config: FraudConfig, values: dict) -> RiskFactor | None:
    """The configuration's model's opinion as a factor (fraud/inference.py): its
    probability times the `model` rule's points (the model's weight). Its points add to
    the rules' (each scaled by the rule's `rule_weight`).

    No model in the configuration, or the rule switched off: rules alone, at full points. A model that
    cannot be read or run never stops a decision: it is logged, shown as a 0-point
    factor, and the rules decide alone."""
    rule_config = config.rules.get("model")
    if not rule_config or not rule_config.enabled:
        return None
    try:
        return inference.model_factor(model=config.model, features=values, weight=rule_config.score)
    except Exception:
        logger.exception("the fraud model failed; deciding by the rules alone")
        return RiskFactor(MODEL_ERROR, 0, "The fraud model could not run; the rules alone decided.")
