"""The card-testing rules at their threshold and window edges: merchant_card_testing and
bin_card_testing (failed card checks, or declines, across cards in a window),
merchant_card_testing_small (a small purchase where a run has begun) and
card_tested_at_merchant (a card that failed a check where card testing went on)."""

import datetime
from types import SimpleNamespace

import pytest

from fraud.card_testing import card_tested_at_merchant, merchant_card_testing_small
from fraud.configuration import read_config
from fraud.models import FraudConfigVersion, Rule
from fraud.params import validate_rule_params
from fraud.rules import FULL_WEIGHT
from fraud.services import model_activate
from tests.authorizing import authorize_at, codes, factors, wrong_cvv
from tests.factories import TEST_ACTOR, BinFactory, CardFactory
from tests.fraud.clock import DAY, HOUR, MINUTE, NOW, SECOND, TICK
from tests.fraud.configuration import go_live, set_rule, set_settings
from tests.fraud.modelling import history, train
from transactions.cross_card_queries import window_bounds
from transactions.services.minute_counts import minute_counts_prune

authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db

TESTED = "M-TESTED"
WINDOW = 30 * MINUTE
# The windows across cards are whole minutes (the attempt's and those before it): the first
# instant of the first minute of a window that ends with NOW's.
FIRST_INSTANT = window_bounds(NOW, WINDOW)[0]
ZERO = datetime.timedelta(0)


@pytest.fixture(autouse=True)
def thresholds(db):
    """Every rule at three failed card checks in 30 minutes (declines and shares off
    unless a test sets them): small numbers, the same edges."""
    for code in ("merchant_card_testing", "bin_card_testing", "card_tested_at_merchant"):
        rule = set_rule(code, window_minutes=30, min_failures=3)
        rule.params = {k: v for k, v in rule.params.items() if k in ("window_minutes", "min_failures")}
        rule.save()
    go_live()


@pytest.fixture
def tested_bin(db):
    return BinFactory()


def _card(bin=None):
    return CardFactory(bin=bin or BinFactory(), balance_minor=1_000_00)


def _fail(card, *, at=NOW - MINUTE, merchant_id=TESTED, how="cvv"):
    wrong = {"cvv": wrong_cvv(card)} if how == "cvv" else {"expiry_month": card.expiry_month % 12 + 1}
    return authorize(card, merchant_id=merchant_id, transaction_time=at, **wrong)


def _unknown(bin, n, *, at=NOW - MINUTE, merchant_id=TESTED):
    """An attempt on a made-up number of the BIN: answered 14, recorded without a card."""
    number = SimpleNamespace(
        pan=f"{bin.bin}{n:010d}", cvv="123", expiry_month=1, expiry_year=2030, currency="USD"
    )
    return authorize(number, merchant_id=merchant_id, transaction_time=at)


def _probe(card=None, *, merchant_id=TESTED, **changes):
    """A purchase with the card's right CVV and expiry at NOW: its factors by code."""
    return factors(authorize(card or _card(), merchant_id=merchant_id, **changes))


def test_shipped_declining_from_three_failed_checks_in_version_1_and_the_working_copy():
    """Version 1, as migrations leave a fresh database (this module's fixture puts its own
    thresholds live after it)."""
    shipped = FraudConfigVersion.objects.get(number=1).snapshot["rules"]["merchant_card_testing"]
    assert shipped["score"] == 80 and shipped["params"]["min_failures"] == 3
    assert shipped["params"]["min_failure_share"] == 0.1
    tested = FraudConfigVersion.objects.get(number=1).snapshot["rules"]["card_tested_at_merchant"]
    assert tested["params"] == {"window_minutes": 1440, "min_failures": 10, "min_failure_share": 0.1}
    assert Rule.objects.get(code="merchant_card_testing").score == 80
    assert "merchant_card_testing" in FULL_WEIGHT


# --- merchant_card_testing ---------------------------------------------------------------------


@pytest.mark.parametrize(("failing_cards", "fires"), [(2, False), (3, True)])
def test_the_merchant_rule_fires_from_min_failures_cards_failing_a_check_there(failing_cards, fires):
    for _ in range(failing_cards):
        _fail(_card())
    assert ("merchant_card_testing" in _probe()) is fires


def test_wrong_expiry_dates_count_at_the_merchant_like_wrong_cvvs():
    _fail(_card(), how="cvv")
    _fail(_card(), how="expiry")
    _fail(_card(), how="expiry")
    assert _probe()["merchant_card_testing"]["detail"] == (
        "3 failed card checks (cards with a wrong CVV or expiry date, unknown card numbers) at merchant "
        "M-TESTED in the last 30 minutes (from 3)."
    )


def test_one_card_failing_again_and_again_is_one_card():
    set_settings(cvv_failure_limit=10)
    clumsy = _card()
    for n in range(5):
        _fail(clumsy, at=NOW - (n + 1) * SECOND)
    _fail(_card())
    assert "merchant_card_testing" not in _probe()


def test_unknown_card_numbers_count_at_the_merchant_each_attempt(tested_bin):
    for n in range(3):
        _unknown(tested_bin, n)
    assert "merchant_card_testing" in _probe()


def test_failures_at_another_merchant_do_not_count_here():
    for _ in range(3):
        _fail(_card(), merchant_id="M-ELSEWHERE")
    assert "merchant_card_testing" not in _probe()


@pytest.mark.parametrize(("before", "fires"), [(ZERO, True), (TICK, False)], ids=["edge in", "out"])
def test_the_merchant_window_starts_with_the_minute_window_minutes_back(before, fires):
    for _ in range(3):
        _fail(_card(), at=FIRST_INSTANT - before)
    assert ("merchant_card_testing" in _probe()) is fires


def test_an_attempt_dated_before_the_pruned_counts_never_divides_by_nought():
    """Three failed checks three days back, their minutes' counts pruned since (the rows
    stay): an attempt dated just after them reads the failures from the rows and no
    transactions from the counts. The share is then all of them, not an error that the
    engine would answer with a decline."""
    set_rule("merchant_card_testing", min_failure_share=0.1, min_declines=3, min_decline_share=0.5)
    long_ago = NOW - 3 * DAY
    for _ in range(3):
        _fail(_card(), at=long_ago)
    assert minute_counts_prune(now=NOW) > 0

    probe = _probe(transaction_time=long_ago + MINUTE)

    assert "risk_engine_error" not in probe
    assert probe["merchant_card_testing"]["detail"].endswith("100% of its 3 transactions (from 10%).")


@pytest.mark.parametrize(
    ("approved", "declined", "fires"),
    [(4, 4, True), (3, 3, False), (5, 4, False)],
    ids=["4 declines, half", "3 declines (min_declines - 1)", "4 declines, under half"],
)
def test_the_merchant_rule_fires_on_declines_that_are_a_share_of_the_window(approved, declined, fires):
    set_rule("merchant_card_testing", min_failures=100, min_declines=4, min_decline_share=0.5)
    for _ in range(approved):
        authorize(_card(), merchant_id=TESTED, transaction_time=NOW - MINUTE)
    for _ in range(declined):  # insufficient funds: no failed card check
        authorize(_card(), merchant_id=TESTED, amount_minor=2_000_00, transaction_time=NOW - MINUTE)
    probe = _probe()
    assert ("merchant_card_testing" in probe) is fires
    if fires:
        assert probe["merchant_card_testing"]["detail"] == (
            "4 declines of 8 transactions at merchant M-TESTED in the last 30 minutes (from 4, 50% of them "
            "from 50%)."
        )


@pytest.mark.parametrize(
    ("honest", "fires"),
    [(27, True), (28, False)],
    ids=["3 of 30 transactions, 10%", "3 of 31, under 10%"],
)
def test_with_min_failure_share_failed_checks_must_be_that_share_of_the_window(honest, fires):
    """A busy merchant's honest typos are a few in a hundred: not a tester's run."""
    set_rule("merchant_card_testing", min_failure_share=0.1)
    for _ in range(honest):
        authorize(_card(), merchant_id=TESTED, transaction_time=NOW - MINUTE)
    for _ in range(3):
        _fail(_card())
    probe = _probe()
    assert ("merchant_card_testing" in probe) is fires
    if fires:
        assert probe["merchant_card_testing"]["detail"] == (
            "3 failed card checks (cards with a wrong CVV or expiry date, unknown card numbers) at merchant "
            "M-TESTED in the last 30 minutes (from 3), 10% of its 30 transactions (from 10%)."
        )


# --- bin_card_testing --------------------------------------------------------------------------


@pytest.mark.parametrize(("failing_cards", "fires"), [(2, False), (3, True)])
def test_the_bin_rule_fires_from_min_failures_cards_of_the_bin_at_any_merchants(
    tested_bin, failing_cards, fires
):
    for n in range(failing_cards):
        _fail(_card(tested_bin), merchant_id=f"M-{n}")
    probe = _probe(_card(tested_bin), merchant_id="M-1001")
    assert ("bin_card_testing" in probe) is fires
    assert "merchant_card_testing" not in probe


def test_failures_in_another_bin_do_not_count(tested_bin):
    for n in range(3):
        _fail(_card(tested_bin), merchant_id=f"M-{n}")
    assert "bin_card_testing" not in _probe(merchant_id="M-1001")  # a card of a BIN of its own


def test_unknown_card_numbers_count_in_their_bin(tested_bin):
    for n in range(3):
        _unknown(tested_bin, n, merchant_id=f"M-{n}")
    assert "bin_card_testing" in _probe(_card(tested_bin), merchant_id="M-1001")


@pytest.mark.parametrize(("before", "fires"), [(ZERO, True), (TICK, False)], ids=["edge in", "out"])
def test_the_bin_window_starts_with_the_minute_window_minutes_back(tested_bin, before, fires):
    for n in range(3):
        _fail(_card(tested_bin), merchant_id=f"M-{n}", at=FIRST_INSTANT - before)
    assert ("bin_card_testing" in _probe(_card(tested_bin), merchant_id="M-1001")) is fires


# --- merchant_card_testing_small -----------------------------------------------------------------

SMALL = "merchant_card_testing_small"


def test_shipped_from_two_failed_checks_at_half_the_traffic_on_purchases_up_to_5_usd():
    shipped = FraudConfigVersion.objects.get(number=1).snapshot["rules"][SMALL]
    assert shipped == {
        "enabled": True,
        "score": 80,
        "params": {"min_failures": 2, "min_failure_share": 0.5, "max_amount_usd": 5},
    }
    assert SMALL in FULL_WEIGHT


@pytest.mark.parametrize(
    ("failing_cards", "amount_minor", "fires"),
    [(2, 5_00, True), (1, 5_00, False), (2, 5_01, False)],
    ids=["2 failures, 5.00 USD", "1 failure", "5.01 USD"],
)
def test_the_small_purchase_rule_fires_from_min_failures_up_to_max_amount_usd(
    failing_cards, amount_minor, fires
):
    for _ in range(failing_cards):
        _fail(_card())
    decided = authorize(_card(), merchant_id=TESTED, amount_minor=amount_minor)
    assert (SMALL in codes(decided)) is fires
    assert "merchant_card_testing" not in codes(decided)  # 3 failed checks in this module
    assert decided.response_code == ("59" if fires else "00")
    if fires:
        assert factors(decided)[SMALL]["detail"] == (
            "A purchase of 5.00 USD (up to 5) at merchant M-TESTED, where 2 card checks failed (cards with a "
            "wrong CVV or expiry date, unknown card numbers) in the last 30 minutes (from 2), 100% of its 2 "
            "transactions (from 50%): a card-testing run beginning."
        )


@pytest.mark.parametrize(("honest", "fires"), [(2, True), (3, False)], ids=["2 of 4, half", "2 of 5"])
def test_the_small_purchase_rule_needs_the_failures_to_be_min_failure_share_of_the_window(honest, fires):
    """A busy merchant's two honest typos are a small share of its traffic."""
    for _ in range(honest):
        authorize(_card(), merchant_id=TESTED, transaction_time=NOW - 2 * MINUTE)
    _fail(_card())
    _unknown(BinFactory(), 1)
    decided = authorize(_card(), merchant_id=TESTED, amount_minor=1_50)
    assert decided.risk_features["merchant_testing_attempts"] == honest + 2
    assert (SMALL in codes(decided)) is fires


def test_the_small_purchase_rule_counts_in_merchant_card_testings_window():
    set_rule("merchant_card_testing", window_minutes=10)
    since, _ = window_bounds(NOW, 10 * MINUTE)
    for _ in range(2):
        _fail(_card(), at=since - TICK)
    assert SMALL not in _probe(amount_minor=1_00)
    for _ in range(2):
        _fail(_card(), at=since)
    assert SMALL in _probe(amount_minor=1_00)


@pytest.mark.parametrize(("amount_usd", "fires"), [(4.99, True), (None, False)], ids=["4.99 USD", "no rate"])
def test_the_small_purchase_rule_reads_the_stored_amount_in_usd_and_never_fires_without_one(
    amount_usd, fires
):
    """The amount at reference rates, as stored with the decision (a backtest reads the
    same); a currency without a rate is not compared."""
    values = {"merchant_testing_failures": 2, "merchant_testing_attempts": 2, "amount_usd": amount_usd}
    ctx = SimpleNamespace(values=values, config=read_config(), attempt=SimpleNamespace(merchant_id=TESTED))
    params = {"min_failures": 2, "min_failure_share": 0.5, "max_amount_usd": 5}
    assert (merchant_card_testing_small(ctx, params) is not None) is fires


# --- card_tested_at_merchant --------------------------------------------------------------------


@pytest.mark.parametrize(("others", "fires"), [(1, False), (2, True)], ids=["2 failures there", "3"])
def test_a_card_that_failed_a_check_is_declined_where_min_failures_checks_failed(others, fires):
    set_rule("merchant_card_testing", min_failures=100)  # this rule alone
    tested = _card()
    _fail(tested, at=NOW - 2 * MINUTE)
    for _ in range(others):
        _fail(_card())
    decided = authorize(tested, merchant_id=TESTED)
    assert ("card_tested_at_merchant" in codes(decided)) is fires
    assert decided.response_code == ("59" if fires else "00")


@pytest.mark.parametrize(
    ("honest", "fires"),
    [(27, True), (28, False)],
    ids=["3 failures of 30 transactions, 10%", "3 of 31, under 10%"],
)
def test_with_min_failure_share_the_merchants_failures_must_be_that_share_of_its_window(honest, fires):
    """The cardholder who mistyped at a busy merchant and types again is not a tester."""
    set_rule("merchant_card_testing", min_failures=100)  # this rule alone
    set_rule("card_tested_at_merchant", min_failure_share=0.1)
    for _ in range(honest):
        authorize(_card(), merchant_id=TESTED, transaction_time=NOW - 3 * MINUTE)
    tested = _card()
    _fail(tested, at=NOW - 2 * MINUTE)
    for _ in range(2):
        _fail(_card())
    decided = authorize(tested, merchant_id=TESTED)
    assert decided.risk_features["merchant_attempts_long"] == honest + 3
    assert ("card_tested_at_merchant" in codes(decided)) is fires
    assert decided.response_code == ("59" if fires else "00")
    if fires:
        assert factors(decided)["card_tested_at_merchant"]["detail"] == (
            "This card failed 1 check (wrong CVV or expiry date) at merchant M-TESTED, where 3 card checks "
            "failed in the last 30 minutes (from 3), 10% of its 30 transactions (from 10%): card testing."
        )


def test_without_the_count_of_the_window_a_stored_decision_is_judged_as_it_was():
    """Decisions stored before merchant_attempts_long existed: the share is not checked."""
    params = {"window_minutes": 30, "min_failures": 3, "min_failure_share": 0.1}

    def fires(**counted) -> bool:
        values = {"card_failures_at_merchant": 1, "merchant_failures_long": 3, **counted}
        ctx = SimpleNamespace(
            values=values, config=read_config(), attempt=SimpleNamespace(merchant_id=TESTED)
        )
        return card_tested_at_merchant(ctx, params) is not None

    assert fires() and fires(merchant_attempts_long=30) and not fires(merchant_attempts_long=31)


def test_a_card_that_failed_elsewhere_is_not_declined_at_the_tested_merchant():
    tested = _card()
    _fail(tested, merchant_id="M-ELSEWHERE")
    for _ in range(3):
        _fail(_card())
    assert "card_tested_at_merchant" not in _probe(tested)


def test_a_card_whose_own_checks_never_failed_there_is_not_declined():
    set_rule("merchant_card_testing", min_failures=100)  # this rule alone
    for _ in range(5):
        _fail(_card())
    decided = authorize(_card(), merchant_id=TESTED)
    assert "card_tested_at_merchant" not in codes(decided) and decided.response_code == "00"


def test_under_card_testing_the_merchant_declines_an_untouched_card_which_another_merchant_approves():
    """merchant_card_testing at its shipped 80 points: every purchase at the merchant
    while its failed checks reach min_failures, not only the tested cards'."""
    for _ in range(3):
        _fail(_card())
    untouched = _card()

    there = authorize(untouched, merchant_id=TESTED)
    elsewhere = authorize(untouched, merchant_id="M-ELSEWHERE")

    assert there.response_code == "59" and codes(there)[0] == "merchant_card_testing"
    assert elsewhere.response_code == "00" and "merchant_card_testing" not in codes(elsewhere)


@pytest.mark.parametrize(("before", "fires"), [(ZERO, True), (TICK, False)], ids=["edge in", "out"])
def test_the_tested_card_window_starts_with_the_minute_window_minutes_back(before, fires):
    tested = _card()
    _fail(tested, at=FIRST_INSTANT - before)
    for _ in range(2):
        _fail(_card())
    assert ("card_tested_at_merchant" in _probe(tested)) is fires


def test_a_wrong_expiry_marks_the_card_tested_like_a_wrong_cvv():
    tested = _card()
    _fail(tested, how="expiry", at=NOW - 2 * MINUTE)
    for _ in range(2):
        _fail(_card(), how="expiry")
    decided = authorize(tested, merchant_id=TESTED)
    assert decided.response_code == "59" and codes(decided)[0] == "card_tested_at_merchant"


def test_beside_an_active_model_the_tested_card_rule_keeps_its_full_points(card):
    history(card)
    model_activate(model=train(), actor=TEST_ACTOR)
    tested = _card()
    for n in range(5):  # a card with history: the other rules count at the rule weight
        authorize(tested, transaction_time=NOW - (n + 1) * HOUR)
    _fail(tested, at=NOW - 2 * MINUTE)
    for _ in range(2):
        _fail(_card())
    decided = authorize(tested, merchant_id=TESTED)
    assert factors(decided)["card_tested_at_merchant"]["score"] == 80
    assert factors(decided)["merchant_card_testing"]["score"] == 80  # in full too, not at 0.3
    assert decided.response_code == "59"


# --- What each decision stores, and the params ---------------------------------------------------


def test_each_decision_stores_the_card_testing_counts_it_saw(tested_bin):
    tested = _card(tested_bin)
    _fail(tested, at=NOW - 2 * MINUTE)
    _fail(_card(tested_bin), how="expiry")
    _unknown(tested_bin, 1)
    stored = authorize(tested, merchant_id=TESTED).risk_features
    assert {name: stored[name] for name in stored if "testing" in name or "failures" in name} == {
        "card_failures_at_merchant": 1,
        "merchant_testing_attempts": 3,
        "merchant_testing_failures": 3,
        "merchant_testing_declines": 3,
        "merchant_failures_long": 3,
        "bin_testing_attempts": 3,
        "bin_testing_failures": 3,
        "bin_testing_declines": 3,
    }
    assert stored["expiry_mismatch"] is False


@pytest.mark.parametrize(
    ("code", "params", "errors"),
    [
        ("merchant_card_testing", {"window_minutes": 1441, "min_failures": 3}, {"window_minutes"}),
        (
            "bin_card_testing",
            {"window_minutes": 60, "min_failures": 3, "min_decline_share": 0.5},
            {"min_decline_share"},
        ),
        (
            "merchant_card_testing",
            {"window_minutes": 60, "min_failures": 3, "min_failure_share": 1.5},
            {"min_failure_share"},
        ),
        ("merchant_card_testing", {"window_minutes": 60, "min_failures": 3, "min_failure_share": 0.1}, set()),
        (SMALL, {"min_failures": 2, "min_failure_share": 0.5, "max_amount_usd": 5}, set()),
        (SMALL, {"min_failures": 2, "min_failure_share": 0.5}, {"max_amount_usd"}),
        (SMALL, {"min_failures": 2, "min_failure_share": 0.5, "max_amount_usd": "5"}, {"max_amount_usd"}),
        (SMALL, {"min_failures": 2, "min_failure_share": 0, "max_amount_usd": 5}, {"min_failure_share"}),
        ("card_tested_at_merchant", {"window_minutes": 1440, "min_failures": 0}, {"min_failures"}),
        ("card_tested_at_merchant", {"window_minutes": 1440, "min_failures": 10}, set()),
        (
            "card_tested_at_merchant",
            {"window_minutes": 1440, "min_failures": 10, "min_failure_share": 0},
            {"min_failure_share"},
        ),
    ],
)
def test_the_card_testing_params_are_checked(code, params, errors):
    assert set(validate_rule_params(code, params)) == errors
