"""Each rule of the first rule set at its threshold edges, through the authorization
service: below the edge it is silent, at the edge it fires with its points and a
detail naming the numbers; disabled it is silent; its points and params are data."""

import datetime

import pytest

from tests.authorizing import authorize_at, codes, factors, wrong_cvv
from tests.factories import BinFactory, CardFactory
from tests.fraud.clock import DAY, NOW
from tests.fraud.configuration import go_live, list_country, list_mcc, set_rule

# Requests at the clock's NOW unless a test gives its own time (conftest.py `clock`).
authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db


def test_an_ordinary_purchase_fires_no_rule(card):
    decided = authorize(card)
    assert (decided.response_code, decided.risk_score, decided.risk_level) == ("00", 0, "low")
    assert decided.risk_factors == [] and not decided.flagged


# --- CVV ------------------------------------------------------------------------------------


def test_a_wrong_cvv_declines_with_n7_and_scores_its_points(card):
    decided = authorize(card, cvv=wrong_cvv(card))
    assert decided.response_code == "N7"
    assert factors(decided)["cvv_mismatch"] == {
        "code": "cvv_mismatch",
        "score": 30,
        "detail": "The CVV given does not match the card.",
    }
    assert decided.risk_score == 30


def test_a_disabled_cvv_rule_adds_no_points_but_the_wrong_cvv_still_declines(card):
    set_rule("cvv_mismatch", enabled=False)
    decided = authorize(card, cvv=wrong_cvv(card))
    assert decided.response_code == "N7" and decided.risk_score == 0


@pytest.mark.parametrize(
    ("channel", "cvv_given", "fires"),
    [("ecommerce", False, True), ("ecommerce", True, False), ("pos", False, False), ("moto", False, False)],
)
def test_a_missing_cvv_counts_only_online(card, channel, cvv_given, fires):
    decided = authorize(card, channel=channel, cvv=card.cvv if cvv_given else None)
    assert ("cvv_absent_ecommerce" in codes(decided)) is fires
    if fires:
        assert factors(decided)["cvv_absent_ecommerce"]["score"] == 15


def test_a_disabled_missing_cvv_rule_stays_silent(card):
    set_rule("cvv_absent_ecommerce", enabled=False)
    assert authorize(card, channel="ecommerce", cvv=None).risk_factors == []


# --- Large amount ------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount_minor", "fires"), [(99_999, False), (100_000, True), (100_001, True)])
def test_a_large_amount_fires_from_the_threshold_on(card, amount_minor, fires):
    decided = authorize(card, amount_minor=amount_minor)
    assert ("amount_large" in codes(decided)) is fires
    if fires:
        assert factors(decided)["amount_large"]["score"] == 20
        assert factors(decided)["amount_large"]["detail"] == (
            f"Amount {amount_minor // 100}.{amount_minor % 100:02d} USD is at or above 1000.00 USD."
        )


@pytest.fixture
def yen_card(db):
    return CardFactory(
        bin=BinFactory(currency="JPY", country="JP"), cardholder__country="JP", balance_minor=10_000_000
    )


@pytest.mark.parametrize(("amount_minor", "fires"), [(149_999, False), (150_000, True)])
def test_a_large_amount_in_yen_uses_the_yen_threshold(yen_card, amount_minor, fires):
    decided = authorize(yen_card, amount_minor=amount_minor, merchant_country="JP")
    assert ("amount_large" in codes(decided)) is fires
    if fires:
        assert factors(decided)["amount_large"]["detail"] == "Amount 150000 JPY is at or above 150000 JPY."


def test_the_large_amount_threshold_and_points_are_data(card, yen_card):
    set_rule("amount_large", score=33, threshold="500", per_currency={"JPY": "1000"})
    assert factors(authorize(card, amount_minor=49_999)) == {}
    usd = authorize(card, amount_minor=50_000)
    assert factors(usd)["amount_large"]["score"] == 33 and usd.risk_score == 33
    assert "amount_large" in codes(authorize(yen_card, amount_minor=1000, merchant_country="JP"))


def test_a_disabled_large_amount_rule_stays_silent(card):
    set_rule("amount_large", enabled=False)
    assert "amount_large" not in codes(authorize(card, amount_minor=500_000))


def test_a_disabled_large_amount_rule_still_sets_the_yardstick_in_yen(yen_card):
    # The other rules measure amounts against the large amount; disabling amount_large
    # must not drop JPY back to a 1000 yen yardstick (7 USD), or every purchase would
    # look like heavy spending.
    set_rule("amount_large", enabled=False)
    authorize(yen_card, amount_minor=2000, merchant_country="JP", transaction_time=NOW - DAY / 48)
    decided = authorize(yen_card, amount_minor=2000, merchant_country="JP")
    assert decided.risk_factors == []


# --- Unusual amount for the card -----------------------------------------------------------


def _history(card, amounts, *, start=NOW - 2 * DAY):
    for i, amount in enumerate(amounts):
        authorize(card, amount_minor=amount, transaction_time=start + i * datetime.timedelta(minutes=5))


@pytest.mark.parametrize(("amount_minor", "fires"), [(4_999, False), (5_000, True)])
def test_an_unusual_amount_fires_at_the_multiple_of_the_average(card, amount_minor, fires):
    _history(card, [1_000] * 5)
    decided = authorize(card, amount_minor=amount_minor)
    assert ("amount_unusual" in codes(decided)) is fires
    if fires:
        assert factors(decided)["amount_unusual"] == {
            "code": "amount_unusual",
            "score": 25,
            "detail": "Amount 50.00 USD is 5.00 times this card's 30-day average of 10.00 USD "
            "over 5 approvals (fires from 5 times).",
        }


@pytest.mark.parametrize(("amount_minor", "fires"), [(1_666, False), (1_667, True)])
def test_an_unusual_amount_is_exact_at_an_average_with_no_exact_cents(card, amount_minor, fires):
    set_rule("amount_unusual", min_history=3)
    _history(card, [333, 333, 334])  # 10.00 over 3: five times the average is 16.666...
    assert ("amount_unusual" in codes(authorize(card, amount_minor=amount_minor))) is fires


@pytest.mark.parametrize(("approvals", "fires"), [(4, False), (5, True)])
def test_an_unusual_amount_needs_the_minimum_history(card, approvals, fires):
    _history(card, [1_000] * approvals)
    assert ("amount_unusual" in codes(authorize(card, amount_minor=10_000))) is fires


def test_an_unusual_amount_counts_only_approvals_of_the_last_30_days(card):
    _history(card, [1_000] * 5, start=NOW - 30 * DAY - datetime.timedelta(hours=1))
    authorize(card, amount_minor=1_000, cvv=wrong_cvv(card), transaction_time=NOW - DAY)  # a decline
    assert "amount_unusual" not in codes(authorize(card, amount_minor=10_000))


def test_an_unusual_amount_on_a_card_without_history_divides_by_nothing(card):
    set_rule("amount_unusual", min_history=0)
    assert authorize(card, amount_minor=10_000).risk_factors == []


@pytest.mark.parametrize(("amount_minor", "fires"), [(2_499, False), (2_500, True)])
def test_the_unusual_amount_multiple_and_points_are_data(card, amount_minor, fires):
    _history(card, [1_000] * 5)
    set_rule("amount_unusual", score=7, multiple=2.5)
    decided = authorize(card, amount_minor=amount_minor)
    assert factors(decided).get("amount_unusual", {}).get("score") == (7 if fires else None)


def test_a_disabled_unusual_amount_rule_stays_silent(card):
    _history(card, [1_000] * 5)
    set_rule("amount_unusual", enabled=False)
    assert "amount_unusual" not in codes(authorize(card, amount_minor=90_000))


# --- Cardholder age ----------------------------------------------------------------------------


def _card_born(day: datetime.date):
    return CardFactory(cardholder__date_of_birth=day, balance_minor=10_000_000)


@pytest.mark.parametrize(
    ("born", "fires", "band"),
    [
        (datetime.date(2005, 6, 16), True, "aged 20 (under 21)"),  # 21 tomorrow
        (datetime.date(2005, 6, 15), False, ""),  # 21 today
        (datetime.date(1951, 6, 16), False, ""),  # 74, 75 tomorrow
        (datetime.date(1951, 6, 15), True, "aged 75 (75 or older)"),  # 75 today
    ],
)
def test_a_very_young_or_very_old_cardholder_spending_half_the_large_amount(born, fires, band):
    decided = authorize(_card_born(born), amount_minor=50_000)
    assert ("cardholder_age" in codes(decided)) is fires
    if fires:
        assert factors(decided)["cardholder_age"] == {
            "code": "cardholder_age",
            "score": 15,
            "detail": f"Cardholder {band} spending 500.00 USD (from 500.00 USD).",
        }


def test_a_young_cardholder_spending_below_half_the_large_amount_is_ordinary(db):
    assert authorize(_card_born(datetime.date(2008, 1, 1)), amount_minor=49_999).risk_factors == []


def test_the_age_bands_amount_and_points_are_data(db):
    card = _card_born(datetime.date(1955, 1, 1))  # 71
    set_rule("cardholder_age", score=9, old_from=70, amount_fraction=0.1)
    decided = authorize(card, amount_minor=10_000)
    assert factors(decided)["cardholder_age"]["score"] == 9
    assert (
        "aged 71 (70 or older) spending 100.00 USD (from 100.00 USD)"
        in (factors(decided)["cardholder_age"]["detail"])
    )
    set_rule("cardholder_age", enabled=False)
    assert "cardholder_age" not in codes(authorize(card, amount_minor=10_000))


# --- Countries ---------------------------------------------------------------------------------


def test_a_purchase_abroad_adds_a_little_and_ordinary_travel_is_not_reviewed(card):
    decided = authorize(card, merchant_country="FR")
    assert factors(decided)["foreign_country"] == {
        "code": "foreign_country",
        "score": 10,
        "detail": "Merchant in FR, cardholder lives in US.",
    }
    assert (decided.response_code, decided.risk_level, decided.flagged) == ("00", "low", False)


def test_a_disabled_foreign_country_rule_stays_silent(card):
    set_rule("foreign_country", enabled=False)
    assert authorize(card, merchant_country="FR").risk_factors == []


def test_a_high_risk_country_adds_its_points(card):
    list_country("NG")
    decided = authorize(card, merchant_country="NG")
    assert factors(decided)["high_risk_country"] == {
        "code": "high_risk_country",
        "score": 30,
        "detail": "Merchant country NG is on the high-risk list.",
    }
    set_rule("high_risk_country", score=5)
    assert factors(authorize(card, merchant_country="NG"))["high_risk_country"]["score"] == 5
    set_rule("high_risk_country", enabled=False)
    assert "high_risk_country" not in codes(authorize(card, merchant_country="NG"))


def test_a_blocked_country_is_not_permitted(card):
    decided = authorize(card, merchant_country="KP")  # blocked by default
    assert (decided.response_code, decided.reason) == ("57", "transaction_not_permitted")
    assert decided.risk_factors[0] == {
        "code": "blocked_country",
        "score": 0,
        "detail": "Merchant country KP is blocked.",
    }


def test_a_country_moved_to_the_blocked_list_is_blocked_at_the_next_decision(card):
    entry = list_country("NG")
    assert authorize(card, merchant_country="NG").response_code == "00"
    entry.level = "blocked"
    entry.save()
    go_live()
    assert authorize(card, merchant_country="NG").response_code == "57"
    entry.delete()
    go_live()
    assert codes(authorize(card, merchant_country="NG")) == ["foreign_country"]


# --- Merchant categories -------------------------------------------------------------------------


def test_a_high_risk_merchant_category_adds_its_points(card):
    decided = authorize(card, mcc="7995")  # gambling, high risk by default
    assert factors(decided)["high_risk_mcc"] == {
        "code": "high_risk_mcc",
        "score": 20,
        "detail": "Merchant category 7995 is on the high-risk list.",
    }
    assert "high_risk_mcc" not in codes(authorize(card, mcc="5814"))
    set_rule("high_risk_mcc", enabled=False)
    assert "high_risk_mcc" not in codes(authorize(card, mcc="7995"))


def test_a_blocked_merchant_category_is_not_permitted(card):
    list_mcc("7995", level="blocked")
    decided = authorize(card, mcc="7995")
    assert decided.response_code == "57"
    assert decided.risk_factors == [
        {"code": "blocked_mcc", "score": 0, "detail": "Merchant category 7995 is blocked."}
    ]
