"""Which card network a BIN prefix belongs to, and the PAN lengths each network issues.

Ranges from the networks' published IIN tables. Discover's 622126-622925 is shared
with UnionPay (co-branded cards), so a prefix can agree with more than one network.
"""

from django.db import models

from cardsystem.money import is_currency


class Network(models.TextChoices):
    VISA = "visa", "Visa"
    MASTERCARD = "mastercard", "Mastercard"
    AMEX = "amex", "American Express"
    DISCOVER = "discover", "Discover"
    JCB = "jcb", "JCB"
    UNIONPAY = "unionpay", "UnionPay"
    OTHER = "other", "Other"


# (network, first prefix, last prefix): a PAN belongs to the range when its leading
# digits, cut to the bound's length, fall between the bounds.
_RANGES: list[tuple[str, str, str]] = [
    (Network.VISA, "4", "4"),
    (Network.MASTERCARD, "51", "55"),
    (Network.MASTERCARD, "2221", "2720"),
    (Network.AMEX, "34", "34"),
    (Network.AMEX, "37", "37"),
    (Network.DISCOVER, "6011", "6011"),
    (Network.DISCOVER, "622126", "622925"),
    (Network.DISCOVER, "644", "649"),
    (Network.DISCOVER, "65", "65"),
    (Network.JCB, "3528", "3589"),
    (Network.UNIONPAY, "62", "62"),
    (Network.UNIONPAY, "81", "81"),
]

PAN_LENGTHS: dict[str, range] = {
    Network.VISA: range(13, 20),
    Network.MASTERCARD: range(16, 17),
    Network.AMEX: range(15, 16),
    Network.DISCOVER: range(16, 20),
    Network.JCB: range(16, 20),
    Network.UNIONPAY: range(16, 20),
    Network.OTHER: range(12, 20),
}


def networks_for_prefix(prefix: str) -> set[str]:
    """The networks whose ranges contain this prefix; {"other"} when none does."""
    found = {network for network, low, high in _RANGES if low <= prefix[: len(low)] <= high}
    return found or {Network.OTHER}


def describe_lengths(network: str) -> str:
    lengths = PAN_LENGTHS[network]
    if len(lengths) == 1:
        return str(lengths[0])
    return f"{lengths[0]} to {lengths[-1]}"


def bin_rule_errors(*, bin: str, network: str, currency: str, pan_length: int | None) -> dict[str, str]:
    """Cross-field rules of a BIN, as {field: message}. Field-level syntax (digits,
    choices, ranges) is the model fields' job; this assumes it or skips the rule."""
    errors: dict[str, str] = {}
    if currency and not is_currency(currency):
        errors["currency"] = f"Unknown currency {currency!r}: use an ISO 4217 code such as USD."
    if not (bin and bin.isdigit() and network in PAN_LENGTHS):
        return errors
    allowed = networks_for_prefix(bin)
    if network not in allowed:
        names = ", ".join(sorted(Network(n).label for n in allowed))
        errors["network"] = f"BIN {bin} belongs to {names}, not {Network(network).label}."
    elif pan_length is not None and pan_length not in PAN_LENGTHS[network]:
        errors["pan_length"] = f"{Network(network).label} PANs are {describe_lengths(network)} digits long."
    return errors
