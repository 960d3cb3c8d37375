"""The card's history as the rules see it, point in time."""

import pytest

from fraud import features
from tests.fraud.authorizations import DAY, HOUR, MINUTE, NOW, SECOND, authorize, wrong_cvv

pytestmark = pytest.mark.django_db


def test_the_history_ends_at_the_decision_time_inclusive(card):
    authorize(card, amount_minor=1_000, transaction_time=NOW - 30 * SECOND)
    authorize(card, amount_minor=2_000, transaction_time=NOW)
    authorize(card, amount_minor=4_000, transaction_time=NOW + SECOND)  # later: not yet
    activity = features.card_activity(card, NOW)
    assert (activity.count_1m, activity.count_1h, activity.count_24h) == (2, 2, 2)
    assert (activity.approved_amount_1h, activity.approved_count_30d) == (3_000, 2)


def test_counts_are_of_every_attempt_and_amounts_of_approvals(card):
    authorize(card, amount_minor=1_000, transaction_time=NOW - 2 * HOUR)
    authorize(card, amount_minor=5_000, cvv=wrong_cvv(card), transaction_time=NOW - MINUTE)
    activity = features.card_activity(card, NOW)
    assert (activity.count_1h, activity.count_24h) == (1, 2)
    assert (activity.approved_amount_1h, activity.approved_amount_24h) == (0, 1_000)
    assert activity.average_amount_30d == 1_000


def test_an_empty_history_has_no_average_and_no_previous_country(card):
    activity = features.card_activity(card, NOW)
    assert activity.average_amount_30d is None and activity.previous_country is None


def test_the_previous_country_is_the_latest_card_present_one(card):
    authorize(card, merchant_country="FR", channel="atm", transaction_time=NOW - DAY)
    authorize(card, merchant_country="JP", channel="ecommerce", transaction_time=NOW - HOUR)
    authorize(card, merchant_country="DE", channel="moto", transaction_time=NOW - MINUTE)
    activity = features.card_activity(card, NOW)
    assert (activity.previous_country, activity.previous_time) == ("FR", NOW - DAY)
