"""Money at the edges: decimal strings in, decimal strings out, integer minor units inside.

Amounts are stored and compared as integers of the currency's minor unit (cents for
USD, yen for JPY, fils for BHD). This module is the only place that converts.
"""

import re
from decimal import Decimal
from functools import cache, lru_cache

import iso4217

# Plain decimal notation only: no sign, exponent, spaces or thousands separators.
# Fifteen integer digits keep every amount far inside a 64-bit integer of minor units.
_AMOUNT_RE = re.compile(r"\A(0|[1-9][0-9]{0,14})(?:\.([0-9]+))?\Z")


# The largest amount or balance, in minor units: far below a 64-bit integer, so that
# no sum of a balance and an amount can overflow the database column.
MAX_MINOR = 10**17


class MoneyError(ValueError):
    """An amount or currency that cannot be accepted; the message is safe to show."""


@cache
def _exponents() -> dict[str, int]:
    # Funds, precious metals and testing codes have no minor unit (exponent None).
    return {c.code: c.exponent for c in iso4217.Currency if c.exponent is not None}


def is_currency(code: str) -> bool:
    return code in _exponents()


def currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in sorted(_exponents())]


def exponent(currency: str) -> int:
    try:
        return _exponents()[currency]
    except KeyError:
        raise MoneyError(f"Unknown currency {currency!r}: use an ISO 4217 code such as USD.") from None


def parse_amount(amount: str) -> tuple[str, str]:
    """Check plain decimal notation; return the integer and fraction digits."""
    match = _AMOUNT_RE.match(amount) if isinstance(amount, str) else None
    if not match:
        raise MoneyError('Give the amount as a decimal string, such as "12.50".')
    return match.group(1), match.group(2) or ""


def to_minor(amount: str, currency: str) -> int:
    """Parse a decimal string in major units ("12.50") into minor units (1250).

    Raises MoneyError for anything but plain decimal notation, or for more decimal
    places than the currency has.
    """
    whole, fraction = parse_amount(amount)
    places = exponent(currency)
    if len(fraction) > places:
        if places == 0:
            raise MoneyError(f"{currency} has no minor unit: give a whole amount.")
        raise MoneyError(f"{currency} amounts have at most {places} decimal places.")
    minor = int(whole) * 10**places + int(fraction.ljust(places, "0") or 0)
    if minor > MAX_MINOR:
        raise MoneyError(f"The amount is too large: at most {to_major(MAX_MINOR, currency)} {currency}.")
    return minor


@lru_cache(maxsize=1024)
def threshold_to_minor(text: str, currency: str) -> int:
    """A configured threshold (a decimal string in major units) in minor units, whole
    units when it has more decimals than the currency has. Cached: a backtest reads the
    same few for a million decisions."""
    try:
        return to_minor(text, currency)
    except MoneyError:
        return to_minor(str(int(Decimal(text))), currency)


def to_major(amount_minor: int, currency: str) -> str:
    """Render minor units as a decimal string with the currency's exact places."""
    places = exponent(currency)
    value = Decimal(amount_minor).scaleb(-places)
    return f"{value:.{places}f}"


def format_amount(amount_minor: int | None, currency: str) -> str:
    """For people: "12.50 USD", or an em dash for no amount."""
    if amount_minor is None:
        return "—"
    return f"{to_major(amount_minor, currency)} {currency}"


# Units of each currency to one US dollar, roughly (late 2026). For statistics only:
# the fraud features compare spending across currencies in approximate dollars, so one
# model serves every card programme. Never used to move money. A currency not listed
# has no rate: its amounts are not compared in dollars.
APPROXIMATE_PER_USD = {
    "USD": 1, "EUR": 0.9, "GBP": 0.8, "CHF": 0.85, "CAD": 1.4, "AUD": 1.5, "NZD": 1.7, "JPY": 150,
    "CNY": 7, "HKD": 7.8, "SGD": 1.3, "KRW": 1300, "TWD": 32, "INR": 80, "IDR": 15000, "PHP": 55,
    "THB": 35, "VND": 25000, "MXN": 18, "BRL": 5, "ARS": 1000, "CLP": 900, "COP": 4000, "ZAR": 18,
    "NGN": 1500, "KES": 130, "EGP": 48, "TRY": 30, "RUB": 90, "UAH": 41, "PLN": 4, "CZK": 23,
    "HUF": 350, "SEK": 10, "NOK": 10, "DKK": 7, "ISK": 140, "PKR": 280, "AED": 3.67, "SAR": 3.75,
}  # fmt: skip


def approximate_usd(amount_minor: int, currency: str) -> float | None:
    """About how many US dollars an amount is (see APPROXIMATE_PER_USD); None for a
    currency without a rate there."""
    if currency not in APPROXIMATE_PER_USD:
        return None
    return amount_minor / 10 ** exponent(currency) / APPROXIMATE_PER_USD[currency]
