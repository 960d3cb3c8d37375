"""Where detection was weakest: cards with little history beside an active model (the
rules count in full below `full_weight_below_approvals` approvals in 30 days) and a
failed card check at a merchant new to the card, abroad (card_check_new_merchant). Both
are versioned configuration, and a backtest re-decides them from what was stored."""

import pytest

from fraud.backtest import backtest
from fraud.config_diff import Change, diff
from fraud.configuration import as_snapshot, read_config
from fraud.models import FraudConfigVersion, Rule
from fraud.params import validate_rule_params
from fraud.services import model_activate
from fraud.versions import config_version_create, live_version
from tests.authorizing import authorize_at, codes, factors, wrong_cvv
from tests.factories import TEST_ACTOR, CardFactory
from tests.fraud.clock import DAY, HOUR, NOW
from tests.fraud.configuration import go_live, set_rule
from tests.fraud.modelling import history, train

authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db

ABROAD = {"merchant_id": "M-PARIS", "merchant_country": "FR", "channel": "ecommerce"}


def _fresh_card():
    """A new card of a US cardholder (conftest's `card` carries the model's history)."""
    return CardFactory(balance_minor=1_000_000_00)


def _approvals(card, count: int) -> None:
    """`count` ordinary approvals in the last 30 days, at the coffee shop at home."""
    for n in range(count):
        assert authorize(card, transaction_time=NOW - (n + 1) * DAY).response_code == "00"


# --- card_check_new_merchant --------------------------------------------------------------------


def test_shipped_with_its_points_in_the_live_version():
    live = live_version()
    assert live.snapshot["rules"]["card_check_new_merchant"] == {"enabled": True, "score": 80, "params": {}}
    assert live.snapshot["rules"]["model"]["params"]["full_weight_below_approvals"] == 5
    assert live.snapshot == as_snapshot(read_config())  # the working copy agrees


@pytest.mark.parametrize(
    ("failed", "where", "fires"),
    [
        ("cvv", "new abroad", True),
        ("expiry", "new abroad", True),
        (None, "new abroad", False),
        ("cvv", "new at home", False),
        ("cvv", "known abroad", False),
    ],
)
def test_a_failed_card_check_counts_only_at_a_new_merchant_abroad(failed, where, fires):
    card = _fresh_card()
    merchant = dict(ABROAD)
    if where == "new at home":
        merchant["merchant_country"] = "US"
    if where == "known abroad":  # the card bought there yesterday
        authorize(card, **merchant, transaction_time=NOW - DAY)
    wrong = {}
    if failed == "cvv":
        wrong = {"cvv": wrong_cvv(card)}
    elif failed == "expiry":
        wrong = {"expiry_month": card.expiry_month % 12 + 1}
    decided = authorize(card, **merchant, **wrong)
    assert ("card_check_new_merchant" in codes(decided)) is fires
    if fires:
        factor = factors(decided)["card_check_new_merchant"]
        assert factor["score"] == 80
        assert factor["detail"] == (
            "Wrong CVV or expiry date at merchant M-PARIS in FR, new to this card (cardholder lives in US)."
        )


def test_switched_off_it_is_silent():
    set_rule("card_check_new_merchant", enabled=False)
    card = _fresh_card()
    assert "card_check_new_merchant" not in codes(authorize(card, **ABROAD, cvv=wrong_cvv(card)))


def test_it_reads_no_thresholds():
    assert validate_rule_params("card_check_new_merchant", {}) == {}
    assert "min" in validate_rule_params("card_check_new_merchant", {"min": 1})


# --- Rules in full beside a model on cards with little history -----------------------------------


@pytest.fixture
def active(card):
    """A model trained on conftest's card's history (tests/fraud/modelling.py), made active."""
    history(card)
    model = train()
    model_activate(model=model, actor=TEST_ACTOR)
    return model


@pytest.mark.parametrize(("approvals", "points"), [(4, 10), (5, 3)], ids=["below: in full", "at: weighted"])
def test_beside_a_model_the_rules_count_in_full_below_the_approvals_edge(active, approvals, points):
    """foreign_country's 10 points: in full with 4 approvals in 30 days (below 5), at the
    rule weight (0.3: 3 points) from 5."""
    card = _fresh_card()
    _approvals(card, approvals)
    decided = authorize(card, merchant_country="FR")
    assert "model" in codes(decided)
    assert factors(decided)["foreign_country"]["score"] == points


def test_the_edge_is_the_model_rules_param(active):
    set_rule("model", full_weight_below_approvals=2)
    card = _fresh_card()
    _approvals(card, 2)
    assert factors(authorize(card, merchant_country="FR"))["foreign_country"]["score"] == 3


def test_without_the_param_the_rules_are_weighted_on_every_card(active):
    rule = Rule.objects.get(code="model")
    rule.params = {k: v for k, v in rule.params.items() if k != "full_weight_below_approvals"}
    rule.save()
    go_live()
    decided = authorize(_fresh_card(), merchant_country="FR")
    assert factors(decided)["foreign_country"]["score"] == 3


def test_a_failed_check_at_a_new_merchant_abroad_keeps_its_points_beside_a_model_on_any_card(active):
    card = _fresh_card()
    _approvals(card, 6)
    decided = authorize(card, **ABROAD, cvv=wrong_cvv(card))
    assert factors(decided)["card_check_new_merchant"]["score"] == 80
    assert factors(decided)["cvv_mismatch"]["score"] == 9  # 30 at the rule weight
    assert decided.risk_level == "high" and decided.response_code == "N7"


@pytest.mark.parametrize("value", [0, -1, 2.5, "5", True])
def test_the_param_must_be_a_whole_number_above_zero(value):
    errors = validate_rule_params("model", {"rule_weight": 0.3, "full_weight_below_approvals": value})
    assert set(errors) == {"full_weight_below_approvals"}


# --- Versions and backtests ----------------------------------------------------------------------


def test_a_change_of_the_edge_is_a_version_with_its_difference():
    rule = Rule.objects.get(code="model")
    rule.params = {**rule.params, "full_weight_below_approvals": 10}
    rule.save()
    live = live_version()
    draft = config_version_create(actor=TEST_ACTOR, reason="New cards: ten approvals.")
    assert draft.snapshot["rules"]["model"]["params"]["full_weight_below_approvals"] == 10
    assert diff(live.snapshot, draft.snapshot) == [
        Change("rule", "model", "param full_weight_below_approvals", "5", "10")
    ]
    assert FraudConfigVersion.objects.get(number=live.number).snapshot == live.snapshot  # unchanged


def test_a_backtest_of_the_live_version_reproduces_the_new_card_decisions(active):
    """Decided by both novelties (a card below the edge; a wrong CVV at a new merchant
    abroad), then backtested from the stored values: every decision and score again."""
    card = _fresh_card()
    _approvals(card, 2)
    first = authorize(card, merchant_country="FR", transaction_time=NOW - HOUR)
    second = authorize(card, **ABROAD, cvv=wrong_cvv(card))
    assert factors(first)["foreign_country"]["score"] == 10
    assert "card_check_new_merchant" in codes(second)
    # The model's history ends nine days back: the window holds this card's four decisions.
    report = backtest(version=live_version(), since=NOW - 5 * DAY, until=NOW + HOUR)
    assert report.decisions == 4 and report.not_redecidable == 0
    assert report.changed == 0 and report.score_changes == 0
