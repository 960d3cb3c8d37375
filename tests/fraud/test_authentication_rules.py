"""The rules on how the card was read and its holder verified (fraud/authentication.py),
each at the edges of its conditions and thresholds, through the authorization service:
one signal alone is review-level at most, the compounding combinations decline, unknown
facts fire nothing, the points count in full beside a model, and a backtest re-decides
them exactly."""

import pytest

from cards.models import LedgerEntry
from fraud import config_diff
from fraud.backtest import backtest
from fraud.models import FraudAlert, Rule
from fraud.params import validate_rule_params
from fraud.performance import rule_performance, version_performance
from fraud.services import model_activate
from fraud.versions import config_version_create, live_version
from tests.authorizing import authorize_at, balance, codes, factors
from tests.factories import TEST_ACTOR, CardFactory
from tests.fraud.clock import DAY, HOUR, NOW, SECOND
from tests.fraud.configuration import set_rule
from tests.fraud.modelling import history, train

authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db

AUTHENTICATION_RULES = {
    "magstripe_new_merchant": 25,
    "magstripe_again": 80,
    "magstripe_abroad": 80,
    "pin_failed_new_merchant": 25,
    "pin_failure_then_unverified": 80,
    "no_cvm_burst": 20,
    "three_ds_failed_new_merchant": 30,
    "new_device_3ds_failed": 80,
    "new_device_unauthenticated_abroad": 40,
    "unverified_cash_out_again": 0,  # a step-up: it answers 1A, its points add nothing
    "unverified_cash_out_new_category": 0,  # the same
}
NEW = {"merchant_id": "M-NEW"}  # a merchant the card never used
STRIPE = {"entry_mode": "magstripe", "cardholder_verification": "signature"}
TAP = {"entry_mode": "contactless", "cardholder_verification": "no_cvm"}
ONLINE = {"channel": "ecommerce", "entry_mode": "ecommerce", "cardholder_verification": "no_cvm"}


def _card():
    """A new card of a US cardholder, read by chip with its PIN two days ago at the coffee shop."""
    card = CardFactory(balance_minor=1_000_000_00)
    _chip(card, NOW - 2 * DAY)
    return card


def _chip(card, at, **changes):
    fields = {"entry_mode": "chip", "cardholder_verification": "pin_verified", **changes}
    wrong_pin = fields["cardholder_verification"] == "pin_failed"
    assert authorize(card, transaction_time=at, **fields).response_code == ("55" if wrong_pin else "00")


def _fired(decided) -> dict[str, int]:
    return {code: f["score"] for code, f in factors(decided).items() if code in AUTHENTICATION_RULES}


def test_shipped_in_the_live_version_with_their_points():
    rules = live_version().snapshot["rules"]
    assert {code: rules[code]["score"] for code in AUTHENTICATION_RULES} == AUTHENTICATION_RULES
    assert all(rules[code]["enabled"] for code in AUTHENTICATION_RULES)


def test_unknown_facts_fire_nothing():
    """A request that does not say how the card was read is judged as before."""
    card = _card()
    authorize(card, merchant_id="M-X", transaction_time=NOW - HOUR)
    assert _fired(authorize(card, **NEW, merchant_country="FR")) == {}
    assert _fired(authorize(card, **NEW, channel="ecommerce", device_hash="")) == {}


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
        _chip(card, NOW - (n + 2) * DAY)
    decided = authorize(card, merchant_id=merchant, **STRIPE)
    assert _fired(decided) == ({"magstripe_new_merchant": 25} if fires else {})
    assert decided.response_code == "00"


def test_the_chip_reads_needed_are_a_param():
    set_rule("magstripe_new_merchant", min_chip_reads=2)
    card = _card()
    assert _fired(authorize(card, **NEW, **STRIPE, transaction_time=NOW - HOUR)) == {}
    _chip(card, NOW - HOUR)
    assert "magstripe_new_merchant" in _fired(authorize(card, merchant_id="M-OTHER", **STRIPE))


@pytest.mark.parametrize(
    ("before", "fires"), [(DAY, True), (DAY + SECOND, False)], ids=["24 h", "24 h + 1 s"]
)
def test_a_second_stripe_read_within_24_hours_declines(before, fires):
    card = _card()
    authorize(card, merchant_id="M-FUEL", transaction_time=NOW - before, **STRIPE)
    decided = authorize(card, **NEW, **STRIPE)
    assert ("magstripe_again" in _fired(decided)) is fires
    assert decided.response_code == ("59" if fires else "00")
    if fires:
        assert factors(decided)["magstripe_again"]["detail"] == (
            "Magnetic-stripe read of a chip card at merchant M-NEW after 1 other stripe reads in the last "
            "24 hours."
        )


def test_a_second_stripe_read_declines_at_a_merchant_the_card_knows_too():
    """A copy is used at the cardholder's own cash machine as well."""
    card = _card()
    authorize(card, merchant_id="M-FUEL", transaction_time=NOW - HOUR, **STRIPE)
    assert _fired(authorize(card, merchant_id="M-1001", **STRIPE)) == {"magstripe_again": 80}


def test_the_stripe_reads_before_are_a_param():
    set_rule("magstripe_again", min_chip_reads=1, min_previous=2)
    card = _card()
    authorize(card, merchant_id="M-FUEL", transaction_time=NOW - HOUR, **STRIPE)
    assert "magstripe_again" not in _fired(authorize(card, **NEW, **STRIPE, transaction_time=NOW - SECOND))
    assert "magstripe_again" in _fired(authorize(card, merchant_id="M-THIRD", **STRIPE))


@pytest.mark.parametrize(
    ("country", "used_there", "fires"),
    [("FR", False, True), ("US", False, False), ("FR", True, False)],
    ids=["abroad", "at home", "abroad, where the card was used by chip"],
)
def test_a_stripe_read_of_a_chip_card_at_a_new_merchant_in_a_new_country_declines(country, used_there, fires):
    card = _card()
    if used_there:  # a traveller's chip worked there yesterday
        _chip(card, NOW - DAY, merchant_id="M-PARIS", merchant_country="FR")
    decided = authorize(card, **NEW, merchant_country=country, **STRIPE)
    assert ("magstripe_abroad" in _fired(decided)) is fires
    assert decided.response_code == ("59" if fires else "00")


# --- PINs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("merchant", "verification", "fires"),
    [("M-NEW", "pin_failed", True), ("M-1001", "pin_failed", False), ("M-NEW", "pin_verified", False)],
)
def test_a_failed_pin_at_a_new_merchant_is_a_signal_alone(merchant, verification, fires):
    decided = authorize(
        _card(), merchant_id=merchant, entry_mode="chip", cardholder_verification=verification
    )
    assert _fired(decided) == ({"pin_failed_new_merchant": 25} if fires else {})
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
    card = _card()
    _chip(card, NOW - failed_before, cardholder_verification="pin_failed")
    if verified_since:
        _chip(card, NOW - failed_before + SECOND)
    decided = authorize(card, **now)
    assert ("pin_failure_then_unverified" in _fired(decided)) is fires
    wrong_pin = now.get("cardholder_verification") == "pin_failed"
    assert decided.response_code == ("55" if wrong_pin else "59" if fires else "00")


# --- Contactless without verification -------------------------------------------------------------


@pytest.mark.parametrize(
    ("taps", "fires"),
    [((10, 20), True), ((20,), False), ((HOUR // SECOND, 20), True), ((HOUR // SECOND + 1, 20), False)],
    ids=["2 in the hour", "1", "2, one at the hour's edge", "2, one an hour and a second back"],
)
def test_a_burst_of_taps_without_verification_at_new_merchants_is_a_signal_alone(taps, fires):
    card = _card()
    for n, seconds in enumerate(taps):
        authorize(card, merchant_id=f"M-SHOP{n}", transaction_time=NOW - seconds * SECOND, **TAP)
    decided = authorize(card, **NEW, **TAP)
    assert _fired(decided) == ({"no_cvm_burst": 20} if fires else {})


# --- Unverified in person at cash-out shops, again ----------------------------------------------

LIQUOR = {"merchant_id": "M-LIQ", "mcc": "5921"}
DEPARTMENT = {"merchant_id": "M-DEP", "mcc": "5311"}
SIGNED = {"entry_mode": "chip", "cardholder_verification": "signature"}


def _regular():
    """_card(), which bought by chip and PIN at another department store and another liquor
    store two days ago: those categories are not new to it, and the rule for a category
    new to the card (below) leaves these tests to this one."""
    card = _card()
    for merchant, mcc in (("M-DEP-OLD", "5311"), ("M-LIQ-OLD", "5921")):
        _chip(card, NOW - 2 * DAY + SECOND, merchant_id=merchant, mcc=mcc)
    return card


@pytest.mark.parametrize(
    ("before", "now", "fires"),
    [
        ({**DEPARTMENT, **TAP}, {**LIQUOR, **TAP}, True),
        ({**DEPARTMENT, **TAP}, {**LIQUOR, **SIGNED}, True),
        ({**LIQUOR, **TAP}, {**LIQUOR, **TAP}, True),
        ({**DEPARTMENT, **SIGNED}, {**LIQUOR, **TAP}, True),
        (
            {**DEPARTMENT, "entry_mode": "chip", "cardholder_verification": "pin_failed"},
            {**LIQUOR, **TAP},
            True,
        ),
        ({"merchant_id": "M-CAFE", "mcc": "5814", **TAP}, {**LIQUOR, **TAP}, False),
        ({**DEPARTMENT, **TAP}, {"merchant_id": "M-CAFE", "mcc": "5814", **TAP}, False),
        (
            {**DEPARTMENT, **TAP},
            {**LIQUOR, "entry_mode": "contactless", "cardholder_verification": "consumer_device"},
            False,
        ),
        (
            {**DEPARTMENT, **TAP},
            {**LIQUOR, "entry_mode": "chip", "cardholder_verification": "pin_verified"},
            False,
        ),
        ({**DEPARTMENT, **TAP}, {**LIQUOR, "entry_mode": "contactless"}, False),
        ({**DEPARTMENT, **ONLINE}, {**LIQUOR, **TAP}, False),
        ({**DEPARTMENT, **TAP}, {**LIQUOR, **ONLINE}, False),
    ],
    ids=[
        "a tap after a tap",
        "a signature after a tap",
        "at the same shop again",
        "a tap after a signature",
        "a tap after a failed PIN",
        "after a tap at a coffee shop",
        "at a coffee shop",
        "a wallet's check now",
        "the right PIN now",
        "verification unknown now",
        "after the same category online",
        "online now",
    ],
)
def test_an_unverified_purchase_at_a_cash_out_shop_after_another_in_the_hour_asks_for_verification(
    before, now, fires
):
    card = _regular()
    authorize(card, transaction_time=NOW - 30 * 60 * SECOND, **before)
    decided = authorize(card, **now)
    assert ("unverified_cash_out_again" in _fired(decided)) is fires
    # After a failed PIN, pin_failure_then_unverified declines (59) before the step-up.
    stepped_up = "59" if before.get("cardholder_verification") == "pin_failed" else "1A"
    assert decided.response_code == (stepped_up if fires else "00")
    if fires:  # only an in-person attempt without a verified cardholder is stepped up
        assert decided.channel == "pos" and decided.cardholder_verification in ("no_cvm", "signature")
        assert decided.status == "declined"
    if fires and before == {**DEPARTMENT, **TAP}:
        assert factors(decided)["unverified_cash_out_again"] == {
            "code": "unverified_cash_out_again",
            "score": 0,
            "detail": "No verified cardholder at merchant M-LIQ (category 5921) after in-person attempts "
            "without one in the last hour in categories 5311, and no PIN or device verification on this card "
            "in that hour.",
        }


@pytest.mark.parametrize(
    ("before", "fires"), [(HOUR, True), (HOUR + SECOND, False)], ids=["1 h", "1 h + 1 s"]
)
def test_the_attempt_before_counts_for_an_hour(before, fires):
    card = _regular()
    authorize(card, transaction_time=NOW - before, **DEPARTMENT, **TAP)
    assert ("unverified_cash_out_again" in _fired(authorize(card, **LIQUOR, **TAP))) is fires


@pytest.mark.parametrize(
    ("verified", "before", "fires"),
    [
        ("pin_verified", HOUR, False),
        ("pin_verified", HOUR + SECOND, True),
        ("consumer_device", 10 * SECOND, False),
        ("pin_failed", 10 * SECOND, True),
    ],
    ids=[
        "a PIN in the hour",
        "a PIN an hour and a second back",
        "a wallet's check in the hour",
        "a failed PIN",
    ],
)
def test_a_verified_cardholder_in_the_hour_keeps_it_from_firing(verified, before, fires):
    """The cardholder on a shopping afternoon gives the PIN above the contactless limit."""
    card = _regular()
    authorize(card, transaction_time=NOW - 20 * 60 * SECOND, **DEPARTMENT, **TAP)
    entry = "contactless" if verified == "consumer_device" else "chip"
    authorize(
        card,
        merchant_id="M-GROCER",
        transaction_time=NOW - before,
        entry_mode=entry,
        cardholder_verification=verified,
    )
    assert ("unverified_cash_out_again" in _fired(authorize(card, **LIQUOR, **TAP))) is fires


def test_its_categories_are_a_param():
    set_rule("unverified_cash_out_again", mccs=["5921"])
    card = _regular()
    authorize(card, transaction_time=NOW - 20 * 60 * SECOND, **DEPARTMENT, **TAP)
    assert "unverified_cash_out_again" not in _fired(
        authorize(card, **LIQUOR, **TAP, transaction_time=NOW - SECOND)
    )
    assert "unverified_cash_out_again" in _fired(authorize(card, merchant_id="M-LIQ2", mcc="5921", **TAP))


def test_a_failed_pin_now_is_left_to_the_pin_check():
    """Declined as 55 before risk counts; scored by the rules that read a failed PIN."""
    card = _regular()
    authorize(card, transaction_time=NOW - 20 * 60 * SECOND, **DEPARTMENT, **TAP)
    decided = authorize(card, **LIQUOR, entry_mode="chip", cardholder_verification="pin_failed")
    assert decided.response_code == "55"
    assert "unverified_cash_out_again" not in _fired(decided)


def _stepped_up(card):
    """A tap at a department store, then one at a liquor store a second before NOW: 1A."""
    authorize(card, transaction_time=NOW - 30 * 60 * SECOND, **DEPARTMENT, **TAP)
    decided = authorize(card, transaction_time=NOW - SECOND, **LIQUOR, **TAP)
    assert decided.response_code == "1A"
    return decided


def test_a_step_up_is_recorded_with_its_factor_first_and_debits_nothing():
    card = _regular()
    before = balance(card)
    entries = LedgerEntry.objects.filter(card=card).count()
    authorize(card, transaction_time=NOW - 30 * 60 * SECOND, **DEPARTMENT, **TAP)
    spent = before - balance(card)
    decided = authorize(card, transaction_time=NOW - SECOND, **LIQUOR, **TAP)
    assert (decided.response_code, decided.reason, decided.status) == (
        "1A",
        "verification_required",
        "declined",
    )
    assert codes(decided)[0] == "unverified_cash_out_again" and decided.risk_features
    assert decided.risk_rules == ",unverified_cash_out_again,"  # counted as fired, whatever its points
    assert not decided.flagged and not FraudAlert.objects.filter(transaction=decided).exists()
    assert balance(card) == before - spent
    assert LedgerEntry.objects.filter(card=card).count() == entries + 1  # the first tap's only


def test_the_cardholder_who_gives_the_pin_right_after_is_approved():
    """The terminal asks for the PIN: the cardholder inserts the card and types it."""
    card = _regular()
    asked = _stepped_up(card)
    before = balance(card)
    retried = authorize(card, **LIQUOR, entry_mode="chip", cardholder_verification="pin_verified")
    assert retried.response_code == "00" and "unverified_cash_out_again" not in _fired(retried)
    assert balance(card) == before - retried.amount_minor
    # ... and, verified in the hour, taps again without being asked.
    again = authorize(card, transaction_time=NOW + SECOND, merchant_id="M-LIQ2", mcc="5921", **TAP)
    assert again.response_code == "00"
    assert asked.response_code == "1A"


def test_the_thief_who_cannot_give_the_pin_is_declined_as_such():
    """The wrong PIN is 55; a tap after it is declined by pin_failure_then_unverified (59)."""
    card = _regular()
    _stepped_up(card)
    wrong_pin = authorize(card, **LIQUOR, entry_mode="chip", cardholder_verification="pin_failed")
    assert wrong_pin.response_code == "55"
    assert authorize(card, transaction_time=NOW + SECOND, **DEPARTMENT, **TAP).response_code == "59"


def test_its_step_ups_are_counted_per_rule_and_version_never_as_false_declines():
    card = _regular()
    _stepped_up(card)
    figures = {r.code: r for r in rule_performance(since=NOW - DAY, until=NOW + DAY)}
    stepped = figures["unverified_cash_out_again"]
    assert (stepped.fired, stepped.step_ups, stepped.declines, stepped.reviews) == (1, 1, 0, 0)
    [version] = version_performance(since=NOW - DAY, until=NOW + DAY)
    assert (version.step_ups, version.declines, version.risk_declines, version.false_declines) == (1, 1, 0, 0)


def test_the_config_diff_names_it_a_step_up():
    after = live_version().snapshot
    rules = {code: rule for code, rule in after["rules"].items() if code != "unverified_cash_out_again"}
    [added] = config_diff.diff({**after, "rules": rules}, after)
    assert (added.item, added.change) == ("unverified_cash_out_again", "added")
    assert added.after.startswith("on, step-up (1A), 0 points")


def test_a_score_that_declines_comes_before_the_step_up():
    """The contract's order: 59, then 1A. With decline-level points the rule declines."""
    set_rule("unverified_cash_out_again", score=80)
    card = _regular()
    authorize(card, transaction_time=NOW - 30 * 60 * SECOND, **DEPARTMENT, **TAP)
    decided = authorize(card, **LIQUOR, **TAP)
    assert decided.response_code == "59" and codes(decided)[0] == "unverified_cash_out_again"


def test_a_step_up_rule_switched_off_asks_nothing():
    set_rule("unverified_cash_out_again", enabled=False)
    card = _regular()
    authorize(card, transaction_time=NOW - 30 * 60 * SECOND, **DEPARTMENT, **TAP)
    decided = authorize(card, **LIQUOR, **TAP)
    assert decided.response_code == "00" and "unverified_cash_out_again" not in _fired(decided)


# --- Unverified in person at a cash-out category new to the card ----------------------------------

NEW_CATEGORY = "unverified_cash_out_new_category"
JEWELLER = {"merchant_id": "M-JWL", "mcc": "5944"}


@pytest.mark.parametrize(
    ("now", "fires"),
    [
        ({**JEWELLER, **TAP}, True),
        ({**JEWELLER, **SIGNED}, True),
        ({**JEWELLER, "entry_mode": "chip", "cardholder_verification": "pin_verified"}, False),
        ({**JEWELLER, "entry_mode": "contactless", "cardholder_verification": "consumer_device"}, False),
        ({**JEWELLER, "entry_mode": "contactless"}, False),
        ({"merchant_id": "M-CAFE", "mcc": "5814", **TAP}, False),
        ({**JEWELLER, **ONLINE}, False),
    ],
    ids=[
        "a tap",
        "a signature",
        "the PIN",
        "a wallet's check",
        "verification unknown",
        "not listed",
        "online",
    ],
)
def test_an_unverified_purchase_in_a_cash_out_category_new_to_the_card_asks_for_verification(now, fires):
    decided = authorize(_card(), **now)
    assert (NEW_CATEGORY in _fired(decided)) is fires
    assert decided.response_code == ("1A" if fires else "00")
    if fires:
        assert factors(decided)[NEW_CATEGORY] == {
            "code": NEW_CATEGORY,
            "score": 0,
            "detail": "No verified cardholder at merchant M-JWL, in a category this card never bought in "
            "(5944), and no PIN or device verification on this card in the last hour.",
        }


@pytest.mark.parametrize(
    ("before", "fires"),
    [("approved", False), ("declined", True), ("online", False)],
    ids=["bought there by chip and PIN", "declined there", "bought there online"],
)
def test_a_category_the_card_bought_in_before_is_not_new(before, fires):
    """However long ago, at another merchant of it; a decline is not a purchase."""
    card = _card()
    where = {"merchant_id": "M-JWL-OLD", "mcc": "5944"}
    if before == "online":
        authorize(card, transaction_time=NOW - 20 * DAY, **where, **ONLINE)
    else:
        amount = 10_000_000_00 if before == "declined" else 4200  # over the balance: declined 51
        done = authorize(
            card,
            transaction_time=NOW - 20 * DAY,
            amount_minor=amount,
            entry_mode="chip",
            cardholder_verification="pin_verified",
            **where,
        )
        assert done.status == before
    assert (NEW_CATEGORY in _fired(authorize(card, **JEWELLER, **TAP))) is fires


@pytest.mark.parametrize(
    ("verified", "before", "fires"),
    [
        ("pin_verified", HOUR, False),
        ("pin_verified", HOUR + SECOND, True),
        ("consumer_device", 10 * SECOND, False),
        ("pin_failed", 10 * SECOND, True),
    ],
    ids=[
        "a PIN in the hour",
        "a PIN an hour and a second back",
        "a wallet's check in the hour",
        "a failed PIN",
    ],
)
def test_a_verified_cardholder_in_the_hour_keeps_the_new_category_rule_from_firing(verified, before, fires):
    card = _card()
    entry = "contactless" if verified == "consumer_device" else "chip"
    authorize(
        card,
        merchant_id="M-GROCER",
        transaction_time=NOW - before,
        entry_mode=entry,
        cardholder_verification=verified,
    )
    assert (NEW_CATEGORY in _fired(authorize(card, **JEWELLER, **TAP))) is fires


def test_the_new_category_rules_categories_are_a_param():
    set_rule(NEW_CATEGORY, mccs=["5921"])
    assert NEW_CATEGORY not in _fired(authorize(_card(), **JEWELLER, **TAP))
    assert NEW_CATEGORY in _fired(authorize(_card(), merchant_id="M-LIQ", mcc="5921", **TAP))


def test_the_cardholder_asked_once_gives_the_pin_and_is_not_asked_again_in_the_category():
    card = _card()
    assert authorize(card, transaction_time=NOW - 2 * HOUR, **JEWELLER, **TAP).response_code == "1A"
    retried = authorize(
        card,
        transaction_time=NOW - 2 * HOUR + SECOND,
        **JEWELLER,
        entry_mode="chip",
        cardholder_verification="pin_verified",
    )
    assert retried.response_code == "00"
    later = authorize(card, merchant_id="M-JWL2", mcc="5944", **TAP)  # two hours on: bought there now
    assert later.response_code == "00" and NEW_CATEGORY not in _fired(later)


def test_a_backtest_re_decides_the_new_category_rule_from_the_stored_values():
    card = _card()
    decided = [
        authorize(card, transaction_time=NOW - 3 * HOUR, **JEWELLER, **TAP),
        authorize(card, transaction_time=NOW - 2 * HOUR, merchant_id="M-CAFE", mcc="5814", **TAP),
        authorize(card, **LIQUOR, **SIGNED),
    ]
    assert [d.response_code for d in decided] == ["1A", "00", "1A"]
    assert decided[0].risk_features["first_mcc"] and decided[0].risk_features["card_verified_cvm_1h"] == 0
    report = backtest(version=live_version(), since=NOW - 5 * DAY, until=NOW + HOUR)
    assert report.changed == 0 and report.score_changes == 0 and report.code_changes == {}
    assert report.backtest.rule_hits[NEW_CATEGORY] == 2
    assert report.recorded.step_ups == report.backtest.step_ups == 2
    rule = Rule.objects.get(code=NEW_CATEGORY)
    rule.enabled = False
    rule.save()
    switched_off = config_version_create(actor=TEST_ACTOR, reason="Without the step-up.")
    without = backtest(version=switched_off, since=NOW - 5 * DAY, until=NOW + HOUR)
    assert without.changed == 2 and without.backtest.step_ups == 0


# --- 3-D Secure and devices ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("merchant", "three_ds", "fires"),
    [("M-NEW", "failed", True), ("M-1001", "failed", False), ("M-NEW", "authenticated", False)],
)
def test_3ds_failed_at_a_new_merchant_is_a_signal_alone(merchant, three_ds, fires):
    decided = authorize(_card(), merchant_id=merchant, three_ds=three_ds, **ONLINE)
    assert ("three_ds_failed_new_merchant" in _fired(decided)) is fires


def _with_device(device="phone", days=3, approvals=1):
    card = _card()
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
    assert ("new_device_3ds_failed" in _fired(decided)) is fires
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
    assert ("new_device_unauthenticated_abroad" in _fired(decided)) is fires
    if three_ds == "not_performed":
        assert decided.response_code == "00"  # a signal alone: honest shoppers meet it too


# --- Beside a model, params, backtests -----------------------------------------------------------


def test_beside_a_model_they_keep_their_points_on_a_card_with_history(card):
    history(card)
    model_activate(model=train(), actor=TEST_ACTOR)
    fresh = _card()
    for n in range(6):  # past the model rule's edge of 5 approvals: other rules are weighted
        _chip(fresh, NOW - (n + 3) * DAY)
    authorize(fresh, merchant_id="M-FUEL", transaction_time=NOW - HOUR, **STRIPE)
    decided = authorize(fresh, **NEW, **STRIPE, merchant_country="FR")
    assert "model" in codes(decided)
    assert _fired(decided) == {"magstripe_new_merchant": 25, "magstripe_again": 80, "magstripe_abroad": 80}
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
    ],
)
def test_their_params_are_checked(code, params, bad):
    assert bad in validate_rule_params(code, params)


def test_a_backtest_of_the_live_version_reproduces_their_decisions():
    card = _with_device()
    _chip(card, NOW - 2 * HOUR, cardholder_verification="pin_failed")
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


def test_a_backtest_re_decides_the_cash_out_rule_from_the_stored_values():
    card = _regular()
    decided = [
        authorize(card, transaction_time=NOW - 40 * 60 * SECOND, **DEPARTMENT, **TAP),
        authorize(card, transaction_time=NOW - 20 * 60 * SECOND, **LIQUOR, **TAP),
        authorize(card, **DEPARTMENT, **SIGNED),
    ]
    assert [d.response_code for d in decided] == ["00", "1A", "1A"]
    assert decided[1].risk_features["card_unverified_present_mccs_1h"] == "5311"
    assert decided[2].risk_features["card_unverified_present_mccs_1h"] == "5311,5921"
    report = backtest(version=live_version(), since=NOW - 5 * DAY, until=NOW + HOUR)
    assert report.changed == 0 and report.score_changes == 0 and report.code_changes == {}
    assert report.backtest.rule_hits["unverified_cash_out_again"] == 2
    assert report.recorded.step_ups == report.backtest.step_ups == 2
    assert report.backtest.false_declines == 0  # a step-up is a soft decline, never a false one
