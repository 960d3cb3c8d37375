import pytest
from django.core.exceptions import ValidationError

from cardsystem.card_numbers import (
    contains_pan,
    has_pan_like_run,
    luhn_check_digit,
    luhn_valid,
    pan_like_digits,
    reject_pan,
)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4111111111111111", True),
        ("5555555555554444", True),
        ("378282246310005", True),
        ("6011111111111117", True),
        ("4111111111111112", False),
        ("0", False),
        ("41111111111a1111", False),
    ],
)
def test_luhn_check_matches_published_test_numbers(number, valid):
    assert luhn_valid(number) is valid


@pytest.mark.parametrize("partial", ["411111111111111", "37828224631000", "0"])
def test_the_check_digit_makes_a_number_luhn_valid(partial):
    assert luhn_valid(partial + luhn_check_digit(partial))


@pytest.mark.parametrize(
    ("text", "shaped", "pan"),
    [
        ("card 4111111111111111 declined", True, True),
        ("card 4111 1111 1111 1111", True, True),
        ("card 4111-1111-1111-1111", True, True),
        ("ticket 4111111111111112", True, False),  # the shape, but not Luhn-valid
        ("ref 12345678901", False, False),  # 11 digits: too short for a card number
        ("order 41111111111111111111", False, False),  # 20 digits: too long
        ("last four 1111", False, False),
        ("card \uff14\uff11\uff11\uff11 1111 1111 1111", True, True),  # full-width digits too
    ],
)
def test_card_numbers_are_found_in_free_text(text, shaped, pan):
    assert has_pan_like_run(text) is shaped
    assert contains_pan(text) is pan


@pytest.mark.parametrize(
    ("term", "digits"),
    [
        ("4111111111111111", "4111111111111111"),
        (" 4111 1111 1111 1111 ", "4111111111111111"),
        ("4111-1111-1111-1111", "4111111111111111"),
        ("411111111111", "411111111111"),
        ("41111111111", None),  # 11 digits
        ("-4111111111111111", None),
        ("4111111111111111-", None),
        ("Corner Coffee 4111111111111111", None),  # not the whole term
        ("\uff14111111111111111", None),  # a fullwidth digit is not an ASCII one
        ("", None),
    ],
)
def test_a_search_term_that_is_a_whole_card_number_gives_its_digits(term, digits):
    assert pan_like_digits(term) == digits


def test_reject_pan_names_the_field_and_lets_other_text_through():
    reject_pan("", "reason")
    reject_pan("cardholder called, card 1111", "reason")
    with pytest.raises(ValidationError) as refused:
        reject_pan("card 4111 1111 1111 1111", "reason")
    assert list(refused.value.message_dict) == ["reason"]
