"""The card-testing windows of the two feature statements (transactions/queries.py)
beside their ORM twins (tests/query_twins.py), with windows of their own: failed card
checks counted once per card, unknown numbers each time, the edges of every window."""

import random

import pytest

from tests.factories import CardFactory
from tests.query_twins import (
    APPROVED,
    AT,
    DAY,
    DECLINED,
    HOUR,
    MINUTE,
    REVERSED,
    TICK,
    card_history_twin,
    cross_card_twin,
    record,
)
from transactions.cross_card_queries import cross_card_row
from transactions.models import Transaction
from transactions.queries import card_history_row

pytestmark = pytest.mark.django_db

MERCHANT, BIN, TESTED = 20 * MINUTE, 2 * HOUR, 6 * HOUR
# A failed check is declined (response code N7 or 54), as the authorization records it.
WRONG_CVV = {"cvv_result": Transaction.CvvResult.MISMATCH, "status": DECLINED}
WRONG_EXPIRY = {
    "cvv_result": Transaction.CvvResult.UNCHECKED,
    "expiry_result": Transaction.ExpiryResult.MISMATCH,
    "status": DECLINED,
}


def _random_checks(rng, cards, count=120):
    for _ in range(count):
        record(
            rng.choice(cards),
            at=AT - rng.uniform(-0.1, 1.2) * rng.choice([MERCHANT, BIN, TESTED]),
            status=rng.choice([APPROVED, DECLINED, REVERSED]),
            merchant_id=rng.choice(["M-1", "M-2"]),
            bin_prefix=rng.choice(["400000", "510000"]),
            cvv_result=rng.choice(list(Transaction.CvvResult)),
            expiry_result=rng.choice(list(Transaction.ExpiryResult)),
        )


def _edges(card):
    """A failed check on each window's first instant (in) and the tick before it (out)."""
    for window in (MERCHANT, BIN, TESTED):
        record(card, at=AT - window, merchant_id="M-1", **WRONG_EXPIRY)
        record(CardFactory(), at=AT - window - TICK, merchant_id="M-1", **WRONG_CVV)


@pytest.mark.parametrize(("cap", "seed"), [(1000, 1), (1000, 2), (7, 3)], ids=["real cap", "real cap", "cut"])
def test_the_card_testing_windows_across_cards_give_what_the_orm_gives(cap, seed):
    cards = [CardFactory(), CardFactory(), CardFactory(), None]  # None: made-up numbers
    _random_checks(random.Random(seed), cards)
    _edges(cards[0])
    arguments = {
        "merchant_id": "M-1",
        "bin_prefix": "400000",
        "at": AT,
        "fraud_window": 90 * DAY,
        "cap": cap,
        "sample": 5000,
        "merchant_window": MERCHANT,
        "bin_window": BIN,
        "tested_window": TESTED,
    }

    ours, twin = cross_card_row(**arguments), cross_card_twin(**arguments)

    assert ours == twin
    if cap == 1000:
        # Four known cards (each once) at most, and the made-up numbers each time.
        assert 0 < ours["merchant_testing_failures"] <= ours["merchant_failures_long"]
        assert ours["merchant_testing_attempts"] >= ours["merchant_testing_declines"]
        # The tested-card window is the longest: it holds the card-testing window's rows.
        assert ours["merchant_attempts_long"] > ours["merchant_testing_attempts"]


def test_failed_checks_count_each_card_once_and_each_unknown_number_every_time(card):
    for _ in range(3):
        record(card, at=AT - MINUTE, **WRONG_CVV)
    record(card, at=AT - MINUTE, **WRONG_EXPIRY)
    for _ in range(2):
        record(None, at=AT - MINUTE, status=DECLINED)
    record(CardFactory(), at=AT - MINUTE)  # a right check: no failure
    arguments = {"merchant_id": "M-1", "bin_prefix": "400000", "at": AT, "fraud_window": 90 * DAY}
    arguments |= {"cap": 1000, "sample": 5000, "merchant_window": MERCHANT, "bin_window": BIN}

    ours, twin = cross_card_row(**arguments), cross_card_twin(**arguments)

    assert ours == twin
    assert ours["merchant_testing_failures"] == ours["bin_testing_failures"] == 1 + 2
    assert ours["merchant_testing_attempts"] == 7 and ours["merchant_testing_declines"] == 6


@pytest.mark.parametrize("seed", [1, 2])
def test_the_cards_own_failures_at_the_merchant_give_what_the_orm_gives(card, seed):
    _random_checks(random.Random(seed), [card])
    _edges(card)
    arguments = {
        "card_id": card.pk,
        "at": AT,
        "merchant_id": "M-1",
        "merchant_country": "US",
        "mcc": "5814",
        "channel": Transaction.Channel.POS,
        "utc_offset_minutes": 0,
        "night_ends_minute": 6 * 60,
        "tested_window": TESTED,
    }

    ours, twin = card_history_row(**arguments), card_history_twin(**arguments)

    assert ours == twin
    assert ours["failures_at_merchant"] > 0
