"""Wrong CVVs in a row block an active card (FraudSettings.cvv_failure_limit), open an
alert, and every attempt after is 62 until staff unblock the card; the count restarts."""

import pytest

from cards.models import Card
from cards.services import card_change_status
from cardsystem.audit import AuditAction
from cardsystem.exceptions import ConflictError
from cardsystem.models import AuditLog
from fraud.models import FraudAlert
from tests.authorizing import URL, api_body, authorize_at, wrong_cvv
from tests.factories import TEST_ACTOR
from tests.fraud.clock import HOUR, MINUTE, NOW
from tests.fraud.configuration import set_settings

# Requests at the clock's NOW unless a test gives its own time (conftest.py `clock`).
authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db


def _attempts(card, pattern, *, start=NOW):
    """`pattern` of "x" (wrong CVV), "e" (wrong expiry date), "v" (right CVV) and "-" (no CVV), a minute apart
    from `start`: the response codes."""
    cvv = {"x": wrong_cvv(card), "v": card.cvv, "-": None, "e": card.cvv}
    return [
        authorize(
            card,
            cvv=cvv[step],
            transaction_time=start + i * MINUTE,
            # "e": a wrong expiry date (the CVV beside it is never checked)
            **({"expiry_year": card.expiry_year + 1} if step == "e" else {}),
        ).response_code
        for i, step in enumerate(pattern)
    ]


def _status(card) -> str:
    return Card.objects.get(pk=card.pk).status


def test_a_right_cvv_between_wrong_ones_starts_the_count_again(card):
    assert _attempts(card, "xxvxx") == ["N7", "N7", "00", "N7", "N7"]
    assert _status(card) == "active" and not FraudAlert.objects.exists()


def test_three_wrong_cvvs_in_a_row_block_the_card_and_open_an_alert(card):
    assert _attempts(card, "xxx") == ["N7", "N7", "N7"]
    assert _status(card) == "blocked"
    third = card.transactions.order_by("created_at").last()
    assert third.flagged and third.risk_factors[0] == {
        "code": "cvv_failures_in_a_row",
        "score": 0,
        "detail": "3 wrong CVVs in a row. The card is blocked.",
    }
    alert = FraudAlert.objects.get()
    assert (alert.transaction, alert.card_id, alert.status) == (third, card.pk, "open")
    assert alert.reason == "3 wrong CVVs in a row." and alert.risk_score == third.risk_score == 30
    change = AuditLog.objects.get(action=AuditAction.CARD_STATUS_CHANGED, target_id=str(card.pk))
    assert (change.actor_type, change.actor_label) == ("system", "fraud engine")
    assert change.details == {
        "from": "active",
        "to": "blocked",
        "reason": "3 wrong CVVs in a row.",
        "for_fraud": True,
    }


def test_every_attempt_after_the_block_is_restricted(card):
    _attempts(card, "xxx")
    after = authorize(card, transaction_time=NOW + HOUR)
    assert (after.response_code, after.reason) == ("62", "restricted_card")
    # and wrong CVVs on the blocked card neither block it again nor open alerts
    authorize(card, cvv=wrong_cvv(card), transaction_time=NOW + 2 * HOUR)
    assert FraudAlert.objects.count() == 1
    assert AuditLog.objects.filter(action=AuditAction.CARD_STATUS_CHANGED).count() == 1


def _unblock_approved(card):
    """Staff unblock the card, a second person approving (four eyes)."""
    with pytest.raises(ConflictError):
        card_change_status(card=card, status="active", reason="Cardholder called", actor=TEST_ACTOR)
    card_change_status(card=card, status="active", reason="Called", actor=TEST_ACTOR, approved=True)


def test_after_staff_unblock_the_card_a_single_wrong_cvv_does_not_block_it_again(card, clock):
    _attempts(card, "xxx")
    clock.shift(MINUTE)
    _unblock_approved(card)
    assert authorize(card, cvv=wrong_cvv(card), transaction_time=NOW + HOUR).response_code == "N7"
    assert _status(card) == "active"
    assert authorize(card, transaction_time=NOW + 2 * HOUR).response_code == "00"


def test_after_an_unblock_three_new_wrong_cvvs_block_the_card_again(card, clock):
    _attempts(card, "xxx")
    clock.shift(MINUTE)
    _unblock_approved(card)
    assert _attempts(card, "xx", start=NOW + HOUR) == ["N7", "N7"] and _status(card) == "active"
    _attempts(card, "x", start=NOW + 2 * HOUR)
    assert _status(card) == "blocked" and FraudAlert.objects.count() == 2


@pytest.mark.parametrize(("limit", "wrong", "blocked"), [(5, 4, False), (5, 5, True), (1, 1, True)])
def test_the_number_of_wrong_cvvs_that_blocks_is_a_setting(card, limit, wrong, blocked):
    set_settings(cvv_failure_limit=limit)
    _attempts(card, "x" * wrong)
    assert (_status(card) == "blocked") is blocked


def test_a_wrong_expiry_date_counts_toward_the_block_like_a_wrong_cvv(card):
    assert _attempts(card, "xex") == ["N7", "54", "N7"]
    assert _status(card) == "blocked"
    third = card.transactions.order_by("created_at").last()
    assert third.risk_factors[0]["detail"] == (
        "3 wrong CVVs or expiry dates in a row (1 of them expiry dates). The card is blocked."
    )


def test_a_right_cvv_after_wrong_expiry_dates_starts_the_count_again(card):
    assert _attempts(card, "eevee") == ["54", "54", "00", "54", "54"]
    assert _status(card) == "active"


def test_a_purchase_without_a_cvv_neither_counts_nor_breaks_the_streak(card):
    assert _attempts(card, "x-x") == ["N7", "00", "N7"] and _status(card) == "active"
    _attempts(card, "x", start=NOW + HOUR)
    assert _status(card) == "blocked"


@pytest.mark.parametrize("step", [0 * MINUTE, -MINUTE], ids=["the same time", "earlier and earlier"])
def test_wrong_cvvs_sent_with_a_replayed_time_still_block_the_card(card, step):
    # The acquirer sets transaction_time; the past is allowed. Guesses all dated the
    # same (or ever earlier) must not escape the count, which follows arrival order.
    for i in range(3):
        authorize(card, cvv=wrong_cvv(card), transaction_time=NOW - HOUR + i * step)
    assert _status(card) == "blocked"


def test_the_block_through_the_api_answers_n7_then_62(authorize_api, card):
    body = api_body(card, omit=("merchant_name", "channel"), cvv=wrong_cvv(card))
    answers = [authorize_api.post(URL, body, format="json").json() for _ in range(3)]
    assert [a["response_code"] for a in answers] == ["N7", "N7", "N7"]
    assert [a["flagged"] for a in answers] == [False, False, True]
    fourth = authorize_api.post(URL, {**body, "cvv": card.cvv}, format="json").json()
    assert fourth["response_code"] == "62"
