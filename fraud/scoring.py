"""The rule set: each rule reads features and its thresholds and may add points.

Every number a rule uses comes from the configuration a decision is scored under (the
live version's, fraud/configuration.py): each rule's points and params, the lists of
high-risk and blocked countries and merchant categories, the thresholds; nothing here is
a tuning knob. Each factor carries a detail an analyst can read, naming the
numbers that made the rule fire (never card data).
"""

import datetime
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from cardsystem import money
from fraud import card_testing, features, inference
from fraud.configuration import FraudConfig, forget_live, live_config, reported_merchant_window
from fraud.feature_reads import FeatureReads
from fraud.geography import distance_km, neighbours
from fraud.models import CountryRisk, MerchantCategoryRisk
from transactions.models import Transaction
from transactions.signals import AuthorizationAttempt, RiskAssessment, RiskFactor

logger = logging.getLogger(__name__)

CONFIG_TTL_SECONDS = 5.0
DEFAULT_LARGE_AMOUNT = "1000"
DEFAULT_RULE_WEIGHT = "0.3"


def load_config() -> FraudConfig:
    """The live version's configuration (fraud/configuration.py), which version is live
    looked up at most every CONFIG_TTL_SECONDS per process: one query per TTL, none per
    decision. A promotion forgets this process's copy at once (fraud/versions.py); other
    processes score with the promoted version within CONFIG_TTL_SECONDS."""
    return live_config(ttl_seconds=CONFIG_TTL_SECONDS)


def forget_config() -> None:
    """Drop this process's copy, so that the next decision reads which version is live."""
    forget_live()


def _number(params: dict, key: str, default) -> Decimal:
    """A numeric param, exact (0.5 stays one half, not a binary float)."""
    return Decimal(str(params.get(key, default)))


@dataclass(frozen=True)
class Context:
    attempt: AuthorizationAttempt
    config: FraudConfig
    activity: features.CardHistory
    cross: features.CrossCardActivity

    def amount(self, minor: int | float | Decimal) -> str:
        return money.format_amount(round(minor), self.attempt.currency)

    def large_amount_minor(self) -> int:
        """The large-amount threshold in the attempt's currency (per-currency override
        or the default, both decimal strings in major units), read whether or not the
        amount_large rule is enabled."""
        rule_config = self.config.rules.get("amount_large")
        params = rule_config.params if rule_config else {}
        per_currency = params.get("per_currency") or {}
        text = str(per_currency.get(self.attempt.currency, params.get("threshold", DEFAULT_LARGE_AMOUNT)))
        try:
            return money.to_minor(text, self.attempt.currency)
        except money.MoneyError:  # more decimals than the currency has: whole units
            return money.to_minor(str(int(Decimal(text))), self.attempt.currency)

    def fraction_of_large(self, fraction: Decimal) -> int:
        """The smallest amount (minor units) at or above `fraction` of the large amount."""
        return math.ceil(fraction * self.large_amount_minor())


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
    a, amount = ctx.activity, ctx.attempt.amount_minor
    history = int(params.get("min_history", 5))
    # Amounts are positive, so with at least one approval the average is too.
    if a.approved_count_30d < max(history, 1):
        return None
    multiple = _number(params, "multiple", 5)
    # amount >= multiple * (total / count), in integers and decimals: exact at the edge.
    if amount * a.approved_count_30d >= multiple * a.approved_amount_30d:
        ratio = Decimal(amount * a.approved_count_30d) / a.approved_amount_30d
        return (
            f"Amount {ctx.amount(amount)} is {ratio:.2f} times this card's 30-day average of "
            f"{ctx.amount(a.average_amount_30d)} over {a.approved_count_30d} approvals "
            f"(fires from {multiple} times)."
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
        # The history does not hold the attempt itself: + 1 counts it, once.
        if count + 1 > int(limit):
            return f"{count + 1} transactions on this card in the last {window}, more than {limit}."
    return None


@rule("velocity_amount")
def _velocity_amount(ctx, params):
    large = ctx.large_amount_minor()
    a, amount = ctx.activity, ctx.attempt.amount_minor
    for spent, key, default, window in (
        (a.approved_amount_1h, "hour_multiple", 2, "hour"),
        (a.approved_amount_24h, "day_multiple", 5, "24 hours"),
    ):
        limit = _number(params, key, default) * large
        if spent + amount > limit:
            return (
                f"{ctx.amount(spent)} approved in the last {window} plus {ctx.amount(amount)} makes "
                f"{ctx.amount(spent + amount)}, above {ctx.amount(limit)}."
            )
    return None


@rule("large_amount_velocity")
def _large_amount_velocity(ctx, params):
    at_least = ctx.fraction_of_large(_number(params, "amount_fraction", "0.5"))
    per_hour = int(params.get("per_hour", 3))
    count = ctx.activity.count_1h + 1
    if ctx.attempt.amount_minor >= at_least and count >= per_hour:
        return (
            f"Amount {ctx.amount(ctx.attempt.amount_minor)} (from {ctx.amount(at_least)}) as one of "
            f"{count} transactions in the last hour (from {per_hour})."
        )
    return None


@rule("cardholder_age")
def _cardholder_age(ctx, params):
    holder = ctx.attempt.card.cardholder
    at_least = ctx.fraction_of_large(_number(params, "amount_fraction", "0.5"))
    if holder is None or ctx.attempt.amount_minor < at_least:
        return None
    age = holder.age_on(ctx.attempt.transaction_time.date())
    young_below, old_from = int(params.get("young_below", 21)), int(params.get("old_from", 75))
    if age < young_below:
        band = f"under {young_below}"
    elif age >= old_from:
        band = f"{old_from} or older"
    else:
        return None
    return (
        f"Cardholder aged {age} ({band}) spending {ctx.amount(ctx.attempt.amount_minor)} "
        f"(from {ctx.amount(at_least)})."
    )


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
    """Between two card-present transactions only (the country of an online merchant is
    not where the cardholder is), and never between neighbours (see geography.py)."""
    a, here = ctx.activity, ctx.attempt.merchant_country
    previous_time, previous_country = a.previous_present_time, a.previous_present_country
    if (
        ctx.attempt.channel not in features.CARD_PRESENT
        or not previous_time
        or not previous_country
        or previous_country == here
        or neighbours(previous_country, here)
    ):
        return None
    distance = distance_km(previous_country, here)
    if distance is None or distance < float(params.get("min_distance_km", 500)):
        return None
    # At least a minute: two countries at the same second would divide by zero.
    hours = max((ctx.attempt.transaction_time - previous_time) / datetime.timedelta(hours=1), 1 / 60)
    speed, max_speed = distance / hours, float(params.get("max_speed_kmh", 1200))
    if speed > max_speed:
        elapsed = f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"
        return (
            f"{previous_country} to {here} ({distance:,.0f} km) in {elapsed} would need "
            f"{speed:,.0f} km/h, above {max_speed:,.0f} km/h."
        )
    return None


@rule("high_risk_mcc")
def _high_risk_mcc(ctx, params):
    if ctx.config.mccs.get(ctx.attempt.mcc) == MerchantCategoryRisk.Level.HIGH_RISK:
        return f"Merchant category {ctx.attempt.mcc} is on the high-risk list."
    return None


@rule("reported_merchant")
def _reported_merchant(ctx, params):
    """Enough cards with confirmed fraud at the merchant and, with `min_share`, enough of
    its latest transactions: at a busy merchant a few honest-to-goodness frauds a
    quarter are no sign of a compromised terminal."""
    min_cards = int(params.get("min_cards", 2))
    cards, share = ctx.cross.merchant_fraud_cards_90d, ctx.cross.merchant_fraud_share_90d
    min_share = params.get("min_share")
    if cards < min_cards or (min_share is not None and share < _number(params, "min_share", 0)):
        return None
    noun = "card" if cards == 1 else "cards"
    detail = (
        f"{cards} {noun} had confirmed fraud at merchant {ctx.attempt.merchant_id} in the last "
        f"{reported_merchant_window(ctx.config).days} days (from {min_cards})"
    )
    if min_share is None:
        return detail + "."
    return f"{detail}, {share:.1%} of its latest transactions (from {float(min_share):.1%})."


RULES.update(card_testing.RULES)


# --- The assessment ------------------------------------------------------------------------------


def assess(
    attempt: AuthorizationAttempt, config: FraudConfig | None = None, reads: FeatureReads | None = None
) -> RiskAssessment:
    """Score an attempt. Factors come most points first (ties by code), except that the
    0-point reasons that decide on their own (a blocked country or merchant category,
    the wrong CVV that blocks the card) lead the list: they say why, not how much.

    Under the live version by default; under any other with `config`
    (fraud.configuration.version_config). The assessment names the version. `reads`,
    shared with another assessment of the same attempt (the shadow's, fraud/shadow.py),
    runs each feature statement once for both."""
    config = config or load_config()
    reads = reads or FeatureReads(attempt)
    windows = card_testing.windows(config)
    activity = reads.card_history(windows)
    cross = reads.cross_card_activity(
        reported_merchant_window(config), windows, tested_here=activity.failures_at_merchant > 0
    )
    ctx = Context(attempt=attempt, config=config, activity=activity, cross=cross)
    values = features.behaviour(
        attempt,
        ctx.activity,
        ctx.cross,
        high_risk_country=config.countries.get(attempt.merchant_country) == CountryRisk.Level.HIGH_RISK,
        high_risk_mcc=config.mccs.get(attempt.mcc) == MerchantCategoryRisk.Level.HIGH_RISK,
    )
    factors = []
    for code, rule_config in config.rules.items():
        function = RULES.get(code)  # none for `model`: its row holds weights, read below
        detail = function(ctx, rule_config.params) if function and rule_config.enabled else None
        if detail:
            factors.append(RiskFactor(code=code, score=rule_config.score, detail=detail))
    model = _model_factor(config, values)
    if model and model.code == "model":
        # Beside a model each rule counts at the `model` rule's rule_weight: the model
        # reads the signals the rules do, and alone they over-react (a big purchase at a
        # busy merchant with some reported fraud is mostly honest). Verdicts the model
        # cannot know (card_testing.FULL_WEIGHT) keep their points.
        weight = Decimal(str(config.rules["model"].params.get("rule_weight", DEFAULT_RULE_WEIGHT)))
        factors = [
            f if f.code in card_testing.FULL_WEIGHT else RiskFactor(f.code, round(f.score * weight), f.detail)
            for f in factors
        ]
    if model:
        factors.append(model)
    factors.sort(key=lambda f: (-f.score, f.code))
    score = min(100, sum(f.score for f in factors))

    restriction = None
    if config.countries.get(attempt.merchant_country) == CountryRisk.Level.BLOCKED:
        restriction = f"Merchant country {attempt.merchant_country} is blocked."
        factors.insert(0, RiskFactor("blocked_country", 0, restriction))
    elif config.mccs.get(attempt.mcc) == MerchantCategoryRisk.Level.BLOCKED:
        restriction = f"Merchant category {attempt.mcc} is blocked."
        factors.insert(0, RiskFactor("blocked_mcc", 0, restriction))

    block_card = _card_check_block(attempt, config, reads)
    if block_card:
        factors.insert(0, RiskFactor("cvv_failures_in_a_row", 0, f"{block_card} The card is blocked."))

    return RiskAssessment(
        score=score,
        level=_level(score, config),
        factors=factors,
        decline=score >= config.decline_threshold,
        review=score >= config.review_threshold,
        restriction=restriction,
        block_card=block_card,
        features=values,
        config_version=config.version,
    )


def _card_check_block(attempt: AuthorizationAttempt, config: FraudConfig, reads: FeatureReads) -> str | None:
    """The reason to block an active card at the cvv_failure_limit-th failed card check in
    a row: a wrong expiry date counts like a wrong CVV, so guessing the expiry is stopped
    too (whatever CVV came with it: with a wrong expiry it is never checked)."""
    expiry_wrong = attempt.expiry_result == Transaction.ExpiryResult.MISMATCH
    if attempt.card.status != "active" or not (
        expiry_wrong or attempt.cvv_result == Transaction.CvvResult.MISMATCH
    ):
        return None
    limit = config.cvv_failure_limit
    streak, expiries = reads.card_check_failures_in_a_row(limit)
    streak, expiries = streak + 1, expiries + expiry_wrong
    if streak < limit:
        return None
    if not expiries:
        return f"{streak} wrong CVVs in a row."
    return f"{streak} wrong CVVs or expiry dates in a row ({expiries} of them expiry dates)."


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
        return RiskFactor("model_error", 0, "The fraud model could not run; the rules alone decided.")


def _level(score: int, config: FraudConfig) -> str:
    if score >= config.decline_threshold:
        return "high"
    if score >= config.review_threshold:
        return "medium"
    return "low"
