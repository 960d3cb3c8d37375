"""Merchants where other cards had confirmed fraud, point in time: a decision at T sees
only fraud reports filed before T, of fraud within window_days before T, counted by
distinct card."""

import pytest

from tests.authorizing import authorize_at, codes, factors
from tests.factories import TEST_ACTOR, CardFactory
from tests.fraud.clock import DAY, HOUR, NOW, SECOND, TICK
from tests.fraud.configuration import set_rule
from transactions.services import fraud_report_create

# Requests at the clock's NOW unless a test gives its own time (conftest.py `clock`).
authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db

# Decisions at T, two hours before the clock's NOW, so that reports can be filed after T.
T = NOW - 2 * HOUR
SHOP = "M-666"


def _fraud_at_shop(*, reported_at, card=None, at=T - DAY):
    """A purchase at SHOP on `card` (a new one by default), reported as fraud."""
    card = card or CardFactory(balance_minor=100_000)
    bought = authorize(card, merchant_id=SHOP, transaction_time=at)
    return fraud_report_create(transaction=bought, reason="Not me", actor=TEST_ACTOR, reported_at=reported_at)


def _decide_at_shop(card, **changes):
    return authorize(card, merchant_id=SHOP, transaction_time=T, **changes)


@pytest.mark.parametrize(("cards", "fires"), [(1, False), (2, True), (3, True)])
def test_a_merchant_with_fraud_on_two_cards_is_a_risk_factor(card, cards, fires):
    for _ in range(cards):
        _fraud_at_shop(reported_at=T - HOUR)
    decided = _decide_at_shop(card)
    assert ("reported_merchant" in codes(decided)) is fires
    if fires:
        assert factors(decided)["reported_merchant"] == {
            "code": "reported_merchant",
            "score": 35,
            "detail": f"{cards} cards had confirmed fraud at merchant M-666 in the last 90 days (from 2), "
            "100.0% of its latest transactions (from 2.0%).",
        }


def test_another_merchant_is_not_touched_by_these_reports(card):
    _fraud_at_shop(reported_at=T - HOUR)
    _fraud_at_shop(reported_at=T - HOUR)
    assert "reported_merchant" not in codes(authorize(card, merchant_id="M-1001", transaction_time=T))


def test_two_reports_on_one_card_are_one_card(card):
    victim = CardFactory(balance_minor=100_000)
    _fraud_at_shop(card=victim, reported_at=T - HOUR)
    _fraud_at_shop(card=victim, reported_at=T - HOUR, at=T - 2 * DAY)
    assert "reported_merchant" not in codes(_decide_at_shop(card))


@pytest.mark.parametrize(
    ("filed", "counts"),
    [(T - SECOND, True), (T - TICK, True), (T, False), (T + SECOND, False), (NOW, False)],
    ids=["a second before", "just before", "at the decision", "a second after", "hours after"],
)
def test_only_reports_filed_before_the_decision_count(card, filed, counts):
    _fraud_at_shop(reported_at=T - HOUR)
    _fraud_at_shop(reported_at=filed)
    assert ("reported_merchant" in codes(_decide_at_shop(card))) is counts


@pytest.mark.parametrize(("days_before", "counts"), [(90, True), (91, False)])
def test_only_fraud_within_the_window_counts(card, days_before, counts):
    _fraud_at_shop(reported_at=T - HOUR)
    _fraud_at_shop(reported_at=T - HOUR, at=T - days_before * DAY)
    assert ("reported_merchant" in codes(_decide_at_shop(card))) is counts


def test_the_number_of_cards_window_and_points_are_data(card):
    _fraud_at_shop(reported_at=T - HOUR, at=T - 10 * DAY)
    set_rule("reported_merchant", score=8, min_cards=1)
    assert factors(_decide_at_shop(card))["reported_merchant"]["detail"] == (
        "1 card had confirmed fraud at merchant M-666 in the last 90 days (from 1), "
        "100.0% of its latest transactions (from 2.0%)."
    )
    assert factors(_decide_at_shop(card))["reported_merchant"]["score"] == 8
    set_rule("reported_merchant", window_days=7)
    assert "reported_merchant" not in codes(_decide_at_shop(card))
    set_rule("reported_merchant", window_days=90, min_share=1)
    assert "reported_merchant" in codes(_decide_at_shop(card))  # all its sales: 100 %
    set_rule("reported_merchant", enabled=False)
    assert "reported_merchant" not in codes(_decide_at_shop(card))


@pytest.mark.parametrize(("honest_sales", "fires"), [(98, True), (99, False)])
def test_at_a_busy_merchant_the_fraud_must_also_be_a_share_of_its_sales(card, honest_sales, fires):
    for _ in range(2):
        _fraud_at_shop(reported_at=T - HOUR)
    regular = CardFactory(balance_minor=100_000_00)
    for n in range(honest_sales):
        authorize(regular, merchant_id=SHOP, amount_minor=1_00, transaction_time=T - 2 * DAY + n * SECOND)
    # 2 frauds of 100 sales is 2.0 %, the default min_share; of 101, below it.
    assert ("reported_merchant" in codes(_decide_at_shop(card))) is fires
