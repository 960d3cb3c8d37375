"""Fraud alerts: opened once for each flagged decision, decided by analysts through
fraud.services.alert_decide (open -> investigating -> confirmed fraud / false positive)."""

import pytest
from django.core.exceptions import ValidationError

from cards.models import Card
from cardsystem.audit import Actor, AuditAction
from cardsystem.exceptions import ConflictError
from cardsystem.models import AuditLog
from fraud.models import FraudAlert
from fraud.services import alert_decide
from tests.authorizing import authorize_at
from tests.factories import TEST_ACTOR, UserFactory
from tests.fraud.clock import NOW, SECOND
from tests.fraud.configuration import set_rule

# Requests at the clock's NOW unless a test gives its own time (conftest.py `clock`).
authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(card):
    set_rule("foreign_country", score=55)
    decided = authorize(card, merchant_country="FR", amount_minor=100_000)
    return FraudAlert.objects.get(transaction=decided)


@pytest.fixture
def analyst(db):
    return Actor.for_user(UserFactory(username="analyst"))


def _audit(action):
    return list(AuditLog.objects.filter(action=action).order_by("created_at"))


def test_a_flagged_decision_opens_exactly_one_alert_with_its_score_and_reason(alert, card):
    assert FraudAlert.objects.count() == 1
    assert (alert.status, alert.card_id, alert.risk_score) == ("open", card.pk, 75)
    assert alert.risk_score == alert.transaction.risk_score
    assert alert.reason == "Score 75: foreign_country, amount_large"
    assert alert.assignee is None and alert.resolved_at is None


def test_a_decision_below_the_review_threshold_opens_no_alert(card):
    set_rule("foreign_country", score=49)
    decided = authorize(card, merchant_country="FR")
    assert not decided.flagged and not FraudAlert.objects.exists()


def test_a_declined_decision_above_the_decline_threshold_is_reviewed_too(card):
    set_rule("foreign_country", score=80)
    decided = authorize(card, merchant_country="FR")
    assert decided.response_code == "59" and FraudAlert.objects.get().transaction == decided


def test_investigating_assigns_the_alert_to_the_analyst(alert, analyst):
    decided = alert_decide(alert=alert, status="investigating", actor=analyst, notes="Calling the cardholder")
    assert (decided.status, decided.assignee, decided.notes) == (
        "investigating",
        analyst.user,
        "Calling the cardholder",
    )
    assert decided.resolved_at is None
    [row] = _audit(AuditAction.ALERT_DECIDED)
    assert (row.actor_user, row.target_id) == (analyst.user, str(alert.pk))
    assert row.details == {
        "from": "open",
        "to": "investigating",
        "transaction": str(alert.transaction_id),
        "block_card": False,
    }


def test_confirmed_fraud_with_block_card_blocks_the_card(alert, analyst, card, clock):
    alert_decide(alert=alert, status="investigating", actor=analyst)
    clock.shift(SECOND)
    decided = alert_decide(alert=alert, status="confirmed_fraud", actor=analyst, block_card=True)
    assert (decided.status, decided.resolved_by, decided.is_resolved) == (
        "confirmed_fraud",
        analyst.user,
        True,
    )
    assert decided.resolved_at is not None
    assert Card.objects.get(pk=card.pk).status == "blocked"
    assert [r.details["to"] for r in _audit(AuditAction.ALERT_DECIDED)] == [
        "investigating",
        "confirmed_fraud",
    ]
    [change] = _audit(AuditAction.CARD_STATUS_CHANGED)
    assert (change.actor_user, change.target_id, change.details["to"]) == (
        analyst.user,
        str(card.pk),
        "blocked",
    )
    assert authorize(card, transaction_time=NOW + SECOND).response_code == "62"


def test_confirmed_fraud_without_block_card_leaves_the_card_alone(alert, analyst, card):
    alert_decide(alert=alert, status="confirmed_fraud", actor=analyst)
    assert Card.objects.get(pk=card.pk).status == "active"
    assert not _audit(AuditAction.CARD_STATUS_CHANGED)


def test_a_false_positive_resolves_the_alert(alert, analyst):
    decided = alert_decide(alert=alert, status="false_positive", actor=analyst, notes="Travelling")
    assert (decided.status, decided.resolved_by) == ("false_positive", analyst.user)


@pytest.mark.parametrize("first", ["confirmed_fraud", "false_positive"])
@pytest.mark.parametrize("second", ["investigating", "confirmed_fraud", "false_positive"])
def test_a_decided_alert_cannot_be_decided_again(alert, analyst, first, second):
    alert_decide(alert=alert, status=first, actor=analyst)
    with pytest.raises(ConflictError):
        alert_decide(alert=alert, status=second, actor=analyst)
    assert FraudAlert.objects.get(pk=alert.pk).status == first
    assert len(_audit(AuditAction.ALERT_DECIDED)) == 1


@pytest.mark.parametrize(
    ("status", "block_card", "field"),
    [
        ("false_positive", True, "block_card"),
        ("investigating", True, "block_card"),
        ("dismissed", False, "status"),
        ("open", False, "status"),
    ],
)
def test_an_impossible_decision_is_refused_and_writes_nothing(
    alert, analyst, card, status, block_card, field
):
    with pytest.raises(ValidationError) as refused:
        alert_decide(alert=alert, status=status, actor=analyst, block_card=block_card)
    assert field in refused.value.message_dict
    assert FraudAlert.objects.get(pk=alert.pk).status == "open"
    assert not _audit(AuditAction.ALERT_DECIDED)
    assert Card.objects.get(pk=card.pk).status == "active"


def test_an_alert_decided_by_the_system_has_no_assignee(alert):
    decided = alert_decide(alert=alert, status="investigating", actor=TEST_ACTOR)
    assert decided.assignee is None
