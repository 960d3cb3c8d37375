"""Decisions with and without an active model: the one 0-100 score (the model's points
plus the rules' at their weight), the model's factor in words, the `model` rule as the
weights and the switch, and a broken model that never stops a decision."""

import logging
import math

import pytest
from django.db import connection

from fraud import inference
from fraud.models import FraudModel
from fraud.rules import FULL_WEIGHT
from fraud.services import model_activate
from tests.authorizing import authorize_at, factors, wrong_cvv
from tests.factories import TEST_ACTOR, CardFactory
from tests.fraud.clock import MINUTE, NOW
from tests.fraud.configuration import set_rule
from tests.fraud.modelling import history, train

# Requests at the clock's NOW unless a test gives its own time (conftest.py `clock`).
authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db

# Abroad, online, for the first time, at about 22 times the card's 30-day average of
# 42.00, at a merchant where wrong CVVs pile up, in a burst on the card: what the model
# learnt fraud looks like (tests/fraud/modelling.py).
FRAUD_LIKE = {
    "amount_minor": 950_00,
    "merchant_id": "M-TESTING",
    "merchant_country": "FR",
    "channel": "ecommerce",
    "cvv": None,
}


def burst_before(card):
    """In the last hour: four wrong CVVs on other cards at the merchant, then three
    small purchases on this card elsewhere."""
    for _ in range(4):
        other = CardFactory(balance_minor=100_00)
        authorize(other, merchant_id="M-TESTING", cvv=wrong_cvv(other), transaction_time=NOW - 30 * MINUTE)
    for n in range(3):
        authorize(card, amount_minor=5_00, merchant_id=f"M-SHOP-{n}", transaction_time=NOW - 20 * MINUTE)


@pytest.fixture
def active(card):
    """The card's history of 1,200 decisions (tests/fraud/modelling.py) and a model
    trained on it, made active."""
    history(card)
    model = train()
    model_activate(model=model, actor=TEST_ACTOR)
    return model


def test_without_an_active_model_the_rules_alone_decide(card):
    history(card)
    train()  # trained, but staff have not made it active
    decided = authorize(card, **FRAUD_LIKE, transaction_time=NOW)
    assert "model" not in factors(decided)
    assert decided.risk_score == sum(f["score"] for f in decided.risk_factors)


def points(decided) -> dict[str, int]:
    return {f["code"]: f["score"] for f in decided.risk_factors}


def test_a_fraud_like_decision_is_declined_by_the_model_and_explained(card, active):
    burst_before(card)
    decided = authorize(card, **FRAUD_LIKE, transaction_time=NOW)
    model = factors(decided)["model"]
    assert decided.risk_factors[0]["code"] == "model"  # the most points first
    assert decided.response_code == "59" and decided.risk_level == "high"
    assert model["score"] >= 80 and decided.risk_score == min(100, sum(points(decided).values()))
    assert model["detail"].startswith(f"Model v{active.version}: ")
    assert " likely fraud. Pushed up most by: " in model["detail"]
    # In the analyst's words, with the values this decision stored.
    assert "wrong CVVs at this merchant in the last hour: 4" in model["detail"]
    assert decided.risk_features["merchant_cvv_mismatch_1h"] == 4


def test_beside_a_model_each_rule_counts_at_the_rule_weight(card, active):
    burst_before(card)
    set_rule("model", enabled=False)  # the rules alone first, to compare
    alone = points(authorize(card, **FRAUD_LIKE, transaction_time=NOW - MINUTE))
    set_rule("model", enabled=True, rule_weight=0.5)
    with_model = points(authorize(card, **FRAUD_LIKE, transaction_time=NOW))
    rules = {code for code, score in alone.items() if score}
    assert {"amount_unusual", "foreign_country"} <= rules
    weighted = rules & set(with_model) - FULL_WEIGHT
    assert all(with_model[code] == round(alone[code] * 0.5) for code in weighted)
    # The merchant's four wrong CVVs in the hour are card testing there: a verdict, in full.
    assert with_model["merchant_card_testing"] == alone["merchant_card_testing"] == 80


def test_a_usual_decision_keeps_a_low_score_with_the_model_saying_so(card, active):
    decided = authorize(card, transaction_time=NOW)
    model = factors(decided)["model"]
    assert decided.response_code == "00" and model["score"] < 20
    assert decided.risk_score == sum(points(decided).values())


def test_the_models_points_and_the_weighted_rules_add_up(card, active):
    # The model's weight down to 10 points, the rules at full weight: the rules (abroad,
    # no CVV online, a large and unusual amount) now make most of the score.
    set_rule("model", score=10, rule_weight=1)
    burst_before(card)
    decided = authorize(card, **FRAUD_LIKE, transaction_time=NOW)
    rules = sum(score for code, score in points(decided).items() if code != "model")
    assert points(decided)["model"] <= 10 < rules
    assert decided.risk_score == min(100, rules + points(decided)["model"])


def test_switching_the_model_rule_off_decides_by_the_rules_alone(card, active):
    set_rule("model", enabled=False)
    decided = authorize(card, **FRAUD_LIKE, transaction_time=NOW)
    assert "model" not in factors(decided)


def test_a_model_that_cannot_run_leaves_the_decision_to_the_rules(card, active, caplog):
    FraudModel.objects.filter(pk=active.pk).update(artifact="not a model")
    from fraud import inference

    inference.forget_model()
    with caplog.at_level(logging.ERROR, logger="fraud.scoring"):
        decided = authorize(card, transaction_time=NOW)
    assert decided.response_code == "00"
    assert factors(decided)["model_error"]["score"] == 0
    assert "the fraud model failed" in caplog.text


def test_a_failed_read_of_the_model_never_aborts_the_decision(card, active, monkeypatch):
    """On PostgreSQL a failed query aborts the transaction it ran in: the model's read
    has a savepoint of its own, so the decision still stands on the rules."""

    def failing_load(pk, version):
        with connection.cursor() as cursor:
            cursor.execute("SELECT no_such_column FROM fraud_fraudmodel")

    inference.forget_model()
    monkeypatch.setattr(inference, "load", failing_load)
    decided = authorize(card, transaction_time=NOW)
    assert decided.response_code == "00"
    assert points(decided)["model_error"] == 0 and "model" not in points(decided)


def test_a_model_answering_nan_leaves_the_decision_to_the_rules(card, active, monkeypatch):
    monkeypatch.setattr(
        inference, "predict", lambda model, values: inference.Prediction(active.version, math.nan, [])
    )
    decided = authorize(card, transaction_time=NOW)
    assert decided.response_code == "00" and "model_error" in points(decided)
