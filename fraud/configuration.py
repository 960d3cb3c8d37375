"""The fraud engine's configuration as one decision reads it: the settings, every rule's
switch, points and thresholds, and the country and merchant category lists, in one
immutable snapshot.

Apart from the rules (fraud/scoring.py, which keeps the snapshot per process) because it
is what staff edit (fraud/admin/configuration.py) rather than how a decision is made.
"""

import datetime
from dataclasses import dataclass

from fraud.models import CountryRisk, FraudSettings, MerchantCategoryRisk, Rule


@dataclass(frozen=True)
class RuleConfig:
    score: int
    params: dict
    enabled: bool = True


@dataclass(frozen=True)
class FraudConfig:
    review_threshold: int
    decline_threshold: int
    cvv_failure_limit: int
    # Every rule, disabled ones too: amount_large's threshold is the yardstick of other
    # rules (velocity_amount, large_amount_velocity, cardholder_age) even when it adds no
    # points itself.
    rules: dict[str, RuleConfig]
    countries: dict[str, str]  # country -> level
    mccs: dict[str, str]  # mcc -> level


def read_config() -> FraudConfig:
    """The configuration as stored now (four queries); the defaults when no settings row exists."""
    stored = FraudSettings.objects.first() or FraudSettings()
    return FraudConfig(
        review_threshold=stored.review_threshold,
        decline_threshold=stored.decline_threshold,
        cvv_failure_limit=stored.cvv_failure_limit,
        rules={r.code: RuleConfig(r.score, r.params or {}, r.enabled) for r in Rule.objects.all()},
        countries=dict(CountryRisk.objects.values_list("country", "level")),
        mccs=dict(MerchantCategoryRisk.objects.values_list("mcc", "level")),
    )


def reported_merchant_window(config: FraudConfig) -> datetime.timedelta:
    """How far back fraud at a merchant counts: the reported_merchant rule's window, also
    the window of the stored merchant features."""
    rule_config = config.rules.get("reported_merchant")
    return datetime.timedelta(days=int((rule_config.params if rule_config else {}).get("window_days", 90)))
