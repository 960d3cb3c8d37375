"""The score: the sum of the fired rules' points, at most 100; its level and the
decision by FraudSettings' review and decline thresholds; what it shows analysts."""

import datetime
import json

import pytest

from cards.services import card_get_by_pan
from fraud import inference, scoring
from fraud.models import FraudAlert
from tests.authorizing import COFFEE_SHOP, URL, api_body, authorize_at, wrong_cvv
from tests.factories import CardFactory
from tests.fraud.clock import DAY, HOUR, MINUTE, NOW, SECOND
from tests.fraud.configuration import list_country, set_rule, set_settings
from transactions.signals import AuthorizationAttempt

# Requests at the clock's NOW unless a test gives its own time (conftest.py `clock`).
authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db


def _abroad_worth(card, points, **changes):
    """A purchase abroad, where foreign_country is worth `points` and fires alone."""
    set_rule("foreign_country", score=points)
    return authorize(card, merchant_country="FR", **changes)


@pytest.mark.parametrize(
    ("points", "code", "level", "flagged"),
    [
        (49, "00", "low", False),
        (50, "00", "medium", True),  # the review threshold: approved, flagged
        (79, "00", "medium", True),
        (80, "59", "high", True),  # the decline threshold: suspected fraud
        (100, "59", "high", True),
    ],
)
def test_the_thresholds_decide_level_review_and_decline(card, points, code, level, flagged):
    decided = _abroad_worth(card, points)
    assert (decided.risk_score, decided.response_code, decided.risk_level) == (points, code, level)
    assert decided.flagged is flagged
    assert FraudAlert.objects.filter(transaction=decided).exists() is flagged
    if code == "59":
        assert decided.reason == "suspected_fraud" and decided.status == "declined"


def test_changed_thresholds_apply_to_the_next_decision(card):
    assert _abroad_worth(card, 30).risk_level == "low"
    set_settings(review_threshold=30, decline_threshold=40)
    assert authorize(card, merchant_country="FR", transaction_time=NOW + MINUTE).risk_level == "medium"
    set_settings(decline_threshold=30)
    decided = authorize(card, merchant_country="FR", transaction_time=NOW + 2 * MINUTE)
    assert (decided.response_code, decided.risk_level) == ("59", "high")


def test_the_score_is_the_sum_of_the_fired_rules_points(card):
    decided = authorize(card, merchant_country="FR", mcc="7995", amount_minor=100_000)
    assert {f["code"]: f["score"] for f in decided.risk_factors} == {
        "amount_large": 20,
        "high_risk_mcc": 20,
        "foreign_country": 10,
    }
    assert decided.risk_score == 50


def test_the_score_stops_at_100(card):
    set_rule("foreign_country", score=90)
    set_rule("high_risk_mcc", score=90)
    decided = authorize(card, merchant_country="FR", mcc="7995")
    assert decided.risk_score == 100 and sum(f["score"] for f in decided.risk_factors) == 180


def test_factors_come_most_points_first_and_ties_by_code(card):
    list_country("NG")  # high_risk_country 30
    set_rule("foreign_country", score=20)
    decided = authorize(card, merchant_country="NG", mcc="7995", amount_minor=100_000)
    assert [(f["code"], f["score"]) for f in decided.risk_factors] == [
        ("high_risk_country", 30),
        ("amount_large", 20),
        ("foreign_country", 20),
        ("high_risk_mcc", 20),
    ]


def test_a_reason_that_decides_on_its_own_leads_the_factors(card):
    authorize(card, cvv=wrong_cvv(card), transaction_time=NOW - 3 * HOUR)
    authorize(card, cvv=wrong_cvv(card), transaction_time=NOW - 2 * HOUR)
    decided = authorize(card, cvv=wrong_cvv(card), mcc="7995", amount_minor=100_000)
    assert [(f["code"], f["score"]) for f in decided.risk_factors] == [
        ("cvv_failures_in_a_row", 0),
        ("cvv_mismatch", 30),
        ("amount_large", 20),
        ("high_risk_mcc", 20),
    ]


@pytest.mark.parametrize("explained", [False, True], ids=["authorize scope only", "with manage"])
def test_the_api_answers_the_score_level_and_factors(authorize_api, full_api, card, explained):
    set_rule("foreign_country", score=45)
    body = api_body(
        card,
        omit=("merchant_name", "channel"),
        amount="1000.00",
        merchant_country="FR",
        transaction_time=NOW.isoformat(),
    )
    response = (full_api if explained else authorize_api).post(URL, body, format="json")
    answer = response.json()
    assert (answer["status"], answer["response_code"], answer["risk_score"]) == ("approved", "00", 65)
    assert (answer["risk_level"], answer["flagged"]) == ("medium", True)
    details = {
        "foreign_country": "Merchant in FR, cardholder lives in US.",
        "amount_large": "Amount 1000.00 USD is at or above 1000.00 USD.",
    }
    # The details describe the cardholder: a merchant's authorize-only system never reads them.
    assert answer["risk_factors"] == [
        {"code": code, "score": score} | ({"detail": details[code]} if explained else {})
        for code, score in (("foreign_country", 45), ("amount_large", 20))
    ]


def _attempt(card, **changes) -> AuthorizationAttempt:
    """An attempt on the card as the authorization service reads it (with its holder)."""
    fields = {
        "card": card_get_by_pan(card.pan),
        "amount_minor": 4200,
        "currency": "USD",
        **COFFEE_SHOP,
        "transaction_time": NOW,
        "cvv_result": "match",
        **changes,
    }
    return AuthorizationAttempt(**fields)


def test_no_factor_or_feature_shows_the_card_number():
    card = CardFactory(cardholder__date_of_birth=datetime.date(2008, 1, 1), balance_minor=10_000_000)
    list_country("NG")
    set_rule("reported_merchant", min_cards=0, min_share=0)  # fires anywhere
    for code in ("merchant_card_testing", "bin_card_testing", "card_tested_at_merchant"):
        set_rule(code, min_failures=1)  # the card's own wrong CVV below is card testing
    for code in ("merchant_card_testing", "card_tested_at_merchant"):
        set_rule(code, min_failure_share=0.01)  # one failure among the purchases below
    set_rule("merchant_card_testing_small", min_failures=1, min_failure_share=0.01, max_amount_usd=100)
    authorize(card, cvv=wrong_cvv(card), transaction_time=NOW - 20 * SECOND)
    for days in range(1, 6):
        authorize(card, amount_minor=10_000, transaction_time=NOW - days * DAY)
    for seconds in range(10, 0, -1):
        authorize(card, transaction_time=NOW - seconds * SECOND)
    # How it was read and verified: a chip with a failed PIN, a stripe, taps, a known device.
    authorize(
        card, entry_mode="chip", cardholder_verification="pin_failed", transaction_time=NOW - 30 * SECOND
    )
    authorize(card, entry_mode="magstripe", transaction_time=NOW - 29 * SECOND)
    for seconds in (28, 27):  # at a department store
        authorize(
            card,
            mcc="5311",
            entry_mode="contactless",
            cardholder_verification="no_cvm",
            transaction_time=NOW - seconds * SECOND,
        )
    for h in (48, 49, 50):
        authorize(card, channel="ecommerce", device_hash="a-known-device", transaction_time=NOW - h * HOUR)
    stripe_abroad = scoring.assess(  # a stripe read abroad, the PIN failed, after the failed PIN above
        _attempt(
            card,
            merchant_id="M-LYON",
            merchant_country="FR",
            entry_mode="magstripe",
            cardholder_verification="pin_failed",
        )
    )
    tapped = scoring.assess(  # at a liquor store, after the taps above
        _attempt(
            card, merchant_id="M-NEW", mcc="5921", entry_mode="contactless", cardholder_verification="no_cvm"
        )
    )
    device_abroad = scoring.assess(  # 3-D Secure failed, from a device the card never bought from
        _attempt(
            card,
            merchant_id="M-WEB-FR",
            merchant_country="FR",
            channel="ecommerce",
            three_ds="failed",
            device_hash="another-device",
        )
    )
    online = scoring.assess(
        _attempt(
            card,
            amount_minor=900_000,
            mcc="7995",
            merchant_country="NG",
            channel="ecommerce",
            cvv_result="absent",
        )
    )
    in_person = scoring.assess(
        _attempt(card, merchant_country="JP", cvv_result="mismatch", bin_prefix=card.pan[:6])
    )
    new_abroad = scoring.assess(  # a wrong CVV at a merchant the card never used, abroad
        _attempt(card, merchant_id="M-TOKYO", merchant_country="JP", cvv_result="mismatch")
    )
    keyed_abroad = scoring.assess(  # the card number keyed in at a shop abroad
        _attempt(
            card,
            merchant_id="M-PARIS",
            merchant_country="FR",
            entry_mode="keyed",
            cardholder_verification="signature",
        )
    )
    assessments = (online, in_person, new_abroad, stripe_abroad, tapped, device_abroad, keyed_abroad)
    assert {f.code for assessment in assessments for f in assessment.factors} >= set(scoring.RULES)
    for assessment in assessments:
        shown = json.dumps([f.as_dict() for f in assessment.factors]) + json.dumps(assessment.features)
        assert card.pan not in shown and card.pan[6:-4] not in shown


def test_assessing_takes_one_query_once_the_configuration_is_read(card, django_assert_num_queries):
    attempt = _attempt(card)
    scoring.load_config()
    inference.active_model()
    # The card's windows and first uses beside the merchant's and the BIN's windows and
    # reports, in one statement.
    with django_assert_num_queries(1):
        scoring.assess(attempt)


def test_a_wrong_cvv_adds_one_query_for_the_streak(card, django_assert_num_queries):
    attempt = _attempt(card, cvv_result="mismatch")
    scoring.load_config()
    inference.active_model()
    with django_assert_num_queries(2):
        scoring.assess(attempt)
