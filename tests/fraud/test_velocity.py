"""Velocity rules on explicit transaction times: windows reach back exactly one minute,
hour or 24 hours (inclusive), count the attempt itself once, and never count a
transaction with a later time (store-and-forward recorded before an earlier one)."""

import pytest

from tests.authorizing import authorize_at, codes, factors, wrong_cvv
from tests.factories import TEST_ACTOR
from tests.fraud.clock import DAY, HOUR, MINUTE, NOW, SECOND, TICK
from tests.fraud.configuration import set_rule
from transactions.services import authorization_reverse

# Requests at the clock's NOW unless a test gives its own time (conftest.py `clock`).
authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db


def _earlier(card, *offsets, **changes):
    """Record transactions at NOW minus each offset."""
    for offset in offsets:
        authorize(card, transaction_time=NOW - offset, **changes)


# --- Count ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offsets", "fires"),
    [
        ((30 * SECOND, 20 * SECOND), False),  # the 3rd in a minute: not more than 3
        ((30 * SECOND, 20 * SECOND, 10 * SECOND), True),  # the 4th
        ((MINUTE, 20 * SECOND, 10 * SECOND), True),  # exactly a minute ago is within the minute
        ((MINUTE + TICK, 20 * SECOND, 10 * SECOND), False),
    ],
)
def test_more_than_three_transactions_in_a_minute(card, offsets, fires):
    _earlier(card, *offsets)
    decided = authorize(card)
    assert ("velocity_count" in codes(decided)) is fires
    if fires:
        assert factors(decided)["velocity_count"] == {
            "code": "velocity_count",
            "score": 25,
            "detail": "4 transactions on this card in the last minute, more than 3.",
        }


@pytest.mark.parametrize(
    ("oldest", "fires"),
    [(HOUR, True), (HOUR + TICK, False)],
)
def test_more_than_ten_transactions_in_an_hour(card, oldest, fires):
    _earlier(card, oldest, *(k * 5 * MINUTE for k in range(1, 10)))  # 10 earlier, 5 minutes apart
    decided = authorize(card)
    assert ("velocity_count" in codes(decided)) is fires
    if fires:
        assert factors(decided)["velocity_count"]["detail"] == (
            "11 transactions on this card in the last hour, more than 10."
        )


@pytest.mark.parametrize(("oldest", "fires"), [(DAY, True), (DAY + TICK, False)])
def test_more_than_thirty_transactions_in_24_hours(card, oldest, fires):
    _earlier(card, oldest, *(k * 45 * MINUTE for k in range(1, 30)))  # 30 earlier
    decided = authorize(card)
    assert ("velocity_count" in codes(decided)) is fires
    if fires:
        assert factors(decided)["velocity_count"]["detail"] == (
            "31 transactions on this card in the last 24 hours, more than 30."
        )


def test_declined_attempts_count_toward_velocity(card):
    _earlier(card, 30 * SECOND, 20 * SECOND, 10 * SECOND, cvv=wrong_cvv(card))
    assert "velocity_count" in codes(authorize(card))


def test_transactions_with_a_later_time_do_not_count_toward_an_earlier_decision(card):
    # Store-and-forward: three transactions of 11:59:10-11:59:30 arrive first, then the
    # one of 11:59:00.
    for seconds in (10, 20, 30):
        authorize(card, transaction_time=NOW - MINUTE + seconds * SECOND)
    decided = authorize(card, transaction_time=NOW - MINUTE)
    assert decided.risk_factors == []


def test_a_burst_within_one_second_counts(card):
    # Acquirers often send whole seconds: earlier attempts at the very same time count.
    _earlier(card, 0 * SECOND, 0 * SECOND, 0 * SECOND)
    assert "velocity_count" in codes(authorize(card))


def test_the_velocity_limits_and_points_are_data(card):
    set_rule("velocity_count", score=11, per_minute=1)
    _earlier(card, 10 * SECOND)
    assert factors(authorize(card))["velocity_count"] == {
        "code": "velocity_count",
        "score": 11,
        "detail": "2 transactions on this card in the last minute, more than 1.",
    }
    set_rule("velocity_count", enabled=False)
    assert "velocity_count" not in codes(authorize(card, transaction_time=NOW + SECOND))


# --- Amount --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount_minor", "fires"), [(50_000, False), (50_001, True)])
def test_spending_above_twice_the_large_amount_in_an_hour(card, amount_minor, fires):
    authorize(card, amount_minor=150_000, transaction_time=NOW - HOUR)  # exactly an hour ago
    decided = authorize(card, amount_minor=amount_minor)
    assert ("velocity_amount" in codes(decided)) is fires
    if fires:
        assert factors(decided)["velocity_amount"] == {
            "code": "velocity_amount",
            "score": 20,
            "detail": "1500.00 USD approved in the last hour plus 500.01 USD makes 2000.01 USD, "
            "above 2000.00 USD.",
        }


def test_spending_more_than_an_hour_ago_is_not_spending_in_the_hour(card):
    authorize(card, amount_minor=150_000, transaction_time=NOW - HOUR - TICK)
    assert "velocity_amount" not in codes(authorize(card, amount_minor=60_000))


@pytest.mark.parametrize(("amount_minor", "fires"), [(100_000, False), (100_001, True)])
def test_spending_above_five_times_the_large_amount_in_24_hours(card, amount_minor, fires):
    _earlier(card, DAY, 20 * HOUR, 10 * HOUR, 2 * HOUR, amount_minor=100_000)  # 4000.00
    decided = authorize(card, amount_minor=amount_minor)
    assert ("velocity_amount" in codes(decided)) is fires
    if fires:
        assert factors(decided)["velocity_amount"]["detail"] == (
            "4000.00 USD approved in the last 24 hours plus 1000.01 USD makes 5000.01 USD, above 5000.00 USD."
        )


def test_declined_and_reversed_amounts_are_not_spending(card):
    authorize(card, amount_minor=150_000, cvv=wrong_cvv(card), transaction_time=NOW - 30 * MINUTE)
    approved = authorize(card, amount_minor=150_000, transaction_time=NOW - 20 * MINUTE)
    authorization_reverse(transaction=approved, actor=TEST_ACTOR)
    assert "velocity_amount" not in codes(authorize(card, amount_minor=100_000))


def test_the_spending_multiples_are_data(card):
    set_rule("velocity_amount", score=4, hour_multiple=0.5)
    decided = authorize(card, amount_minor=50_001)
    assert factors(decided)["velocity_amount"]["score"] == 4
    set_rule("velocity_amount", enabled=False)
    assert "velocity_amount" not in codes(authorize(card, amount_minor=50_001, transaction_time=NOW + SECOND))


# --- Large amount during a burst -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earlier", "amount_minor", "fires"),
    [
        ((10 * MINUTE, 5 * MINUTE), 50_000, True),  # the 3rd in the hour, half the large amount
        ((10 * MINUTE, 5 * MINUTE), 49_999, False),
        ((5 * MINUTE,), 50_000, False),  # only the 2nd
        ((HOUR, 5 * MINUTE), 50_000, True),
        ((HOUR + TICK, 5 * MINUTE), 50_000, False),
    ],
)
def test_a_large_amount_during_a_burst(card, earlier, amount_minor, fires):
    _earlier(card, *earlier)
    decided = authorize(card, amount_minor=amount_minor)
    assert ("large_amount_velocity" in codes(decided)) is fires
    if fires:
        assert factors(decided)["large_amount_velocity"] == {
            "code": "large_amount_velocity",
            "score": 20,
            "detail": "Amount 500.00 USD (from 500.00 USD) as one of 3 transactions in the last hour "
            "(from 3).",
        }


def test_the_burst_size_amount_and_points_are_data(card):
    set_rule("large_amount_velocity", score=3, per_hour=1, amount_fraction=0.1)
    assert factors(authorize(card, amount_minor=10_000))["large_amount_velocity"]["score"] == 3
    set_rule("large_amount_velocity", enabled=False)
    decided = authorize(card, amount_minor=10_000, transaction_time=NOW + SECOND)
    assert "large_amount_velocity" not in codes(decided)
