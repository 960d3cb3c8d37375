"""What each rule's `params` may hold: the keys fraud/scoring.py reads, their types and
ranges. A staff edit that the engine would misread (a typo in a key, a threshold of
"1e3", a count of -1) is refused here instead of silently falling back to a default.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from cardsystem import money

WHOLE = "whole"  # a positive whole number (a count, days, years)
NUMBER = "number"  # a positive number, whole or not (a multiple, a fraction, km)
SHARE = "share"  # a number above 0, at most 1
AMOUNT = "amount"  # a decimal string in major units ("1000", "12.50")
AMOUNTS_BY_CURRENCY = "amounts_by_currency"  # {"JPY": "150000", ...}
MCCS = "mccs"  # ["5311", "5732", ...]: merchant category codes


@dataclass(frozen=True)
class Param:
    kind: str
    help: str
    required: bool = True


SCHEMAS: dict[str, dict[str, Param]] = {
    "cvv_mismatch": {},
    "cvv_absent_ecommerce": {},
    "amount_large": {
        "threshold": Param(AMOUNT, "the large amount in major units, any currency without an override"),
        "per_currency": Param(
            AMOUNTS_BY_CURRENCY, "overrides by ISO 4217 code, in that currency's units", required=False
        ),
    },
    "amount_unusual": {
        "multiple": Param(NUMBER, "times the card's 30-day average"),
        "min_history": Param(WHOLE, "approvals in 30 days before the rule applies"),
    },
    "velocity_count": {
        "per_minute": Param(WHOLE, "transactions allowed per minute"),
        "per_hour": Param(WHOLE, "transactions allowed per hour"),
        "per_day": Param(WHOLE, "transactions allowed per 24 hours"),
    },
    "velocity_amount": {
        "hour_multiple": Param(NUMBER, "spending allowed per hour, in large amounts"),
        "day_multiple": Param(NUMBER, "spending allowed per 24 hours, in large amounts"),
    },
    "large_amount_velocity": {
        "amount_fraction": Param(NUMBER, "share of the large amount that counts as large here"),
        "per_hour": Param(WHOLE, "transactions in the hour that make a burst"),
    },
    "cardholder_age": {
        "young_below": Param(WHOLE, "age in years"),
        "old_from": Param(WHOLE, "age in years"),
        "amount_fraction": Param(NUMBER, "share of the large amount from which age matters"),
    },
    "foreign_country": {},
    "model": {
        "rule_weight": Param(SHARE, "share of each rule's points that counts while a model is active"),
        "full_weight_below_approvals": Param(
            WHOLE,
            "on a card with fewer approvals in 30 days than this the rules count in full beside the model",
            required=False,
        ),
    },
    "high_risk_country": {},
    "impossible_travel": {
        "max_speed_kmh": Param(NUMBER, "fastest plausible travel, km/h"),
        "min_distance_km": Param(NUMBER, "shorter distances never count"),
    },
    "high_risk_mcc": {},
    "card_check_new_merchant": {},
    "reported_merchant": {
        "window_days": Param(WHOLE, "days of reports looked at"),
        "min_cards": Param(WHOLE, "cards with confirmed fraud at the merchant"),
        "min_share": Param(
            SHARE, "share of the merchant's latest transactions confirmed as fraud", required=False
        ),
    },
}

_CARD_TESTING_ACROSS = {
    "window_minutes": Param(WHOLE, "minutes counted back, at most a day (1440)"),
    "min_failures": Param(
        WHOLE, "failed card checks in the window: cards with a wrong CVV or expiry date, unknown numbers"
    ),
    "min_failure_share": Param(
        SHARE, "share of the window's transactions those failed checks must be", required=False
    ),
    "min_declines": Param(WHOLE, "declines in the window (any reason)", required=False),
    "min_decline_share": Param(
        SHARE, "share of the window's transactions those declines must be, with min_declines", required=False
    ),
}
SCHEMAS["merchant_card_testing"] = _CARD_TESTING_ACROSS
SCHEMAS["bin_card_testing"] = _CARD_TESTING_ACROSS
SCHEMAS["merchant_card_testing_small"] = {
    "min_failures": Param(
        WHOLE, "failed card checks at the merchant in merchant_card_testing's window: cards, unknown numbers"
    ),
    "min_failure_share": Param(SHARE, "share of the merchant's transactions in that window they must be"),
    "max_amount_usd": Param(
        NUMBER, "the largest purchase the rule applies to, in US dollars at reference rates"
    ),
}
SCHEMAS["card_tested_at_merchant"] = {
    "window_minutes": Param(WHOLE, "minutes a card that failed a check stays declined there, at most a day"),
    "min_failures": Param(
        WHOLE, "failed card checks at the merchant in that window that make it card testing"
    ),
    "min_failure_share": Param(
        SHARE,
        "share of the merchant's transactions in that window those failed checks must be",
        required=False,
    ),
}
# How the card was read and its holder verified (fraud/authentication.py).
_CHIP_READS = Param(
    WHOLE, "chip or contactless reads in 30 days that make the card a chip card", required=False
)
SCHEMAS["magstripe_new_merchant"] = {"min_chip_reads": _CHIP_READS}
SCHEMAS["magstripe_abroad"] = {"min_chip_reads": _CHIP_READS}
SCHEMAS["magstripe_again"] = {
    "min_chip_reads": _CHIP_READS,
    "min_previous": Param(WHOLE, "other magnetic-stripe reads of the card in the last 24 hours"),
}
SCHEMAS["pin_failed_new_merchant"] = {}
SCHEMAS["pin_failure_then_unverified"] = {}
SCHEMAS["no_cvm_burst"] = {
    "min_previous": Param(WHOLE, "other contactless purchases without verification in the last hour"),
}
SCHEMAS["three_ds_failed_new_merchant"] = {}
_KNOWN_DEVICES = {
    "min_known_device_approvals": Param(
        WHOLE, "approvals from identified devices in 30 days (the card is used from known devices)"
    ),
}
SCHEMAS["new_device_3ds_failed"] = {
    **_KNOWN_DEVICES,
    "max_device_approvals": Param(
        WHOLE,
        "approvals from the attempt's device in 30 days up to which it counts as new (without: none)",
        required=False,
    ),
}
SCHEMAS["new_device_unauthenticated_abroad"] = _KNOWN_DEVICES
SCHEMAS["new_device_3ds_failed_abroad"] = {}
SCHEMAS["keyed_in_person_abroad"] = {}
SCHEMAS["unverified_cash_out_again"] = {
    "mccs": Param(MCCS, "the categories where a card turns into cash or goods that resell"),
}
SCHEMAS["unverified_cash_out_new_category"] = SCHEMAS["unverified_cash_out_again"]

# Card testing is a matter of minutes: the windows across cards are added up from the
# merchants' and BINs' per-minute counts (kept two days: `prune_minute_counts`) with their
# declines read row by row, and the card's own from its 30-day history.
MAX_WINDOW_MINUTES = 1440

# Upper bounds that catch a slip of the keyboard, not tuning decisions.
_MAX_NUMBER = 10**9


def describe(code: str) -> str:
    """One line for the form's help text: the keys the rule reads."""
    schema = SCHEMAS.get(code)
    if not schema:
        return "This rule reads no thresholds: leave it as {}."
    parts = [
        f"“{name}”{'' if p.required else ' (optional)'}: {_KIND_LABELS[p.kind]}, {p.help}"
        for name, p in schema.items()
    ]
    return "A JSON object. " + "; ".join(parts) + "."


_KIND_LABELS = {
    WHOLE: "a whole number above 0",
    NUMBER: "a number above 0",
    SHARE: "a number above 0, at most 1",
    AMOUNT: 'a decimal string such as "1000"',
    AMOUNTS_BY_CURRENCY: 'an object such as {"JPY": "150000"}',
    MCCS: 'a list of four-digit merchant category codes such as ["5732", "5944"]',
}


def validate_rule_params(code: str, params) -> dict[str, str]:
    """The problems with `params` for the rule `code`, by key ("per_currency.JPY" for an
    entry of a mapping, "params" for the whole); empty when the engine can use them."""
    if code not in SCHEMAS:
        return {"params": f"No rule “{code}” is known to the engine."}
    if not isinstance(params, dict):
        return {"params": "Give a JSON object, such as {}."}
    schema = SCHEMAS[code]
    errors = {name: "Unknown key: this rule does not read it." for name in params if name not in schema}
    for name, param in schema.items():
        if name not in params:
            if param.required:
                errors[name] = "Missing: give a value."
            continue
        errors.update(_check(name, param.kind, params[name]))
    if code == "cardholder_age" and not errors and params["young_below"] >= params["old_from"]:
        errors["old_from"] = "Must be above young_below."
    window = params.get("window_minutes") if "window_minutes" in schema else None
    if "window_minutes" not in errors and window is not None and window > MAX_WINDOW_MINUTES:
        errors["window_minutes"] = f"At most {MAX_WINDOW_MINUTES} (a day)."
    if "min_decline_share" in schema and "min_decline_share" in params and "min_declines" not in params:
        errors["min_decline_share"] = "Give min_declines too: the share applies to that many declines."
    return errors


def _check(name: str, kind: str, value) -> dict[str, str]:
    if kind == WHOLE:
        if isinstance(value, bool) or not isinstance(value, int):
            return {name: "Must be a whole number (without quotes)."}
        return {} if 0 < value <= _MAX_NUMBER else {name: "Must be above 0."}
    if kind == SHARE:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return {name: "Must be a number (without quotes)."}
        return {} if math.isfinite(value) and 0 < value <= 1 else {name: "Must be above 0 and at most 1."}
    if kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return {name: "Must be a number (without quotes)."}
        if not math.isfinite(value) or value <= 0:
            return {name: "Must be above 0."}
        return {} if value <= _MAX_NUMBER else {name: "Too large."}
    if kind == AMOUNT:
        error = _amount_error(value, currency=None)
        return {name: error} if error else {}
    if kind == MCCS:
        codes = value if isinstance(value, list) else []
        if not codes or not all(_is_mcc(code) for code in codes):
            return {name: 'Must be a list of four-digit codes in quotes, such as ["5732", "5944"].'}
        return {}
    # AMOUNTS_BY_CURRENCY
    if not isinstance(value, dict):
        return {name: 'Must be an object of currency codes and amounts, such as {"JPY": "150000"}.'}
    errors = {}
    for currency, amount in value.items():
        key = f"{name}.{currency}"
        if not (isinstance(currency, str) and money.is_currency(currency)):
            errors[key] = "Not an ISO 4217 currency code with a minor unit (such as JPY)."
            continue
        error = _amount_error(amount, currency=currency)
        if error:
            errors[key] = error
    return errors


def _is_mcc(code) -> bool:
    return isinstance(code, str) and len(code) == 4 and code.isascii() and code.isdigit()


def _amount_error(value, *, currency: str | None) -> str | None:
    """A positive amount as a decimal string, with no more decimal places than `currency`
    has (any number of places when no currency is given)."""
    if not isinstance(value, str):
        return 'Must be a decimal string in quotes, such as "1000".'
    try:
        if currency is None:
            money.parse_amount(value)
        else:
            money.to_minor(value, currency)
    except money.MoneyError as error:
        return str(error)
    if Decimal(value) <= 0:
        return "Must be above 0."
    return None


def param_messages(errors: dict[str, str]) -> list[str]:
    """validate_rule_params' errors as lines for the one `params` field."""
    return [f"{key}: {message}" if key != "params" else message for key, message in errors.items()]


def validate_thresholds(*, review: int, decline: int) -> dict[str, str]:
    """FraudSettings: an alert is opened from the review score, so it cannot be above
    the score that declines."""
    if review is not None and decline is not None and review > decline:
        return {"review_threshold": f"Must not be above the decline threshold ({decline})."}
    return {}
