"""Money at the edges: decimal strings in, decimal strings out, integer minor units inside.

Amounts are stored and compared as integers of the currency's minor unit (cents for
USD, yen for JPY, fils for BHD). This module is the only place that converts.
"""

import re
from decimal import Decimal
from functools import cache

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
