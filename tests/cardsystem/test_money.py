import pytest

from cardsystem import money


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.50", "USD", 1250),
        ("12.5", "USD", 1250),
        ("12", "USD", 1200),
        ("0.01", "USD", 1),
        ("1200", "JPY", 1200),
        ("1.234", "BHD", 1234),
        ("999999999999999.99", "USD", 99999999999999999),
    ],
)
def test_decimal_strings_convert_exactly_to_minor_units(amount, currency, minor):
    assert money.to_minor(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("12.505", "USD"),
        ("12.5", "JPY"),
        ("1e3", "USD"),
        ("-5.00", "USD"),
        ("+5", "USD"),
        (" 5", "USD"),
        ("5.", "USD"),
        (".5", "USD"),
        ("", "USD"),
        ("1,000.00", "USD"),
        ("NaN", "USD"),
        ("Infinity", "USD"),
        ("0012", "USD"),
        ("1000000000000000", "USD"),
        (12.5, "USD"),
        (12, "USD"),
        (None, "USD"),
    ],
)
def test_anything_but_plain_decimal_notation_within_the_exponent_is_refused(amount, currency):
    with pytest.raises(money.MoneyError):
        money.to_minor(amount, currency)


def test_an_unknown_currency_is_refused():
    with pytest.raises(money.MoneyError, match="Unknown currency"):
        money.to_minor("1.00", "ABC")
    assert not money.is_currency("XAU")  # no minor unit: not a card currency


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1250, "USD", "12.50"),
        (5, "USD", "0.05"),
        (0, "USD", "0.00"),
        (1200, "JPY", "1200"),
        (1234, "BHD", "1.234"),
    ],
)
def test_minor_units_render_with_the_currency_places(minor, currency, text):
    assert money.to_major(minor, currency) == text
    assert money.to_minor(text, currency) == minor


def test_thousands_of_small_amounts_sum_exactly():
    # The float trap of PITFALLS.md: 1,000 x 0.10 must be exactly 100.00.
    total = sum(money.to_minor("0.10", "USD") for _ in range(1000))
    assert money.to_major(total, "USD") == "100.00"
