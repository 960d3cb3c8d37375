"""Cases: a card's alerts worked as one. The engine's alerts join the card's unresolved
case (or open one) at a priority from what it did, with a service level due by that
priority; analysts assign, reprioritise, comment (append-only) and resolve, deciding
every alert of the case at once; every step is audited."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cards.models import Card
from cardsystem.audit import Actor
from cardsystem.exceptions import ConflictError
from cardsystem.models import AuditLog
from fraud import cases
from fraud.models import Case, CaseComment, FraudAlert
from tests.authorizing import authorize_at
from tests.factories import CardFactory, UserFactory
from tests.fraud.clock import MINUTE, NOW
from tests.fraud.configuration import set_rule

pytestmark = pytest.mark.django_db
authorize = authorize_at(NOW)
HOUR = datetime.timedelta(hours=1)
Priority = Case.Priority


@pytest.fixture
def analyst(db):
    return Actor.for_user(UserFactory(username="analyst"))


@pytest.fixture
def flagged(card):
    """Two reviewed approvals on the card (abroad and large: 75), then a decline (85)."""
    set_rule("foreign_country", score=55)
    first = authorize(card, merchant_country="FR", amount_minor=100_000)
    second = authorize(card, merchant_country="FR", amount_minor=100_000, transaction_time=NOW + MINUTE)
    return first, second


def the_case(card) -> Case:
    return Case.objects.get(card=card)


def test_a_cards_alerts_form_one_case_due_by_its_priority(flagged, card):
    case = the_case(card)

    assert case.alerts.count() == 2 and not case.is_resolved
    assert case.priority == Priority.NORMAL and case.due_at == case.opened_at + 24 * HOUR
    assert Case.objects.count() == 1 and CardFactory() and Case.objects.count() == 1


def test_a_decline_raises_the_priority_and_brings_the_due_time_forward(flagged, card):
    set_rule("foreign_country", score=75)
    declined = authorize(card, merchant_country="FR", amount_minor=100_000, transaction_time=NOW + 2 * MINUTE)
    case = the_case(card)

    assert declined.response_code == "59" and case.alerts.count() == 3
    assert case.priority == Priority.HIGH and case.due_at <= case.opened_at + 4 * HOUR + MINUTE


def test_another_card_gets_its_own_case(flagged, card):
    other = CardFactory(balance_minor=10_000_000)
    authorize(other, merchant_country="FR", amount_minor=100_000)

    assert Case.objects.count() == 2 and the_case(other).alerts.get().card_id == other.pk


def test_assign_reassign_and_priority_are_audited_and_refused_once_resolved(flagged, card, analyst):
    case = the_case(card)
    colleague = UserFactory(username="colleague")

    cases.case_assign(case=case, assignee=analyst.user, actor=analyst)
    cases.case_assign(case=case, assignee=colleague, actor=analyst)
    cases.case_set_priority(case=case, priority=Priority.URGENT, actor=analyst)
    case.refresh_from_db()

    assert case.assignee == colleague and case.due_at == case.opened_at + HOUR
    rows = AuditLog.objects.filter(action__startswith="fraud.case").order_by("id")
    assert [(r.action, r.details) for r in rows] == [
        ("fraud.case_assigned", {"from": None, "to": "analyst"}),
        ("fraud.case_assigned", {"from": "analyst", "to": "colleague"}),
        ("fraud.case_priority", {"from": "Normal", "to": "Urgent"}),
    ]
    cases.case_resolve(case=case, resolution=Case.Resolution.FALSE_POSITIVE, actor=analyst)
    with pytest.raises(ConflictError):
        cases.case_assign(case=case, assignee=analyst.user, actor=analyst)
    with pytest.raises(ValidationError):
        cases.case_set_priority(
            case=Case.objects.create(card=CardFactory(), due_at=NOW), priority=9, actor=analyst
        )


def test_comments_append_and_refuse_card_numbers_and_empty_text(flagged, card, analyst):
    case = the_case(card)

    cases.case_comment(case=case, body="Called the cardholder.", actor=analyst)
    cases.case_comment(case=case, body="No answer.", actor=analyst)
    for body in ["", "  ", f"Card {card.pan}", "x" * 2001]:
        with pytest.raises(ValidationError):
            cases.case_comment(case=case, body=body, actor=analyst)

    assert [c.body for c in case.comments.all()] == ["Called the cardholder.", "No answer."]
    assert CaseComment.objects.filter(author=analyst.user).count() == 2


def test_resolving_decides_every_alert_blocks_once_and_a_new_alert_opens_a_new_case(flagged, card, analyst):
    case = the_case(card)
    first = case.alerts.order_by("created_at").first()
    first.status = FraudAlert.Status.FALSE_POSITIVE  # decided on its own before
    first.save()

    cases.case_resolve(
        case=case,
        resolution=Case.Resolution.CONFIRMED_FRAUD,
        actor=analyst,
        note="Confirmed.",
        block_card=True,
    )
    case.refresh_from_db()

    assert case.is_resolved and case.resolved_by == analyst.user and case.resolution == "confirmed_fraud"
    assert sorted(case.alerts.values_list("status", flat=True)) == ["confirmed_fraud", "false_positive"]
    assert Card.objects.get(pk=card.pk).status == Card.Status.BLOCKED
    assert AuditLog.objects.filter(action="fraud.case_resolved").get().details == {
        "resolution": "confirmed_fraud",
        "alerts": 1,
        "block_card": True,
    }
    assert case.comments.get().body == "Confirmed."
    with pytest.raises(ConflictError):
        cases.case_resolve(case=case, resolution=Case.Resolution.FALSE_POSITIVE, actor=analyst)

    other = CardFactory(balance_minor=10_000_000)
    authorize(other, merchant_country="FR", amount_minor=100_000)
    old = Case.objects.get(card=other)
    cases.case_resolve(case=old, resolution=Case.Resolution.FALSE_POSITIVE, actor=analyst)
    authorize(other, merchant_country="FR", amount_minor=100_000, transaction_time=NOW + MINUTE)
    assert Case.objects.filter(card=other).count() == 2
    assert Case.objects.get(card=other, resolved_at__isnull=True).alerts.count() == 1


def test_a_bad_resolution_or_a_block_without_fraud_changes_nothing(flagged, card, analyst):
    case = the_case(card)
    with pytest.raises(ValidationError):
        cases.case_resolve(case=case, resolution="maybe", actor=analyst)
    with pytest.raises(ValidationError):
        cases.case_resolve(
            case=case, resolution=Case.Resolution.FALSE_POSITIVE, actor=analyst, block_card=True
        )

    case.refresh_from_db()
    assert not case.is_resolved and set(case.alerts.values_list("status", flat=True)) == {"open"}
    assert Card.objects.get(pk=card.pk).status == Card.Status.ACTIVE


# --- Verdicts become labels ----------------------------------------------------------------------


def test_confirmed_fraud_reports_the_approvals_at_the_decision_time_and_merchant_risk_sees_it(card, analyst):
    from fraud import training
    from transactions.models import FraudReport

    set_rule("foreign_country", score=55)
    approved = authorize(card, merchant_country="FR", amount_minor=100_000, merchant_id="M-SKIM")
    set_rule("foreign_country", score=75)
    declined = authorize(
        card, merchant_country="FR", amount_minor=100_000, merchant_id="M-SKIM", transaction_time=NOW + MINUTE
    )
    case = the_case(card)

    cases.case_resolve(case=case, resolution=Case.Resolution.CONFIRMED_FRAUD, actor=analyst)

    assert declined.status == "declined"
    report = FraudReport.objects.get()
    assert report.transaction_id == approved.pk and NOW < report.reported_at <= timezone.now()  # decided now
    assert (
        "alert" in report.reason and AuditLog.objects.filter(action="transaction.fraud_reported").count() == 1
    )
    later = authorize(
        CardFactory(balance_minor=10_000_000), merchant_id="M-SKIM", transaction_time=NOW + HOUR
    )
    assert later.risk_features["merchant_recent_fraud"] == 1
    labelled = training.training_set(
        since=NOW - HOUR, cutoff=NOW + 10 * 24 * HOUR, label_delay=datetime.timedelta(days=7)
    )
    assert list(labelled.y) == [1, 0]  # the reported approval, the later one; never the decline


def test_a_false_positive_writes_no_report(flagged, card, analyst):
    from transactions.models import FraudReport

    cases.case_resolve(case=the_case(card), resolution=Case.Resolution.FALSE_POSITIVE, actor=analyst)

    assert not FraudReport.objects.exists()


def test_analysts_verdicts_are_training_rows_even_inside_the_label_delay(card, analyst, clock):
    from fraud import training

    set_rule("foreign_country", score=55)
    legit = authorize(card, merchant_country="FR", amount_minor=100_000)
    other = CardFactory(balance_minor=10_000_000)
    fraud = authorize(other, merchant_country="FR", amount_minor=100_000, transaction_time=NOW + MINUTE)
    undecided = CardFactory(balance_minor=10_000_000)
    authorize(undecided, merchant_country="FR", amount_minor=100_000, transaction_time=NOW + 2 * MINUTE)
    authorize(CardFactory(balance_minor=10_000_000), transaction_time=NOW + 3 * MINUTE)  # not flagged
    clock.shift(2 * HOUR)  # the analyst decides two hours later
    cases.case_resolve(case=the_case(card), resolution=Case.Resolution.FALSE_POSITIVE, actor=analyst)
    cases.case_resolve(case=the_case(other), resolution=Case.Resolution.CONFIRMED_FRAUD, actor=analyst)

    labelled = training.training_set(
        since=NOW - 30 * 24 * HOUR, cutoff=NOW + 24 * HOUR, label_delay=datetime.timedelta(days=7)
    )

    # Inside the week's label delay only the decided ones: the undecided and the unflagged wait.
    assert labelled.times == [legit.transaction_time, fraud.transaction_time]
    assert list(labelled.y) == [0, 1] and labelled.confirmed_legitimate == 1
    before = training.training_set(
        since=NOW - 30 * 24 * HOUR, cutoff=NOW + HOUR, label_delay=datetime.timedelta(days=7)
    )
    assert before.rows == 0  # a verdict counts from its decision on, as a report does
