"""The step-up rules of fraud/authentication.py (STEP_UP): an in-person purchase without a
verified cardholder at a cash-out category (department stores, electronics, liquor,
jewellery), after another in the hour (unverified_cash_out_again) or in a category new to
the card (unverified_cash_out_new_category), is answered 1A, verification required: the
cardholder inserts the card and types the PIN, a thief cannot. Each at the edges of its
conditions, through the authorization service, and re-decided exactly by a backtest."""

import pytest

from cards.models import LedgerEntry
from fraud import config_diff
from fraud.backtest import backtest
from fraud.models import FraudAlert, Rule
from fraud.performance import rule_performance, version_performance
from fraud.versions import config_version_create, live_version
from tests.authorizing import balance, codes, factors
from tests.factories import TEST_ACTOR
from tests.fraud.card_reads import ONLINE, TAP, authorize, by_chip, chip_card, fired
from tests.fraud.clock import DAY, HOUR, NOW, SECOND
from tests.fraud.configuration import set_rule

pytestmark = pytest.mark.django_db

# --- Unverified in person at cash-out shops, again ----------------------------------------------

LIQUOR = {"merchant_id": "M-LIQ", "mcc": "5921"}
DEPARTMENT = {"merchant_id": "M-DEP", "mcc": "5311"}
SIGNED = {"entry_mode": "chip", "cardholder_verification": "signature"}
JEWELLER = {"merchant_id": "M-JWL", "mcc": "5944"}
NEW_CATEGORY = "unverified_cash_out_new_category"


def _regular():
    """chip_card(), which bought by chip and PIN at another department store and another liquor
    store two days ago: those categories are not new to it, and the rule for a category
    new to the card (below) leaves these tests to this one."""
    card = chip_card()
    for merchant, mcc in (("M-DEP-OLD", "5311"), ("M-LIQ-OLD", "5921")):
        by_chip(card, NOW - 2 * DAY + SECOND, merchant_id=merchant, mcc=mcc)
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
    assert ("unverified_cash_out_again" in fired(decided)) is fires
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
    assert ("unverified_cash_out_again" in fired(authorize(card, **LIQUOR, **TAP))) is fires


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
def test_a_verified_cardholder_in_the_hour_keeps_both_step_ups_from_firing(verified, before, fires):
    """The cardholder on a shopping afternoon gives the PIN above the contactless limit. A
    tap at a jeweller after one at a department store: an unverified cash-out purchase
    again, and in a category new to the card; one condition, both rules."""
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
    decided = fired(authorize(card, **JEWELLER, **TAP))
    assert ("unverified_cash_out_again" in decided) is fires
    assert (NEW_CATEGORY in decided) is fires


def test_its_categories_are_a_param():
    set_rule("unverified_cash_out_again", mccs=["5921"])
    card = _regular()
    authorize(card, transaction_time=NOW - 20 * 60 * SECOND, **DEPARTMENT, **TAP)
    assert "unverified_cash_out_again" not in fired(
        authorize(card, **LIQUOR, **TAP, transaction_time=NOW - SECOND)
    )
    assert "unverified_cash_out_again" in fired(authorize(card, merchant_id="M-LIQ2", mcc="5921", **TAP))


def test_a_failed_pin_now_is_left_to_the_pin_check():
    """Declined as 55 before risk counts; scored by the rules that read a failed PIN."""
    card = _regular()
    authorize(card, transaction_time=NOW - 20 * 60 * SECOND, **DEPARTMENT, **TAP)
    decided = authorize(card, **LIQUOR, entry_mode="chip", cardholder_verification="pin_failed")
    assert decided.response_code == "55"
    assert "unverified_cash_out_again" not in fired(decided)


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
    assert retried.response_code == "00" and "unverified_cash_out_again" not in fired(retried)
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
    assert decided.response_code == "00" and "unverified_cash_out_again" not in fired(decided)


# --- Unverified in person at a cash-out category new to the card ----------------------------------


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
    decided = authorize(chip_card(), **now)
    assert (NEW_CATEGORY in fired(decided)) is fires
    assert decided.response_code == ("1A" if fires else "00")
    if fires:
        assert factors(decided)[NEW_CATEGORY] == {
            "code": NEW_CATEGORY,
            "score": 0,
            "detail": "No verified cardholder at merchant M-JWL, in a category this card never bought in "
            "(5944), and no PIN or device verification on this card in the last hour.",
        }


@pytest.mark.parametrize(
    ("before", "days", "fires"),
    [("approved", 20, False), ("approved", 400, False), ("declined", 20, True), ("online", 20, False)],
    ids=[
        "bought there by chip and PIN",
        "bought there 400 days ago",
        "declined there",
        "bought there online",
    ],
)
def test_a_category_the_card_bought_in_before_is_not_new(before, days, fires):
    """However long ago (beyond the card history's 30 days), at another merchant of it; a
    decline is not a purchase."""
    card = chip_card()
    where = {"merchant_id": "M-JWL-OLD", "mcc": "5944", "transaction_time": NOW - days * DAY}
    if before == "online":
        authorize(card, **where, **ONLINE)
    else:
        amount = 10_000_000_00 if before == "declined" else 4200  # over the balance: declined 51
        done = authorize(
            card, amount_minor=amount, entry_mode="chip", cardholder_verification="pin_verified", **where
        )
        assert done.status == before
    assert (NEW_CATEGORY in fired(authorize(card, **JEWELLER, **TAP))) is fires


def test_the_new_category_rules_categories_are_a_param():
    set_rule(NEW_CATEGORY, mccs=["5921"])
    assert NEW_CATEGORY not in fired(authorize(chip_card(), **JEWELLER, **TAP))
    assert NEW_CATEGORY in fired(authorize(chip_card(), merchant_id="M-LIQ", mcc="5921", **TAP))


def test_the_cardholder_asked_once_gives_the_pin_and_is_not_asked_again_in_the_category():
    card = chip_card()
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
    assert later.response_code == "00" and NEW_CATEGORY not in fired(later)


def test_a_backtest_re_decides_the_new_category_rule_from_the_stored_values():
    card = chip_card()
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
