"""The seam between authorizations and risk scoring (transactions/signals.py): what a
receiver gets and returns, and what happens when one raises."""

import ast
import logging
import weakref
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

import transactions
from cards.models import LedgerEntry
from fraud import receivers as fraud_receivers
from tests.authorizing import balance, decide, post_authorization, written
from transactions.models import Transaction
from transactions.services.authorizations import combine_assessments
from transactions.signals import (
    AuthorizationAttempt,
    RiskAssessment,
    RiskFactor,
    authorization_attempted,
    authorization_recorded,
)

pytestmark = pytest.mark.django_db


@contextmanager
def connected(signal, receiver):
    """A receiver for the duration of a block only."""
    signal.connect(receiver, weak=False, dispatch_uid="test-receiver")
    try:
        yield
    finally:
        signal.disconnect(dispatch_uid="test-receiver")


def receivers_of(signal):
    refs = [entry[1] for entry in signal.receivers]
    return [ref() if isinstance(ref, weakref.ReferenceType) else ref for ref in refs]


def test_the_fraud_apps_receivers_are_connected():
    assert fraud_receivers.assess_risk in receivers_of(authorization_attempted)
    assert fraud_receivers.react_to_outcome in receivers_of(authorization_recorded)


def test_a_risky_transaction_gets_the_fraud_apps_factors(authorize_api, card, rule):
    rule("foreign_country", 10)

    answer = decide(authorize_api, card, merchant_country="FR")

    assert [f["code"] for f in answer["risk_factors"]] == ["foreign_country"]
    assert answer["risk_score"] == 10


def test_a_receiver_sees_the_attempt_without_the_card_number_or_cvv(authorize_api, card):
    seen = []

    with connected(authorization_attempted, lambda sender, attempt, **kwargs: seen.append(attempt)):
        decide(authorize_api, card, transaction_time="2026-01-05T10:00:00Z")

    (attempt,) = seen
    assert isinstance(attempt, AuthorizationAttempt)
    assert (attempt.card.pk, attempt.amount_minor, attempt.cvv_result) == (card.pk, 42_00, "match")
    assert attempt.transaction_time.isoformat() == "2026-01-05T10:00:00+00:00"
    assert card.pan not in repr(attempt) and not hasattr(attempt, "cvv")


def test_assessments_of_several_receivers_add_up(authorize_api, card):
    extra = RiskAssessment(score=7, level="low", factors=[RiskFactor("test_rule", 7, "A test.")])

    with connected(authorization_attempted, lambda sender, **kwargs: extra):
        answer = decide(authorize_api, card, merchant_country="US")

    assert answer["risk_score"] == 7 and answer["risk_factors"][-1]["code"] == "test_rule"


@pytest.mark.parametrize(
    ("assessment", "code", "flagged"),
    [
        (None, "00", False),  # abstains
        (RiskAssessment(score=0, level="low", restriction="Not here."), "57", False),
        (RiskAssessment(score=90, level="high", decline=True, review=True), "59", True),
        (RiskAssessment(score=60, level="medium", review=True), "00", True),
        (RiskAssessment(score=0, level="low", verification="Ask for the PIN."), "1A", False),
        (RiskAssessment(score=90, level="high", decline=True, verification="Ask for the PIN."), "59", False),
        (RiskAssessment(score=0, level="low", restriction="Not here.", verification="Ask."), "57", False),
    ],
)
def test_a_receivers_assessment_decides(authorize_api, card, assessment, code, flagged):
    with connected(authorization_attempted, lambda sender, **kwargs: assessment):
        answer = decide(authorize_api, card)

    assert (answer["response_code"], answer["flagged"]) == (code, flagged)


def test_a_step_up_is_a_soft_decline_that_debits_nothing(authorize_api, card):
    ask = RiskAssessment(score=0, level="low", verification="Ask for the PIN.")

    with connected(authorization_attempted, lambda sender, **kwargs: ask):
        answer = decide(authorize_api, card)

    assert (answer["status"], answer["response_code"], answer["reason"]) == (
        "declined",
        "1A",
        "verification_required",
    )
    assert balance(card) == 100_00 and not LedgerEntry.objects.filter(kind="debit").exists()


def test_a_step_up_is_combined_over_answers_like_a_restriction():
    ask = RiskAssessment(score=0, level="low", verification="Ask for the PIN.")
    points = RiskAssessment(score=7, level="low", factors=[RiskFactor("test_rule", 7, "A test.")])

    combined = combine_assessments([points, ask])

    assert (combined.score, combined.verification, combined.decline) == (7, "Ask for the PIN.", False)
    assert combine_assessments([points, points]).verification is None


def test_a_receiver_that_raises_fails_closed_and_the_decision_is_recorded(authorize_api, card, caplog):
    def broken(sender, **kwargs):
        raise RuntimeError("scoring is down")

    with connected(authorization_attempted, broken), caplog.at_level(logging.ERROR):
        answer = decide(authorize_api, card)

    assert (answer["status"], answer["response_code"], answer["reason"]) == (
        "declined",
        "59",
        "suspected_fraud",
    )
    assert [f["code"] for f in answer["risk_factors"]] == ["risk_engine_error"]
    assert (answer["risk_score"], answer["risk_level"]) == (100, "high")
    assert Transaction.objects.get().response_code == "59"
    assert balance(card) == 100_00 and not LedgerEntry.objects.filter(kind="debit").exists()
    assert "scoring is down" in caplog.text


def test_a_receiver_whose_query_fails_also_fails_closed(authorize_api, card):
    # On PostgreSQL a failed statement aborts the transaction: the decision must survive it.
    def broken(sender, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    with connected(authorization_attempted, broken):
        answer = decide(authorize_api, card)

    assert (answer["response_code"], answer["risk_factors"][0]["code"]) == ("59", "risk_engine_error")
    assert Transaction.objects.get().response_code == "59"


def test_a_receiver_answering_something_else_fails_closed(authorize_api, card):
    with connected(authorization_attempted, lambda sender, **kwargs: {"score": 0}):
        answer = decide(authorize_api, card)

    assert (answer["response_code"], answer["risk_factors"][0]["code"]) == ("59", "risk_engine_error")


# Transactional: the authorization is then its own database transaction, as in production,
# and "nothing written" means a real rollback.
@pytest.mark.django_db(transaction=True)
def test_a_receiver_of_the_outcome_that_raises_writes_nothing_and_answers_a_json_500(
    authorize_api, card, caplog
):
    def broken(sender, **kwargs):
        raise RuntimeError("alerting is down")

    authorize_api.raise_request_exception = False
    before = written()

    with connected(authorization_recorded, broken), caplog.at_level(logging.INFO):
        plain = post_authorization(authorize_api, card)
        keyed = post_authorization(authorize_api, card, key="auth-1")

    for response in (plain, keyed):
        assert response.status_code == 500
        assert response.json() == {"detail": "Internal error. Nothing was changed by this request."}
    assert written() == before
    assert not [r for r in caplog.records if r.name == "cardsystem.authorizations"]  # no decision
    assert decide(authorize_api, card)["response_code"] == "00"  # and the key-less retry works


def test_the_outcome_receivers_get_the_transaction_and_the_assessment(authorize_api, card):
    seen = []

    with connected(authorization_recorded, lambda sender, **kwargs: seen.append(kwargs)):
        answer = decide(authorize_api, card)

    (kwargs,) = seen
    assert str(kwargs["transaction"].pk) == answer["id"]
    assert isinstance(kwargs["assessment"], RiskAssessment)


def test_no_module_of_the_transactions_app_imports_fraud():
    importing = []
    for path in Path(transactions.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            importing += [(path.name, name) for name in names if name.split(".")[0] == "fraud"]

    assert importing == []
