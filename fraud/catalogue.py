"""The behavioural features a decision stores and the model reads, with words for analysts.

Every decision stores these (all of them, under these names) in
`Transaction.risk_features`, computed point in time by fraud/features.py. Values are
numbers, booleans or None (nothing to compare with: no earlier transaction, say).
Amounts are in approximate US dollars (`*_usd`), so that one model serves every
currency; the analyst sees the transaction's own amount beside them.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str
    label: str  # what it is, for an analyst: "wrong CVVs at this merchant in the last hour"
    unit: str = ""  # "", "usd", "flag", "hours", "km", "km/h", "share", "times", "sd"
    # Whether the model reads it (MODEL_NAMES). Stored with every decision all the same.
    model: bool = True


FEATURES: tuple[Feature, ...] = (
    # The attempt itself.
    Feature("amount_usd", "amount", "usd"),
    Feature("card_present", "card present (POS or ATM)", "flag"),
    Feature("ecommerce", "online purchase", "flag"),
    Feature("cvv_absent", "no CVV given", "flag"),
    Feature("cvv_mismatch", "wrong CVV", "flag"),
    Feature("expiry_mismatch", "wrong expiry date", "flag"),
    Feature("high_risk_country", "merchant country on the high-risk list", "flag"),
    Feature("high_risk_mcc", "merchant category on the high-risk list", "flag"),
    Feature("night", "between midnight and 6 am at the cardholder's home", "flag"),
    # The card's own history (attempts counted, approved amounts summed), before this one.
    Feature("card_count_10m", "transactions on this card in the last 10 minutes"),
    Feature("card_count_1h", "transactions on this card in the last hour"),
    Feature("card_count_24h", "transactions on this card in the last 24 hours"),
    Feature("card_count_7d", "transactions on this card in the last 7 days", model=False),
    Feature("card_count_30d", "transactions on this card in the last 30 days", model=False),
    Feature("card_spend_10m_usd", "approved on this card in the last 10 minutes", "usd"),
    Feature("card_spend_1h_usd", "approved on this card in the last hour", "usd"),
    Feature("card_spend_24h_usd", "approved on this card in the last 24 hours", "usd"),
    Feature("card_spend_7d_usd", "approved on this card in the last 7 days", "usd", model=False),
    Feature("card_spend_30d_usd", "approved on this card in the last 30 days", "usd", model=False),
    Feature("amount_to_mean", "amount against the card's 30-day average", "times"),
    Feature("amount_zscore", "amount in standard deviations from the card's 30-day average", "sd"),
    Feature("first_merchant", "first purchase at this merchant", "flag"),
    Feature("first_country", "first purchase in this country", "flag"),
    Feature("first_mcc", "first purchase in this merchant category", "flag"),
    Feature("first_channel", "first purchase through this channel", "flag"),
    Feature("hours_since_last", "hours since the card's previous transaction", "hours"),
    Feature("km_from_last", "distance from the previous transaction's country", "km"),
    Feature("kmh_from_last", "speed needed from the previous transaction's country", "km/h"),
    Feature("night_share_30d", "share of the card's last 30 days spent at night", "share", model=False),
    Feature("declines_24h", "declines on this card in the last 24 hours"),
    Feature("declines_cvv_24h", "wrong-CVV declines on this card in the last 24 hours"),
    Feature("declines_funds_24h", "insufficient-funds declines on this card in the last 24 hours"),
    Feature("declines_limit_24h", "over-limit declines on this card in the last 24 hours"),
    Feature(
        "card_failures_at_merchant",
        "wrong CVVs and expiry dates on this card at this merchant in the tested-card window",
    ),
    # Across all cards: card testing spread over many cards, compromised terminals.
    Feature("merchant_count_1h", "transactions at this merchant in the last hour", model=False),
    Feature("merchant_cvv_mismatch_1h", "wrong CVVs at this merchant in the last hour"),
    Feature("merchant_declines_1h", "declines at this merchant in the last hour"),
    # Card testing: a failed card check is a card with a wrong CVV or expiry date, or an
    # unknown card number; the windows are the card-testing rules' (fraud/card_testing.py).
    Feature("merchant_testing_attempts", "transactions at this merchant in the card-testing window"),
    Feature("merchant_testing_failures", "failed card checks at this merchant in the card-testing window"),
    Feature("merchant_testing_declines", "declines at this merchant in the card-testing window"),
    Feature(
        "merchant_failures_long",
        "failed card checks at this merchant in the tested-card window (read if this card failed one there)",
    ),
    Feature(
        "merchant_attempts_long",
        "transactions at this merchant in the tested-card window (read if this card failed a check there)",
        model=False,
    ),
    Feature("merchant_fraud_cards_90d", "cards with reported fraud at this merchant in 90 days"),
    Feature(
        "merchant_fraud_share_90d", "share of this merchant's 90-day transactions reported as fraud", "share"
    ),
    Feature("bin_count_1h", "transactions in this card's BIN in the last hour", model=False),
    Feature("bin_cvv_mismatch_1h", "wrong CVVs in this card's BIN in the last hour", model=False),
    Feature("bin_declines_1h", "declines in this card's BIN in the last hour", model=False),
    Feature(
        "bin_testing_attempts", "transactions in this card's BIN in the card-testing window", model=False
    ),
    Feature(
        "bin_testing_failures",
        "failed card checks in this card's BIN in the card-testing window",
        model=False,
    ),
    Feature("bin_testing_declines", "declines in this card's BIN in the card-testing window", model=False),
    # The cardholder.
    Feature("cardholder_age", "cardholder's age", model=False),
    Feature("foreign", "merchant outside the cardholder's home country", "flag"),
    Feature("km_from_home", "distance from the cardholder's home country", "km"),
    # How the card was read and its holder verified before (transactions/authentication_facts.py),
    # for fraud/authentication.py's rules. Not model inputs: a model trained before they were
    # sent would read them as missing, and the rules count in full beside it.
    Feature("card_magstripe_24h", "magnetic-stripe reads of this card in the last 24 hours", model=False),
    Feature("card_chip_reads_30d", "chip or contactless reads of this card in the last 30 days", model=False),
    Feature("card_wrong_pins_24h", "PIN failures on this card in the last 24 hours", model=False),
    Feature(
        "pin_failure_unverified",
        "a PIN failure on this card in the last 24 hours, no PIN verified since",
        "flag",
        model=False,
    ),
    Feature(
        "card_no_cvm_contactless_1h",
        "contactless purchases without cardholder verification on this card in the last hour",
        model=False,
    ),
    Feature(
        "device_approvals_30d", "approvals on this card from this device in the last 30 days", model=False
    ),
    Feature(
        "card_device_approvals_30d",
        "approvals on this card from any identified device in 30 days",
        model=False,
    ),
)

NAMES: tuple[str, ...] = tuple(feature.name for feature in FEATURES)
# What the model reads: how the attempt differs from the card's own habits and what is
# happening at the merchant, not who the cardholder is or how busy the world was that
# hour. A model trains on a few dozen attacks, each many rows on one card: given a
# card's age, volume or night habits, or the BIN's traffic of the hour, it learns those
# victims and those hours (on a tuning world their features led its importance) instead
# of what fraud looks like. The rules still read them (cardholder_age, the BIN's
# card testing).
MODEL_NAMES: tuple[str, ...] = tuple(feature.name for feature in FEATURES if feature.model)

# What the rules read beyond the features, exact (minor units, raw counts), stored with
# each decision beside them (fraud/scoring.py rule_inputs) so a backtest re-decides from
# what the rules read. Not model inputs: the model reads MODEL_NAMES only.
RULE_INPUTS: tuple[Feature, ...] = (
    Feature("card_count_1m", "transactions on this card in the last minute"),
    Feature("card_approved_count_30d", "approvals on this card in the last 30 days"),
    Feature("card_approved_minor_30d", "approved on this card in the last 30 days (minor units)"),
    Feature("card_approved_minor_1h", "approved on this card in the last hour (minor units)"),
    Feature("card_approved_minor_24h", "approved on this card in the last 24 hours (minor units)"),
    Feature("previous_present_time", "time of the card's latest card-present transaction"),
    Feature("previous_present_country", "country of the card's latest card-present transaction"),
    Feature(
        "merchant_recent_count",
        "the merchant's latest transactions read for its fraud share (none read without reported fraud)",
    ),
    Feature("merchant_recent_fraud", "of those, reported as fraud"),
    Feature("home_country", "cardholder's home country"),
    Feature("card_check_streak", "failed card checks in a row before this one"),
    Feature("card_check_streak_expiries", "of those, wrong expiry dates"),
    Feature(
        "card_verified_cvm_1h",
        "attempts on this card in the last hour with the cardholder verified (PIN or the shopper's device)",
    ),
    Feature(
        "card_unverified_present_mccs_1h",
        "merchant categories of this card's in-person attempts in the last hour without a verified "
        "cardholder (PIN failed, signature or none)",
    ),
)
RULE_INPUT_NAMES: tuple[str, ...] = tuple(feature.name for feature in RULE_INPUTS)
BY_NAME = {feature.name: feature for feature in FEATURES + RULE_INPUTS}


def describe(name: str, value) -> str:
    """One feature and its value in words: "first purchase in this country: yes"."""
    return f"{label(name)}: {format_value(name, value)}"


def label(name: str) -> str:
    feature = BY_NAME.get(name)
    return feature.label if feature else name.replace("_", " ")


def format_value(name: str, value) -> str:
    """A feature's value for people: "yes", "about 1,250.00 USD", "35%", "6.2x"."""
    feature = BY_NAME.get(name)
    unit = feature.unit if feature else ""
    if value is None:
        return "no dollar rate for this currency" if unit == "usd" else "none before"
    if unit == "flag":
        return "yes" if value else "no"
    if unit == "usd":
        return f"about {value:,.2f} USD"
    if unit == "share":
        return f"{value:.0%}"
    if unit == "times":
        return f"{value:.1f}x"
    if unit == "sd":
        return f"{value:+.1f}"
    if unit == "hours":
        return f"{value:,.1f} hours"
    if unit in ("km", "km/h"):
        return f"{value:,.0f} {unit}"
    return f"{value:g}" if isinstance(value, float) else str(value)
