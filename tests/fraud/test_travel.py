"""Impossible travel: two card-present transactions in countries too far apart for the
time between them (country centroids, max_speed_kmh, min_distance_km)."""

import datetime
import math

import pytest

from fraud.geography import distance_km
from tests.authorizing import authorize_at, codes, factors
from tests.fraud.clock import HOUR, MINUTE, NOW, SECOND
from tests.fraud.configuration import set_rule

# Requests at the clock's NOW unless a test gives its own time (conftest.py `clock`).
authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db

US_FR_KM = distance_km("US", "FR")  # about 7,680 km between the centroids
# About 6 h 24 min: the time at exactly the default 1,200 km/h, rounded up to the microsecond.
AT_MAX_SPEED = datetime.timedelta(microseconds=math.ceil(US_FR_KM / 1200 * 3600 * 10**6))


def _in_us_then_france(card, elapsed, **changes):
    authorize(card, merchant_country="US", transaction_time=NOW - elapsed)
    return authorize(card, merchant_country="FR", **changes)


@pytest.mark.parametrize(
    ("elapsed", "fires"),
    [
        (AT_MAX_SPEED - MINUTE, True),
        (AT_MAX_SPEED, False),  # exactly the maximum speed is possible
        (AT_MAX_SPEED + MINUTE, False),
    ],
)
def test_travel_faster_than_the_maximum_speed_is_impossible(card, elapsed, fires):
    decided = _in_us_then_france(card, elapsed)
    assert ("impossible_travel" in codes(decided)) is fires


def test_impossible_travel_names_the_countries_distance_time_and_speed(card):
    decided = _in_us_then_france(card, 2 * HOUR)
    assert factors(decided)["impossible_travel"] == {
        "code": "impossible_travel",
        "score": 40,
        "detail": f"US to FR ({US_FR_KM:,.0f} km) in 2.0 h would need {US_FR_KM / 2:,.0f} km/h, "
        "above 1,200 km/h.",
    }
    # With the 10 points for being abroad, that is exactly the review threshold.
    assert (decided.risk_score, decided.risk_level, decided.flagged) == (50, "medium", True)


def test_two_countries_at_the_same_second_count_as_a_minute_apart(card):
    detail = factors(_in_us_then_france(card, 0 * SECOND))["impossible_travel"]["detail"]
    assert detail.startswith(f"US to FR ({US_FR_KM:,.0f} km) in 1 min would need {US_FR_KM * 60:,.0f} km/h")


def test_the_same_country_is_never_impossible_travel(card):
    authorize(card, merchant_country="FR", transaction_time=NOW - SECOND)
    assert "impossible_travel" not in codes(authorize(card, merchant_country="FR"))


def test_a_country_without_a_known_centroid_is_never_impossible_travel(card):
    assert distance_km("US", "CW") is None  # Curaçao: no centroid in countryinfo
    authorize(card, merchant_country="US", transaction_time=NOW - MINUTE)
    assert "impossible_travel" not in codes(authorize(card, merchant_country="CW"))


@pytest.mark.parametrize(("there", "here"), [("US", "CA"), ("US", "MX"), ("DE", "FR"), ("FR", "DE")])
def test_crossing_into_a_neighbouring_country_is_never_impossible_travel(card, there, here):
    # Centroids put Germany and France 758 km apart, but Kehl is minutes from Strasbourg.
    authorize(card, merchant_country=there, transaction_time=NOW - 10 * MINUTE)
    assert "impossible_travel" not in codes(authorize(card, merchant_country=here))


def test_online_purchases_say_nothing_about_where_the_card_is(card):
    authorize(card, merchant_country="US", transaction_time=NOW - HOUR)
    assert "impossible_travel" not in codes(authorize(card, merchant_country="FR", channel="ecommerce"))
    # and an online purchase abroad is no previous location either
    authorize(card, merchant_country="JP", channel="ecommerce", transaction_time=NOW + MINUTE)
    decided = authorize(card, merchant_country="US", transaction_time=NOW + 2 * MINUTE)
    assert "impossible_travel" not in codes(decided)


def test_the_latest_card_present_transaction_is_the_previous_location(card):
    authorize(card, merchant_country="US", transaction_time=NOW - 10 * HOUR)
    authorize(card, merchant_country="FR", transaction_time=NOW - HOUR)
    assert "impossible_travel" not in codes(authorize(card, merchant_country="FR"))


def test_a_later_transaction_is_no_previous_location(card):
    # Store-and-forward: the purchase in France at NOW arrives after one in the US at
    # NOW + 1 h; for the decision at NOW the US purchase has not happened yet.
    authorize(card, merchant_country="FR", transaction_time=NOW - 2 * HOUR)
    authorize(card, merchant_country="US", transaction_time=NOW + HOUR)
    assert "impossible_travel" not in codes(authorize(card, merchant_country="FR"))


def test_the_speed_distance_and_points_are_data(card):
    set_rule("impossible_travel", score=12, max_speed_kmh=5000)
    assert "impossible_travel" not in codes(_in_us_then_france(card, 2 * HOUR))
    set_rule("impossible_travel", max_speed_kmh=3000)
    decided = authorize(card, merchant_country="US", transaction_time=NOW + 2 * HOUR)
    assert factors(decided)["impossible_travel"]["score"] == 12
    set_rule("impossible_travel", min_distance_km=8000)
    assert "impossible_travel" not in codes(
        authorize(card, merchant_country="FR", transaction_time=NOW + 3 * HOUR)
    )
    set_rule("impossible_travel", min_distance_km=500, enabled=False)
    assert "impossible_travel" not in codes(
        authorize(card, merchant_country="US", transaction_time=NOW + 4 * HOUR)
    )
