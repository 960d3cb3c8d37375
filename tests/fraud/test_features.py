"""The behavioural features a decision stores, each with its window edges, point in time.

Decisions go through the real service; each test reads the features the decision
stored (`risk_features`), as the analyst and the model see them.
"""

import datetime
import json

import pytest

from cardsystem.audit import Actor
from cardsystem.card_numbers import luhn_check_digit
from fraud import catalogue, features
from tests.authorizing import authorize_at, wrong_cvv
from tests.factories import CardFactory, CardholderFactory
from tests.fraud.clock import DAY, HOUR, MINUTE, NOW, SECOND, TICK
from transactions.cross_card_queries import window_bounds
from transactions.services import fraud_report_create
from transactions.signals import AuthorizationAttempt

# Requests at the clock's NOW unless a test gives its own time (conftest.py `clock`).
authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db

ANALYST = Actor.system("test")


def stored(card, **changes) -> dict:
    """The features of a 42.00 attempt at NOW (or as `changes` say), as stored with it."""
    return authorize(card, **changes).risk_features


def test_every_catalogued_feature_is_stored_as_plain_json(card):
    authorize(card, transaction_time=NOW - HOUR)
    values = stored(card)
    assert set(values) == set(catalogue.NAMES) | set(catalogue.RULE_INPUT_NAMES)
    assert json.loads(json.dumps(values)) == values
    assert all(
        v is None or isinstance(v, bool | int | float) for k, v in values.items() if k in catalogue.NAMES
    )
    # The rules' own inputs add a country and a time (ISO 8601) as text.
    assert all(v is None or isinstance(v, bool | int | float | str) for v in values.values())


@pytest.mark.parametrize(
    ("name", "window"),
    [
        ("card_count_10m", 10 * MINUTE),
        ("card_count_1h", HOUR),
        ("card_count_24h", DAY),
        ("card_count_7d", 7 * DAY),
        ("card_count_30d", 30 * DAY),
    ],
)
def test_card_counts_start_at_the_window_inclusive_and_end_at_the_attempt(card, name, window):
    authorize(card, transaction_time=NOW - window - TICK)  # just outside
    authorize(card, transaction_time=NOW - window)  # on the edge: in
    authorize(card, transaction_time=NOW)  # the same time, recorded earlier: in
    authorize(card, transaction_time=NOW + SECOND)  # later: not yet
    assert stored(card)[name] == 2


@pytest.mark.parametrize(
    ("name", "window"),
    [
        ("card_spend_10m_usd", 10 * MINUTE),
        ("card_spend_1h_usd", HOUR),
        ("card_spend_24h_usd", DAY),
        ("card_spend_7d_usd", 7 * DAY),
        ("card_spend_30d_usd", 30 * DAY),
    ],
)
def test_card_spend_sums_approvals_only_within_the_window(card, name, window):
    authorize(card, amount_minor=100_00, transaction_time=NOW - window - TICK)
    authorize(card, amount_minor=10_00, transaction_time=NOW - window)
    authorize(card, amount_minor=1_00, cvv=wrong_cvv(card), transaction_time=NOW - SECOND)  # declined
    assert stored(card)[name] == 10.0


def test_amounts_are_in_approximate_dollars_whatever_the_currency():
    yen_card = CardFactory(bin__currency="JPY", balance_minor=10_000_000)
    authorize(yen_card, amount_minor=15_000, transaction_time=NOW - HOUR)  # 15,000 yen
    values = stored(yen_card, amount_minor=30_000)
    assert values["amount_usd"] == 200.0 and values["card_spend_24h_usd"] == 100.0


def test_a_currency_without_a_dollar_rate_is_not_compared_in_dollars():
    dinar_card = CardFactory(bin__currency="BHD", balance_minor=10_000_000)  # 3 decimal places
    values = stored(dinar_card, amount_minor=5_000)
    assert values["amount_usd"] is None and values["card_spend_24h_usd"] is None
    assert values["card_count_24h"] == 0  # the rest as ever
    assert catalogue.format_value("amount_usd", None) == "no dollar rate for this currency"


def test_the_amount_is_compared_with_the_cards_30_day_average_and_spread(card):
    for amount in (10_00, 30_00):
        authorize(card, amount_minor=amount, transaction_time=NOW - DAY)
    authorize(card, amount_minor=1_000_00, transaction_time=NOW - 30 * DAY - TICK)  # too old
    values = stored(card, amount_minor=60_00)
    # mean 20.00, population deviation 10.00: 60.00 is 3 times the mean, 4 deviations above.
    assert (values["amount_to_mean"], values["amount_zscore"]) == (3.0, 4.0)


def test_a_card_that_always_spends_the_same_still_has_a_spread_of_a_tenth(card):
    for _ in range(3):
        authorize(card, amount_minor=20_00, transaction_time=NOW - DAY)
    assert stored(card, amount_minor=22_00)["amount_zscore"] == 1.0


def test_a_card_without_approvals_has_nothing_to_compare_with(card):
    authorize(card, cvv=wrong_cvv(card), transaction_time=NOW - HOUR)
    values = stored(card)
    assert values["amount_to_mean"] is None and values["amount_zscore"] is None
    assert values["night_share_30d"] is None and values["card_count_1h"] == 1


def test_first_uses_are_of_merchant_country_category_and_channel(card):
    fresh = stored(card, transaction_time=NOW - DAY)
    assert all(fresh[f"first_{kind}"] for kind in ("merchant", "country", "mcc", "channel"))
    again = stored(card)
    assert not any(again[f"first_{kind}"] for kind in ("merchant", "country", "mcc", "channel"))
    elsewhere = stored(card, merchant_id="M-2002", merchant_country="FR", mcc="5411", channel="ecommerce")
    assert all(elsewhere[f"first_{kind}"] for kind in ("merchant", "country", "mcc", "channel"))


def test_first_use_looks_back_past_30_days(card):
    authorize(card, transaction_time=NOW - 300 * DAY)
    assert stored(card)["first_merchant"] is False


def test_a_decline_or_a_later_transaction_is_not_a_use(card):
    authorize(card, cvv=wrong_cvv(card), transaction_time=NOW - DAY)
    authorize(card, transaction_time=NOW + HOUR)
    assert stored(card)["first_merchant"] is True


def test_time_and_distance_since_the_previous_transaction(card):
    assert stored(card, transaction_time=NOW - 3 * HOUR)["hours_since_last"] is None
    authorize(card, channel="ecommerce", merchant_country="JP", transaction_time=NOW - 2 * HOUR)
    values = stored(card, merchant_country="GB")
    assert values["hours_since_last"] == 2.0  # any channel
    # The distance and speed are from the previous card-present country (US, 3 hours ago).
    assert 6_000 < values["km_from_last"] < 7_500
    assert values["kmh_from_last"] == round(values["km_from_last"] / 3)


def test_distance_from_the_last_is_for_card_present_attempts_only(card):
    authorize(card, transaction_time=NOW - HOUR)
    values = stored(card, channel="ecommerce", merchant_country="GB")
    assert values["km_from_last"] is None and values["kmh_from_last"] is None


def test_night_is_midnight_to_six_at_the_cardholders_home():
    # The cardholder lives in the US: America/New_York, 4 hours behind UTC in June.
    card = CardFactory(balance_minor=100_000_00)
    assert stored(card, transaction_time=NOW.replace(hour=3, minute=59))["night"] is False  # 23:59
    assert stored(card, transaction_time=NOW.replace(hour=4))["night"] is True  # 00:00
    assert stored(card, transaction_time=NOW.replace(hour=9, minute=59))["night"] is True  # 05:59
    assert stored(card, transaction_time=NOW.replace(hour=10))["night"] is False  # 06:00


def test_the_night_share_is_of_the_cards_approvals_in_30_days():
    holder = CardholderFactory(country="JP")  # Asia/Tokyo, UTC+9, no summer time
    card = CardFactory(cardholder=holder, balance_minor=100_000_00)
    day = NOW - 2 * DAY
    authorize(card, transaction_time=day.replace(hour=15))  # 00:00 in Tokyo: night
    authorize(card, transaction_time=day.replace(hour=20, minute=59))  # 05:59: night
    authorize(card, transaction_time=day.replace(hour=21))  # 06:00: day
    authorize(card, transaction_time=day.replace(hour=3))  # noon: day
    authorize(card, cvv=wrong_cvv(card), transaction_time=day.replace(hour=16))  # a decline: not counted
    assert stored(card)["night_share_30d"] == 0.5


def test_recent_declines_are_counted_by_reason_over_24_hours(card):
    authorize(card, cvv=wrong_cvv(card), transaction_time=NOW - DAY - TICK)  # too old
    authorize(card, cvv=wrong_cvv(card), transaction_time=NOW - DAY)
    authorize(card, amount_minor=200_000_000, transaction_time=NOW - HOUR)  # more than the balance
    values = stored(card)
    assert (values["declines_24h"], values["declines_cvv_24h"], values["declines_funds_24h"]) == (2, 1, 1)
    assert values["declines_limit_24h"] == 0


def test_over_limit_declines_are_counted_too():
    card = CardFactory(balance_minor=100_000_00, limits={"per_transaction": 100_00})
    authorize(card, amount_minor=500_00, transaction_time=NOW - HOUR)
    assert stored(card)["declines_limit_24h"] == 1


def _made_up_number(card) -> str:
    """A Luhn-valid number of the card's BIN that no card has."""
    number = card.pan[:6] + "9" * 9
    return number + luhn_check_digit(number)


def test_the_merchant_and_the_bin_count_attempts_across_cards_in_the_last_hour(card):
    other = CardFactory(bin=card.bin, balance_minor=100_000_00)
    elsewhere = CardFactory(balance_minor=100_000_00)  # another BIN
    # Whole minutes: the window's first minute from its first instant, NOW's minute to its last.
    since, until = window_bounds(NOW, HOUR)
    authorize(other, cvv=wrong_cvv(other), transaction_time=since)  # on the edge: in
    authorize(other, transaction_time=since - TICK)  # too old
    authorize(elsewhere, cvv=wrong_cvv(elsewhere), transaction_time=NOW - MINUTE)  # same merchant
    authorize(card, card_number=_made_up_number(card), transaction_time=NOW - MINUTE)  # unknown card: 14
    authorize(other, merchant_id="M-2002", transaction_time=until)  # the next minute: not yet
    values = stored(card)
    merchant = [values[f"merchant_{n}_1h"] for n in ("count", "cvv_mismatch", "declines")]
    bin = [values[f"bin_{n}_1h"] for n in ("count", "cvv_mismatch", "declines")]
    assert merchant == [3, 2, 3]
    assert bin == [2, 1, 2]


def test_the_bin_prefix_never_shows_more_than_the_masked_number():
    amex = CardFactory(bin__bin="378282", bin__network="amex", bin__pan_length=15, balance_minor=100_00)
    txn = authorize(amex, amount_minor=1_00)
    assert txn.masked_pan.startswith(txn.bin_prefix) and txn.bin_prefix == amex.pan[:5]


def _fraud_at_merchant(card, *, at, reported_at):
    txn = authorize(card, merchant_id="M-SKIM", transaction_time=at)
    fraud_report_create(transaction=txn, reason="Not me", actor=ANALYST, reported_at=reported_at)
    return txn


def test_the_merchants_fraud_counts_only_reports_filed_before_the_attempt(card, clock):
    clock.move_to(NOW + 30 * DAY)  # reports are filed in the past of the clock
    victims = [CardFactory(balance_minor=100_000_00) for _ in range(3)]
    _fraud_at_merchant(victims[0], at=NOW - 10 * DAY, reported_at=NOW - 5 * DAY)
    _fraud_at_merchant(victims[1], at=NOW - 10 * DAY, reported_at=NOW - SECOND)
    _fraud_at_merchant(victims[2], at=NOW - 10 * DAY, reported_at=NOW)  # not strictly before
    authorize(victims[2], merchant_id="M-SKIM", transaction_time=NOW - DAY)  # not reported
    values = stored(card, merchant_id="M-SKIM")
    assert values["merchant_fraud_cards_90d"] == 2
    assert values["merchant_fraud_share_90d"] == 0.5  # 2 of the merchant's 4 transactions


def test_a_report_filed_after_a_decision_never_changes_what_it_used(card, clock):
    clock.move_to(NOW + 30 * DAY)
    victim = CardFactory(balance_minor=100_000_00)
    fraud = authorize(victim, merchant_id="M-SKIM", transaction_time=NOW - DAY)
    decided = authorize(card, merchant_id="M-SKIM")
    before = features.cross_card_activity(_attempt_of(decided), datetime.timedelta(days=90))
    fraud_report_create(transaction=fraud, reason="Not me", actor=ANALYST, reported_at=NOW + HOUR)
    after = features.cross_card_activity(_attempt_of(decided), datetime.timedelta(days=90))
    assert before == after and after.merchant_fraud_cards_90d == 0
    decided.refresh_from_db()
    assert decided.risk_features["merchant_fraud_cards_90d"] == 0
    # A decision after the report sees it.
    assert (
        stored(card, merchant_id="M-SKIM", transaction_time=NOW + 2 * HOUR)["merchant_fraud_cards_90d"] == 1
    )


def _attempt_of(txn) -> AuthorizationAttempt:
    """The attempt as the decision of `txn` saw it."""
    return AuthorizationAttempt(
        card=txn.card,
        amount_minor=txn.amount_minor,
        currency=txn.currency,
        merchant_id=txn.merchant_id,
        merchant_name=txn.merchant_name,
        mcc=txn.mcc,
        merchant_country=txn.merchant_country.code,
        channel=txn.channel,
        transaction_time=txn.transaction_time,
        cvv_result=txn.cvv_result,
        bin_prefix=txn.bin_prefix,
    )


def test_the_cardholder_age_and_home_against_the_merchant_country(card):
    home = stored(card, transaction_time=NOW - HOUR)  # born 1985-06-15, US
    assert (home["cardholder_age"], home["foreign"], home["km_from_home"]) == (41, False, 0)
    abroad = stored(card, merchant_country="CA")
    assert abroad["foreign"] is True and 1_000 < abroad["km_from_home"] < 3_000


def test_the_attempts_own_facts(card):
    values = stored(card, channel="ecommerce", cvv=None)
    assert (values["ecommerce"], values["card_present"], values["cvv_absent"]) == (True, False, True)
    assert values["amount_usd"] == 42.0 and values["cvv_mismatch"] is False


def test_night_follows_half_hour_zones_and_a_countrys_principal_zone():
    india = CardFactory(cardholder=CardholderFactory(country="IN"), balance_minor=100_000_00)  # UTC+5:30
    day = NOW - 2 * DAY
    authorize(india, transaction_time=day.replace(hour=18, minute=45))  # 00:15 in India: night
    authorize(india, transaction_time=day.replace(hour=0, minute=29))  # 05:59: night
    authorize(india, transaction_time=day.replace(hour=6, minute=30))  # 12:00: day
    authorize(india, transaction_time=day.replace(hour=18, minute=29))  # 23:59: day
    assert stored(india)["night_share_30d"] == 0.5  # whole hours (UTC+5) would give 0.25
    assert stored(india, transaction_time=NOW.replace(hour=18, minute=45))["night"] is True
    # Canada is Toronto (UTC-4 in June), not St John's (UTC-2:30), the first zone listed.
    canada = CardFactory(cardholder=CardholderFactory(country="CA"), balance_minor=100_000_00)
    assert stored(canada, transaction_time=NOW.replace(hour=8, minute=45))["night"] is True  # 04:45
