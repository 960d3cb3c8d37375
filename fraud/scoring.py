"""The rule set: each rule reads features and its thresholds and may add points.

Every number a rule uses comes from its Rule row (points and params), the lists of
high-risk and blocked countries and merchant categories, or FraudSettings; nothing
here is a tuning knob. Each factor carries a detail an analyst can read.
"""

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from cardsystem import money
from fraud import features
from fraud.geography import distance_km
from fraud.models import CountryRisk, FraudSettings, MerchantCategoryRisk, Rule
from transactions.models import Transaction
from transactions.signals import AuthorizationAttempt, RiskAssessment, RiskFactor

CONFIG_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class RuleConfig:
    score: int
    params: dict


@dataclass(frozen=True)
class FraudConfig:
    review_threshold: int
    decline_threshold: int
    cvv_failure_limit: int
    rules: dict[str, RuleConfig]  # enabled rules only
    countries: dict[str, str]  # country -> level
    mccs: dict[str, str]  # mcc -> level


_cached: tuple[float, FraudConfig] | None = None


def load_config() -> FraudConfig:
    """The configuration, re-read at most every few seconds per process: staff changes
    reach every app server within CONFIG_TTL_SECONDS, without a query per decision."""
    global _cached
    now = time.monotonic()
    if _cached and now - _cached[0] < CONFIG_TTL_SECONDS:
        return _cached[1]
    stored = FraudSettings.objects.first() or FraudSettings()
    config = FraudConfig(
        review_threshold=stored.review_threshold,
        decline_threshold=stored.decline_threshold,
        cvv_failure_limit=stored.cvv_failure_limit,
        rules={r.code: RuleConfig(r.score, r.params or {}) for r in Rule.objects.filter(enabled=True)},
        countries=dict(CountryRisk.objects.values_list("country", "level")),
        mccs=dict(MerchantCategoryRisk.objects.values_list("mcc", "level")),
    )
    _cached = (now, config)
    return config


def forget_config() -> None:
    """Drop this process's copy (called when staff save a change)."""
    global _cached
    _cached = None


@dataclass(frozen=True)
class Context:
    attempt: AuthorizationAttempt
    config: FraudConfig
    activity: features.CardActivity

    def amount(self, minor: int | float) -> str:
        return money.format_amount(int(minor), self.attempt.currency)

    def large_amount_minor(self) -> int:
        """The large-amount threshold in the attempt's currency (per-currency override
        or the default, both decimal strings in major units)."""
        params = self.config.rules.get("amount_large", RuleConfig(0, {})).params
        text = params.get("per_currency", {}).get(self.attempt.currency, params.get("threshold", "1000"))
        try:
            return money.to_minor(str(text), self.attempt.currency)
        except money.MoneyError:
            return money.to_minor(str(int(Decimal(str(text)))), self.attempt.currency)


RuleFunction = Callable[[Context, dict], str | None]
RULES: dict[str, RuleFunction] = {}


def rule(code: str):
    def register(function: RuleFunction) -> RuleFunction:
        RULES[code] = function
        return function

    return register


# --- The rules: each returns the factor's detail when it fires, else None ------------------


@rule("cvv_mismatch")
def _cvv_mismatch(ctx, params):
    if ctx.attempt.cvv_result == Transaction.CvvResult.MISMATCH:
        return "The CVV given does not match the card."
    return None


@rule("cvv_absent_ecommerce")
def _cvv_absent_ecommerce(ctx, params):
    if (
        ctx.attempt.cvv_result == Transaction.CvvResult.ABSENT
        and ctx.attempt.channel == Transaction.Channel.ECOMMERCE
    ):
        return "Card-not-present purchase without a CVV."
    return None


@rule("amount_large")
def _amount_large(ctx, params):
    threshold = ctx.large_amount_minor()
    if ctx.attempt.amount_minor >= threshold:
        return f"Amount {ctx.amount(ctx.attempt.amount_minor)} is at or above {ctx.amount(threshold)}."
    return None


@rule("amount_unusual")
def _amount_unusual(ctx, params):
    average = ctx.activity.average_amount_30d
    if average is None or ctx.activity.approved_count_30d < params.get("min_history", 5):
        return None
    multiple = params.get("multiple", 5)
    if ctx.attempt.amount_minor >= multiple * average:
        return (
            f"Amount is {ctx.attempt.amount_minor / average:.1f} times this card's 30-day average "
            f"of {ctx.amount(average)}."
        )
    return None


@rule("velocity_count")
def _velocity_count(ctx, params):
    a = ctx.activity
    for count, limit, window in (
        (a.count_1m, params.get("per_minute", 3), "minute"),
        (a.count_1h, params.get("per_hour", 10), "hour"),
        (a.count_24h, params.get("per_day", 30), "24 hours"),
    ):
        if count + 1 > limit:
            return f"{count + 1} transactions on this card in the last {window} (more than {limit})."
    return None


@rule("velocity_amount")
def _velocity_amount(ctx, params):
    large = ctx.large_amount_minor()
    a, amount = ctx.activity, ctx.attempt.amount_minor
    for spent, multiple, window in (
        (a.approved_amount_1h, params.get("hour_multiple", 2), "hour"),
        (a.approved_amount_24h, params.get("day_multiple", 5), "24 hours"),
    ):
        limit = multiple * large
        if spent + amount > limit:
            return f"{ctx.amount(spent + amount)} spent in the last {window}, above {ctx.amount(limit)}."
    return None


@rule("large_amount_velocity")
def _large_amount_velocity(ctx, params):
    large = ctx.large_amount_minor()
    per_hour = params.get("per_hour", 3)
    if (
        ctx.attempt.amount_minor >= params.get("amount_fraction", 0.5) * large
        and ctx.activity.count_1h + 1 >= per_hour
    ):
        return f"Large amount during a burst: {ctx.activity.count_1h + 1} transactions in the last hour."
    return None


@rule("cardholder_age")
def _cardholder_age(ctx, params):
    holder = ctx.attempt.card.cardholder
    if (
        holder is None
        or ctx.attempt.amount_minor < params.get("amount_fraction", 0.5) * ctx.large_amount_minor()
    ):
        return None
    age = holder.age_on(ctx.attempt.transaction_time.date())
    if age < params.get("young_below", 21):
        return f"Cardholder aged {age} spending {ctx.amount(ctx.attempt.amount_minor)}."
    if age >= params.get("old_from", 75):
        return f"Cardholder aged {age} spending {ctx.amount(ctx.attempt.amount_minor)}."
    return None


@rule("foreign_country")
def _foreign_country(ctx, params):
    holder = ctx.attempt.card.cardholder
    if holder is not None and ctx.attempt.merchant_country != holder.country.code:
        return f"Merchant in {ctx.attempt.merchant_country}, cardholder lives in {holder.country.code}."
    return None


@rule("high_risk_country")
def _high_risk_country(ctx, params):
    if ctx.config.countries.get(ctx.attempt.merchant_country) == CountryRisk.Level.HIGH_RISK:
        return f"Merchant country {ctx.attempt.merchant_country} is on the high-risk list."
    return None


@rule("impossible_travel")
def _impossible_travel(ctx, params):
    a = ctx.activity
    if not a.previous_time or not a.previous_country or a.previous_country == ctx.attempt.merchant_country:
        return None
    distance = distance_km(a.previous_country, ctx.attempt.merchant_country)
    if distance is None or distance < params.get("min_distance_km", 500):
        return None
    hours = max((ctx.attempt.transaction_time - a.previous_time) / datetime.timedelta(hours=1), 1 / 60)
    speed = distance / hours
    if speed > params.get("max_speed_kmh", 900):
        return (
            f"{a.previous_country} to {ctx.attempt.merchant_country} ({distance:,.0f} km) in "
            f"{hours:.1f} h would need {speed:,.0f} km/h."
        )
    return None


@rule("high_risk_mcc")
def _high_risk_mcc(ctx, params):
    if ctx.config.mccs.get(ctx.attempt.mcc) == MerchantCategoryRisk.Level.HIGH_RISK:
        return f"Merchant category {ctx.attempt.mcc} is on the high-risk list."
    return None


@rule("reported_merchant")
def _reported_merchant(ctx, params):
    window = datetime.timedelta(days=params.get("window_days", 90))
    cards = features.merchant_fraud_cards(ctx.attempt.merchant_id, ctx.attempt.transaction_time, window)
    if cards >= params.get("min_cards", 2):
        merchant = ctx.attempt.merchant_id
        return f"{cards} cards had confirmed fraud at merchant {merchant} in the last {window.days} days."
    return None


# --- The assessment ------------------------------------------------------------------------------


def assess(attempt: AuthorizationAttempt, config: FraudConfig | None = None) -> RiskAssessment:
    config = config or load_config()
    ctx = Context(
        attempt=attempt,
        config=config,
        activity=features.card_activity(attempt.card, attempt.transaction_time),
    )
    factors = []
    for code, rule_config in config.rules.items():
        function = RULES.get(code)
        detail = function(ctx, rule_config.params) if function else None
        if detail:
            factors.append(RiskFactor(code=code, score=rule_config.score, detail=detail))
    factors.sort(key=lambda f: -f.score)
    score = min(100, sum(f.score for f in factors))

    restriction = None
    if config.countries.get(attempt.merchant_country) == CountryRisk.Level.BLOCKED:
        restriction = f"Merchant country {attempt.merchant_country} is blocked."
        factors.insert(0, RiskFactor("blocked_country", 0, restriction))
    elif config.mccs.get(attempt.mcc) == MerchantCategoryRisk.Level.BLOCKED:
        restriction = f"Merchant category {attempt.mcc} is blocked."
        factors.insert(0, RiskFactor("blocked_mcc", 0, restriction))

    block_card = None
    if attempt.cvv_result == Transaction.CvvResult.MISMATCH and attempt.card.status == "active":
        limit = config.cvv_failure_limit
        streak = features.cvv_mismatches_in_a_row(attempt.card, attempt.transaction_time, limit) + 1
        if streak >= limit:
            block_card = f"{streak} wrong CVVs in a row."
            factors.insert(0, RiskFactor("cvv_failures_in_a_row", 0, f"{block_card} The card is blocked."))

    return RiskAssessment(
        score=score,
        level="high"
        if score >= config.decline_threshold
        else "medium"
        if score >= config.review_threshold
        else "low",
        factors=factors,
        decline=score >= config.decline_threshold,
        review=score >= config.review_threshold,
        restriction=restriction,
        block_card=block_card,
        features=_features_for_analysts(ctx),
    )


def _features_for_analysts(ctx: Context) -> dict:
    a = ctx.activity
    return {
        "count_1m": a.count_1m,
        "count_1h": a.count_1h,
        "count_24h": a.count_24h,
        "approved_amount_1h_minor": a.approved_amount_1h,
        "approved_amount_24h_minor": a.approved_amount_24h,
        "approved_count_30d": a.approved_count_30d,
        "average_amount_30d_minor": round(a.average_amount_30d) if a.average_amount_30d is not None else None,
        "previous_country": a.previous_country,
    }
