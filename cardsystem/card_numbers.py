"""Card numbers in text: the Luhn check and the one pattern for a PAN-like run of digits.

The ground floor needs to recognise a card number wherever people type one (free-text
fields, search boxes, error reports) without knowing anything about cards or keys, so
this holds no key material and imports no app; `cards/pan.py` builds on it.
"""

import re

from django.core.exceptions import ValidationError

# 12 to 19 digits, possibly grouped by single spaces or dashes as people type them (or
# by "+" or "%20", as a URL carries a space); in any script (\d), so that a number typed
# in full-width digits is caught too.
PAN_IN_TEXT = re.compile(r"(?<!\d)\d(?:(?:[ +-]|%20)?\d){11,18}(?!\d)")
_SEPARATORS = re.compile(r"[ +-]|%20")

MIN_PAN_DIGITS = 12


def luhn_check_digit(partial: str) -> str:
    """The digit that makes `partial + digit` pass the Luhn check."""
    total = 0
    for index, char in enumerate(reversed(partial)):
        digit = int(char)
        if index % 2 == 0:  # these positions are doubled once the check digit is appended
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return len(number) >= 2 and number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def _digits(run: str) -> str:
    return _SEPARATORS.sub("", run)


def has_pan_like_run(text: str) -> bool:
    """Whether `text` holds a run of digits shaped like a card number, Luhn-valid or not:
    for what is hidden or refused on suspicion (error reports, analysts' notes)."""
    return PAN_IN_TEXT.search(text) is not None


def contains_pan(text: str) -> bool:
    """Whether free text (a reason, a reference, a merchant name) holds a card number."""
    return any(luhn_valid(_digits(match.group())) for match in PAN_IN_TEXT.finditer(text))


def mask_card_numbers(text: str) -> str:
    """`text` with every run of digits shaped like a card number, Luhn-valid or not,
    masked but for its last four digits: what a log line may keep of one."""
    return PAN_IN_TEXT.sub(_mask, text)


def mask_pans(text: str) -> str:
    """`text` with every Luhn-valid card number in it masked but for its last four
    digits: for stored text (the audit log), where other long digit runs, such as a
    timestamp, are kept."""
    return PAN_IN_TEXT.sub(
        lambda match: _mask(match) if luhn_valid(_digits(match.group())) else match.group(), text
    )


def _mask(match: re.Match) -> str:
    digits = _digits(match.group())
    return "*" * (len(digits) - 4) + digits[-4:]


def pan_like_digits(term: str) -> str | None:
    """The digits of `term` when the whole of it looks like a card number (12 digits or
    more, perhaps grouped): what a person pastes into a search box or a filter."""
    term = (term or "").strip()
    digits = term.replace(" ", "").replace("-", "")
    if len(digits) < MIN_PAN_DIGITS or not (digits.isascii() and digits.isdigit()):
        return None
    # Starts and ends with a digit: "-4111..." or "4111... " are not pasted numbers.
    return digits if term[0].isdigit() and term[-1].isdigit() else None


def reject_pan(text: str, field: str) -> None:
    """Raise a ValidationError naming `field` if `text` holds a card number."""
    if text and contains_pan(text):
        raise ValidationError({field: "This looks like a card number: never write card data here."})
