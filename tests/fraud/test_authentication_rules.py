"""The rules on how the card was read and its holder verified (fraud/authentication.py),
each at the edges of its conditions and thresholds, through the authorization service:
one signal alone is review-level at most, the compounding combinations decline, unknown
facts fire nothing, the points count in full beside a model, and a backtest re-decides
them exactly."""

import pytest

from fraud.backtest import backtest
from fraud.params import validate_rule_params
from fraud.services import model_activate
from fraud.versions import live_version
from tests.authorizing import authorize_at, codes, factors
from tests.factories import TEST_ACTOR, CardFactory
from tests.fraud.card_reads import (
    AUTHENTICATION_RULES,
    NEW,
    ONLINE,
    STRIPE,
    TAP,
    by_chip,
    chip_card,
    fired,
)
from tests.fraud.clock import DAY, HOUR, NOW, SECOND
from tests.fraud.configuration import set_rule
from tests.fraud.modelling import history, train

authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db


def test_shipped_in_the_live_version_with_their_points():
    rules = live_version().snapshot["rules"]
    assert {code: rules[code]["score"] for code in AUTHENTICATION_RULES} == AUTHENTICATION_RULES
    assert all(rules[code]["enabled"] for code in AUTHENTICATION_RULES)


def test_unknown_facts_fire_nothing():
    """A request that does not say how the card was read is judged as before."""
    card = chip_card()
    authorize(card, merchant_id="M-X", transaction_time=NOW - HOUR)
    assert fired(authorize(card, **NEW, merchant_country="FR")) == {}
    assert fired(authorize(card, **NEW, channel="ecommerce", device_hash="")) == {}


# --- The magnetic stripe of a chip card ----------------------------------------------------------


@pytest.mark.parametrize(
    ("chip_reads", "merchant", "fires"),
    [(1, "M-NEW", True), (0, "M-NEW", False), (1, "M-1001", False)],
    ids=["chip card, new merchant", "never read by chip", "known merchant"],
)
def test_a_stripe_read_of_a_chip_card_at_a_new_merchant_is_a_signal_alone(chip_reads, merchant, fires):
    card = CardFactory(balance_minor=1_000_000_00)
    authorize(card, transaction_time=NOW - 3 * DAY)  # the coffee shop, facts unknown
    for n in range(chip_reads):
        by_chip(card, NOW - (n + 2) * DAY)
    decided = authorize(card, merchant_id=merchant, **STRIPE)
    assert fired(decided) == ({"magstripe_new_merchant": 25} if fires else {})
    assert decided.response_code == "00"


def test_the_chip_reads_needed_are_a_param():
    set_rule("magstripe_new_merchant", min_chip_reads=2)
    card = chip_card()
    assert fired(authorize(card, **NEW, **STRIPE, transaction_time=NOW - HOUR)) == {}
    by_chip(card, NOW - HOUR)
    assert "magstripe_new_merchant" in fired(authorize(card, merchant_id="M-OTHER", **STRIPE))


@pytest.mark.parametrize(
    ("before", "fires"), [(DAY, True), (DAY + SECOND, False)], ids=["24 h", "24 h + 1 s"]
)
def test_a_second_stripe_read_within_24_hours_declines(before, fires):
    card = chip_card()
    authorize(card, merchant_id="M-FUEL", transaction_time=NOW - before, **STRIPE)
    decided = authorize(card, **NEW, **STRIPE)
    assert ("magstripe_again" in fired(decided)) is fires
    assert decided.response_code == ("59" if fires else "00")
    if fires:
        assert factors(decided)["magstripe_again"]["detail"] == (
            "Magnetic-stripe read of a chip card at merchant M-NEW after 1 other stripe reads in the last "
            "24 hours."
        )


def test_a_second_stripe_read_declines_at_a_merchant_the_card_knows_too():
    """A copy is used at the cardholder's own cash machine as well."""
    card = chip_card()
    authorize(card, merchant_id="M-FUEL", transaction_time=NOW - HOUR, **STRIPE)
    assert fired(authorize(card, merchant_id="M-1001", **STRIPE)) == {"magstripe_again": 80}


def test_the_stripe_reads_before_are_a_param():
    set_rule("magstripe_again", min_chip_reads=1, min_previous=2)
    card = chip_card()
    authorize(card, merchant_id="M-FUEL", transaction_time=NOW - HOUR, **STRIPE)
    assert "magstripe_again" not in fired(authorize(card, **NEW, **STRIPE, transaction_time=NOW - SECOND))
    assert "magstripe_again" in fired(authorize(card, merchant_id="M-THIRD", **STRIPE))


@pytest.mark.parametrize(
    ("country", "used_there", "fires"),
    [("FR", False, True), ("US", False, False), ("FR", True, False)],
    ids=["abroad", "at home", "abroad, where the card was used by chip"],
)
def test_a_stripe_read_of_a_chip_card_at_a_new_merchant_in_a_new_country_declines(country, used_there, fires):
    card = chip_card()
    if used_there:  # a traveller's chip worked there yesterday
        by_chip(card, NOW - DAY, merchant_id="M-PARIS", merchant_country="FR")
    decided = authorize(card, **NEW, merchant_country=country, **STRIPE)
    assert ("magstripe_abroad" in fired(decided)) is fires
    assert decided.response_code == ("59" if fires else "00")


# --- PINs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("merchant", "verification", "fires"),
    [("M-NEW", "pin_failed", True), ("M-1001", "pin_failed", False), ("M-NEW", "pin_verified", False)],
)
def test_a_failed_pin_at_a_new_merchant_is_a_signal_alone(merchant, verification, fires):
    decided = authorize(
        chip_card(), merchant_id=merchant, entry_mode="chip", cardholder_verification=verification
    )
    assert fired(decided) == ({"pin_failed_new_merchant": 25} if fires else {})
    # Scored all the same, but a wrong PIN is declined before risk counts.
    assert decided.response_code == ("55" if verification == "pin_failed" else "00")


@pytest.mark.parametrize(
    ("failed_before", "verified_since", "now", "fires"),
    [
        (DAY, False, {**NEW, **TAP}, True),
        (DAY + SECOND, False, {**NEW, **TAP}, False),
        (HOUR, True, {**NEW, **TAP}, False),
        (HOUR, False, {"entry_mode": "chip", "cardholder_verification": "signature"}, True),
        (HOUR, False, {"entry_mode": "chip", "cardholder_verification": "pin_failed"}, True),
        (HOUR, False, {"entry_mode": "chip", "cardholder_verification": "pin_verified"}, False),
        (HOUR, False, {"entry_mode": "contactless", "cardholder_verification": "consumer_device"}, False),
        (HOUR, False, {"entry_mode": "contactless"}, False),
    ],
    ids=[
        "24 h",
        "24 h + 1 s",
        "verified since",
        "a signature where the card shops",
        "failed again",
        "the right PIN",
        "a wallet's check",
        "verification unknown",
    ],
)
def test_no_verified_pin_after_a_failed_one_declines(failed_before, verified_since, now, fires):
    card = chip_card()
    by_chip(card, NOW - failed_before, cardholder_verification="pin_failed")
    if verified_since:
        by_chip(card, NOW - failed_before + SECOND)
    decided = authorize(card, **now)
    assert ("pin_failure_then_unverified" in fired(decided)) is fires
    wrong_pin = now.get("cardholder_verification") == "pin_failed"
    assert decided.response_code == ("55" if wrong_pin else "59" if fires else "00")


# --- Contactless without verification -------------------------------------------------------------


@pytest.mark.parametrize(
    ("taps", "fires"),
    [((10, 20), True), ((20,), False), ((HOUR // SECOND, 20), True), ((HOUR // SECOND + 1, 20), False)],
    ids=["2 in the hour", "1", "2, one at the hour's edge", "2, one an hour and a second back"],
)
def test_a_burst_of_taps_without_verification_at_new_merchants_is_a_signal_alone(taps, fires):
    card = chip_card()
    for n, seconds in enumerate(taps):
        authorize(card, merchant_id=f"M-SHOP{n}", transaction_time=NOW - seconds * SECOND, **TAP)
    decided = authorize(card, **NEW, **TAP)
    assert fired(decided) == ({"no_cvm_burst": 20} if fires else {})


# --- 3-D Secure and devices ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("merchant", "three_ds", "fires"),
    [("M-NEW", "failed", True), ("M-1001", "failed", False), ("M-NEW", "authenticated", False)],
)
def test_3ds_failed_at_a_new_merchant_is_a_signal_alone(merchant, three_ds, fires):
    decided = authorize(chip_card(), merchant_id=merchant, three_ds=three_ds, **ONLINE)
    assert ("three_ds_failed_new_merchant" in fired(decided)) is fires


def _with_device(device="phone", days=3, approvals=1):
    card = chip_card()
    for n in range(approvals):
        at = NOW - days * DAY - n * HOUR
        authorize(card, merchant_id="M-WEB", transaction_time=at, device_hash=device, **ONLINE)
    return card


@pytest.mark.parametrize(
    ("device", "known_days", "fires"),
    [("laptop", 3, True), ("phone", 3, False), ("laptop", 31, False), ("", 3, False)],
    ids=["a new device", "the card's device", "a card without a device in 30 days", "no device given"],
)
def test_3ds_failed_at_a_new_merchant_from_a_new_device_declines_on_a_card_used_from_its_own(
    device, known_days, fires
):
    decided = authorize(
        _with_device("phone", known_days), **NEW, three_ds="failed", device_hash=device, **ONLINE
    )
    assert ("new_device_3ds_failed" in fired(decided)) is fires
    assert decided.response_code == ("59" if fires else "00")


@pytest.mark.parametrize(
    ("country", "three_ds", "approvals", "fires"),
    [
        ("FR", "not_performed", 3, True),
        ("FR", "failed", 3, True),
        ("US", "not_performed", 3, False),
        ("FR", "authenticated", 3, False),
        ("FR", "attempted", 3, False),
        ("FR", "not_performed", 2, False),
    ],
    ids=["abroad", "abroad, failed", "at home", "authenticated", "attempted", "2 approvals from devices"],
)
def test_a_new_device_abroad_without_3ds_is_a_signal_on_a_card_used_from_known_devices(
    country, three_ds, approvals, fires
):
    decided = authorize(
        _with_device(approvals=approvals),
        **NEW,
        merchant_country=country,
        three_ds=three_ds,
        device_hash="laptop",
        **ONLINE,
    )
    assert ("new_device_unauthenticated_abroad" in fired(decided)) is fires
    if three_ds == "not_performed":
        assert decided.response_code == "00"  # a signal alone: honest shoppers meet it too


# --- Beside a model, params, backtests -----------------------------------------------------------


def test_beside_a_model_they_keep_their_points_on_a_card_with_history(card):
    history(card)
    model_activate(model=train(), actor=TEST_ACTOR)
    fresh = chip_card()
    for n in range(6):  # past the model rule's edge of 5 approvals: other rules are weighted
        by_chip(fresh, NOW - (n + 3) * DAY)
    authorize(fresh, merchant_id="M-FUEL", transaction_time=NOW - HOUR, **STRIPE)
    decided = authorize(fresh, **NEW, **STRIPE, merchant_country="FR")
    assert "model" in codes(decided)
    assert fired(decided) == {"magstripe_new_merchant": 25, "magstripe_again": 80, "magstripe_abroad": 80}
    assert factors(decided)["foreign_country"]["score"] == 3  # 10 at the rule weight
    assert decided.response_code == "59"


@pytest.mark.parametrize(
    ("code", "params", "bad"),
    [
        ("magstripe_again", {"min_previous": 0}, "min_previous"),
        ("no_cvm_burst", {"min_previous": "2"}, "min_previous"),
        ("magstripe_new_merchant", {"min_chip_reads": -1}, "min_chip_reads"),
        (
            "new_device_unauthenticated_abroad",
            {"min_known_device_approvals": 1.5},
            "min_known_device_approvals",
        ),
        ("three_ds_failed_new_merchant", {"min": 1}, "min"),
        ("unverified_cash_out_again", {"mccs": []}, "mccs"),
        ("unverified_cash_out_again", {"mccs": "5732"}, "mccs"),
        ("unverified_cash_out_again", {"mccs": [5732]}, "mccs"),
        ("unverified_cash_out_again", {"mccs": ["573"]}, "mccs"),
        ("unverified_cash_out_again", {"mccs": ["57a2"]}, "mccs"),
        ("unverified_cash_out_again", {}, "mccs"),
        ("unverified_cash_out_new_category", {"mccs": ["573"]}, "mccs"),
        ("unverified_cash_out_new_category", {}, "mccs"),
    ],
)
def test_their_params_are_checked(code, params, bad):
    assert bad in validate_rule_params(code, params)


def test_a_backtest_of_the_live_version_reproduces_their_decisions():
    card = _with_device()
    by_chip(card, NOW - 2 * HOUR, cardholder_verification="pin_failed")
    decided = [
        authorize(card, merchant_id="M-A", transaction_time=NOW - HOUR, **TAP),
        authorize(card, merchant_id="M-B", transaction_time=NOW - HOUR + SECOND, **STRIPE),
        authorize(
            card, merchant_id="M-C", merchant_country="FR", three_ds="failed", device_hash="laptop", **ONLINE
        ),
    ]
    assert all(d.response_code == "59" for d in decided)
    report = backtest(version=live_version(), since=NOW - 5 * DAY, until=NOW + HOUR)
    assert report.decisions == 6 and report.not_redecidable == 0
    assert report.changed == 0 and report.score_changes == 0
    assert report.backtest.rule_hits["pin_failure_then_unverified"] == 3  # each after the failed PIN
    assert report.backtest.rule_hits["new_device_3ds_failed"] == 1
