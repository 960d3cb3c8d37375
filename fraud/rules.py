"""The rules: each a pure function of the transaction's own facts, the values stored
with its decision and the configuration, so that a live decision and a backtest of it
(fraud/backtest.py) run the same code on the same numbers.

Every number a rule uses comes from the configuration (points, params, lists, thresholds);
each factor's detail names the numbers that made the rule fire (never card data). What a
rule reads beyond the model's features is stored too (catalogue.RULE_INPUTS).
"""

import datetime
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from cardsystem import money
from fraud import authentication, card_testing, new_cards
from fraud.configuration import FraudConfig, reported_merchant_window
from fraud.facts import Facts
from fraud.geography import distance_km, neighbours
from fraud.models import CountryRisk, MerchantCategoryRisk
from transactions.models import Transaction
from transactions.queries import CARD_PRESENT
from transactions.signals import RiskFactor

DEFAULT_LARGE_AMOUNT = "1000"
DEFAULT_RULE_WEIGHT = "0.3"


def previous_present(values: dict) -> datetime.datetime | None:
    text = values["previous_present_time"]
    return datetime.datetime.fromisoformat(text) if text else None


def _number(params: dict, key: str, default) -> Decimal:
    """A numeric param, exact (0.5 stays one half, not a binary float)."""
    return Decimal(str(params.get(key, default)))


@dataclass(frozen=True)
class Context:
    """What a rule reads: the transaction's own facts, the values stored with the decision
    (the features and the rule inputs, `values[name]`) and the configuration."""

    attempt: Facts
    config: FraudConfig
    values: dict
    details: bool = True  # False in a backtest: it counts factors, formats no amount for their details

    def amount(self, minor: int | float | Decimal) -> str:
        return money.format_amount(round(minor), self.attempt.currency) if self.details else ""

    def large_amount_minor(self) -> int:
        return self._large_amount_minor

    @cached_property
    def _large_amount_minor(self) -> int:
        """The large-amount threshold in the attempt's currency (per-currency override
        or the default, both decimal strings in major units), read whether or not the
        amount_large rule is enabled; once per decision, though four rules read it."""
        rule_config = self.config.rules.get("amount_large")
        params = rule_config.params if rule_config else {}
        per_currency = params.get("per_currency") or {}
        text = str(per_currency.get(self.attempt.currency, params.get("threshold", DEFAULT_LARGE_AMOUNT)))
        return money.threshold_to_minor(text, self.attempt.currency)

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
    v, amount = ctx.values, ctx.attempt.amount_minor
    history = int(params.get("min_history", 5))
    count, total = v["card_approved_count_30d"], v["card_approved_minor_30d"]
    # Amounts are positive, so with at least one approval the average is too.
    if count < max(history, 1):
        return None
    multiple = _number(params, "multiple", 5)
    # amount >= multiple * (total / count), in integers and decimals: exact at the edge.
    if amount * count >= multiple * total:
        ratio = Decimal(amount * count) / total
        return (
            f"Amount {ctx.amount(amount)} is {ratio:.2f} times this card's 30-day average of "
            f"{ctx.amount(total / count)} over {count} approvals "
            f"(fires from {multiple} times)."
        )
    return None


@rule("velocity_count")
def _velocity_count(ctx, params):
    v = ctx.values
    for count, limit, window in (
        (v["card_count_1m"], params.get("per_minute", 3), "minute"),
        (v["card_count_1h"], params.get("per_hour", 10), "hour"),
        (v["card_count_24h"], params.get("per_day", 30), "24 hours"),
    ):
        # The history does not hold the attempt itself: + 1 counts it, once.
        if count + 1 > int(limit):
            return f"{count + 1} transactions on this card in the last {window}, more than {limit}."
    return None


@rule("velocity_amount")
def _velocity_amount(ctx, params):
    large = ctx.large_amount_minor()
    v, amount = ctx.values, ctx.attempt.amount_minor
    for spent, key, default, window in (
        (v["card_approved_minor_1h"], "hour_multiple", 2, "hour"),
        (v["card_approved_minor_24h"], "day_multiple", 5, "24 hours"),
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
    count = ctx.values["card_count_1h"] + 1
    if ctx.attempt.amount_minor >= at_least and count >= per_hour:
        return (
            f"Amount {ctx.amount(ctx.attempt.amount_minor)} (from {ctx.amount(at_least)}) as one of "
            f"{count} transactions in the last hour (from {per_hour})."
        )
    return None


@rule("cardholder_age")
def _cardholder_age(ctx, params):
    age = ctx.values["cardholder_age"]
    at_least = ctx.fraction_of_large(_number(params, "amount_fraction", "0.5"))
    if age is None or ctx.attempt.amount_minor < at_least:  # no cardholder
        return None
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
    home = ctx.values["home_country"]
    if home is not None and ctx.attempt.merchant_country != home:
        return f"Merchant in {ctx.attempt.merchant_country}, cardholder lives in {home}."
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
    here = ctx.attempt.merchant_country
    previous_time, previous_country = previous_present(ctx.values), ctx.values["previous_present_country"]
    if (
        ctx.attempt.channel not in CARD_PRESENT
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
    v = ctx.values
    cards, recent = v["merchant_fraud_cards_90d"], v["merchant_recent_count"]
    share = v["merchant_recent_fraud"] / recent if recent else 0.0
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


RULES.update(card_testing.RULES | new_cards.RULES | authentication.RULES)


# --- A decision from its facts, values and configuration -------------------------------------


@dataclass(frozen=True)
class Verdict:
    score: int
    level: str
    factors: list[RiskFactor]
    decline: bool
    review: bool
    restriction: str | None
    verification: str | None
    block_card: str | None


def evaluate(
    facts: Facts, values: dict, config: FraudConfig, model: RiskFactor | None, *, details: bool = True
) -> Verdict:
    """The decision of `config` on one transaction: pure, the same live and in a backtest.
    `model` is the model's factor (fraud/scoring.py live, fraud/backtest.py in batches),
    None without a model. `details=False` (a backtest): the same decision, details empty.

    Factors come most points first (ties by code), except that the reasons that decide on
    their own (a step-up rule's, a blocked country or merchant category, the wrong CVV
    that blocks the card) lead the list: they say why, not how much. A step-up rule
    (authentication.STEP_UP) that fires sets `verification` to its detail (the first in
    the configuration's order when several do): decided 1A unless the score declines first."""
    ctx = Context(attempt=facts, config=config, values=values, details=details)
    factors, verification = [], None
    for code, rule_config in config.rules.items():
        function = RULES.get(code)  # none for `model`: its row holds weights
        detail = function(ctx, rule_config.params) if function and rule_config.enabled else None
        if detail:
            factors.append(RiskFactor(code=code, score=rule_config.score, detail=detail if details else ""))
            if code in STEP_UP and verification is None:
                verification = detail  # never empty, details or not
    if model and model.code == "model" and not new_cards.rules_in_full(values, config):
        # Beside a model each rule counts at the `model` rule's rule_weight: the model
        # reads the signals the rules do, and alone they over-react (a big purchase at a
        # busy merchant with some reported fraud is mostly honest). Verdicts the model
        # cannot know (FULL_WEIGHT) keep theirs; with little history all do (new_cards).
        weight = Decimal(str(config.rules["model"].params.get("rule_weight", DEFAULT_RULE_WEIGHT)))
        factors = [
            f if f.code in FULL_WEIGHT else RiskFactor(f.code, round(f.score * weight), f.detail)
            for f in factors
        ]
    if model:
        factors.append(model)
    factors.sort(key=lambda f: (-f.score, f.code))
    score = min(100, sum(f.score for f in factors))
    if verification:  # its points (if any: FULL_WEIGHT) are counted, but it leads the list
        factors.sort(key=lambda f: f.code not in STEP_UP)

    restriction = restriction_of(facts, config)
    if restriction:
        code = "blocked_country" if config.countries.get(facts.merchant_country) == BLOCKED else "blocked_mcc"
        factors.insert(0, RiskFactor(code, 0, restriction))
    block_card = card_check_block(facts, values, config)
    if block_card:
        factors.insert(0, RiskFactor("cvv_failures_in_a_row", 0, f"{block_card} The card is blocked."))
    return Verdict(
        score=score,
        level=level(score, config),
        factors=factors,
        decline=score >= config.decline_threshold,
        review=score >= config.review_threshold,
        restriction=restriction,
        verification=verification,
        block_card=block_card,
    )


BLOCKED = CountryRisk.Level.BLOCKED
FULL_WEIGHT = card_testing.FULL_WEIGHT | new_cards.FULL_WEIGHT | authentication.FULL_WEIGHT
STEP_UP = authentication.STEP_UP


def restriction_of(facts: Facts, config: FraudConfig) -> str | None:
    """Why the transaction is not permitted at all (a blocked country or category), if it is not."""
    if config.countries.get(facts.merchant_country) == BLOCKED:
        return f"Merchant country {facts.merchant_country} is blocked."
    if config.mccs.get(facts.mcc) == MerchantCategoryRisk.Level.BLOCKED:
        return f"Merchant category {facts.mcc} is blocked."
    return None


def card_check_failed(facts: Facts) -> bool:
    """A wrong CVV or a wrong expiry date: both are checked on an active card only, so
    the card was active when one failed."""
    return (
        facts.expiry_result == Transaction.ExpiryResult.MISMATCH
        or facts.cvv_result == Transaction.CvvResult.MISMATCH
    )


def card_check_block(facts: Facts, values: dict, config: FraudConfig) -> str | None:
    """The reason to block the card at the cvv_failure_limit-th failed card check in a
    row: a wrong expiry date counts like a wrong CVV, so guessing the expiry is stopped
    too. `values` hold the run before this attempt (`card_check_streak`, read live up to
    the limit: fraud/features.py card_check_failures_in_a_row)."""
    if not card_check_failed(facts) or values.get("card_check_streak") is None:
        return None
    expiry_wrong = facts.expiry_result == Transaction.ExpiryResult.MISMATCH
    streak = values["card_check_streak"] + 1
    expiries = values["card_check_streak_expiries"] + expiry_wrong
    if streak < config.cvv_failure_limit:
        return None
    if not expiries:
        return f"{streak} wrong CVVs in a row."
    return f"{streak} wrong CVVs or expiry dates in a row ({expiries} of them expiry dates)."


def level(score: int, config: FraudConfig) -> str:
    if score >= config.decline_threshold:
        return "high"
    if score >= config.review_threshold:
        return "medium"
    return "low"
