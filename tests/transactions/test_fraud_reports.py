"""POST /api/v1/transactions/{id}/fraud-report/: a dispute labels a transaction
confirmed fraud from `reported_at` on, once."""

import datetime
import uuid

import pytest
import time_machine

from cardsystem.models import AuditLog
from tests.authorizing import decide, post_reversal, written, wrong_cvv
from tests.factories import CardFactory
from transactions.models import FraudReport

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 16, 12, tzinfo=datetime.UTC)
SPENT_AT = "2026-03-10T09:00:00Z"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def spent(authorize_api, card):
    """An approval at 09:00 UTC on March 10th."""
    return decide(authorize_api, card, transaction_time=SPENT_AT)


def report(api, transaction_id, **body):
    return api.post(f"/api/v1/transactions/{transaction_id}/fraud-report/", body, format="json")


def test_a_report_answers_201_and_is_dated_now_by_default(manage_api, spent):
    response = report(manage_api, spent["id"], reason="Cardholder disputes it")

    assert response.status_code == 201
    answer = response.json()
    assert {"id", "transaction", "reason", "reported_at"} <= set(answer)
    assert (answer["transaction"], answer["reason"]) == (spent["id"], "Cardholder disputes it")
    assert answer["reported_at"] == "2026-03-16T12:00:00Z"
    assert FraudReport.objects.get().pk == answer["id"]


@pytest.mark.parametrize("reported_at", [SPENT_AT, "2026-03-12T10:00:00+02:00", "2026-03-16T12:00:00Z"])
def test_a_report_can_be_back_dated_to_any_time_since_the_transaction(manage_api, spent, reported_at):
    response = report(manage_api, spent["id"], reason="chargeback", reported_at=reported_at)

    assert response.status_code == 201
    stored = FraudReport.objects.get().reported_at
    assert stored == datetime.datetime.fromisoformat(reported_at.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reported_at": "2026-03-16T12:00:01Z"}, "reported_at"),  # the future
        ({"reported_at": "2026-03-10T08:59:59Z"}, "reported_at"),  # before the transaction
        ({"reported_at": "2026-03-12T10:00:00"}, "reported_at"),  # naive
        ({"reported_at": 1773000000}, "reported_at"),
        ({"reason": ""}, "reason"),
        ({"reason": "x" * 201}, "reason"),
        ({"reason": "a\u0000b"}, "reason"),
        ({"label": "fraud"}, "label"),
    ],
)
def test_an_invalid_report_is_a_400_naming_the_field(manage_api, spent, changes, field):
    before = written()

    response = report(manage_api, spent["id"], **{"reason": "dispute", **changes})

    assert response.status_code == 400 and field in response.json()
    assert written() == before


def test_a_second_report_is_a_409(manage_api, spent):
    report(manage_api, spent["id"], reason="dispute")
    before = written()

    response = report(manage_api, spent["id"], reason="dispute again")

    assert response.status_code == 409 and "detail" in response.json()
    assert written() == before


def test_a_declined_or_reversed_transaction_cannot_be_reported_409(authorize_api, manage_api, card, spent):
    declined = decide(authorize_api, card, transaction_time=SPENT_AT, cvv=wrong_cvv(card))
    post_reversal(authorize_api, spent["id"])
    before = written()

    for transaction_id in (declined["id"], spent["id"]):
        response = report(manage_api, transaction_id, reason="dispute")
        assert response.status_code == 409 and "cannot be reported as fraud" in response.json()["detail"]
    assert declined["status"] == "declined" and written() == before


def test_a_report_is_audited_with_the_api_client_as_actor(manage_api, spent):
    report(manage_api, spent["id"], reason="dispute", reported_at="2026-03-12T10:00:00Z")

    row = AuditLog.objects.get(action=AuditLog.Action.FRAUD_REPORTED)
    assert (row.actor_type, row.actor_client_id) == ("api_client", manage_api.api_client.pk)
    assert row.target_id == spent["id"]
    assert row.details == {"reason": "dispute", "reported_at": "2026-03-12T10:00:00+00:00"}


def test_an_unknown_transaction_is_a_json_404(manage_api):
    response = report(manage_api, uuid.uuid4(), reason="dispute")

    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_reporting_needs_the_manage_scope(authorize_api, anonymous_api, spent):
    before = written()

    assert report(authorize_api, spent["id"], reason="dispute").status_code == 403
    assert report(anonymous_api, spent["id"], reason="dispute").status_code == 401
    assert written() == before


def test_a_decision_sees_only_reports_filed_before_its_transaction_time(authorize_api, manage_api, rule):
    rule("reported_merchant", 35, window_days=90, min_cards=2)
    for _ in range(2):
        victim = CardFactory(balance_minor=100_00)
        spent = decide(authorize_api, victim, merchant_id="M-BAD", transaction_time=SPENT_AT)
        report(manage_api, spent["id"], reason="skimmed", reported_at="2026-03-12T00:00:00Z")
    card = CardFactory(balance_minor=100_00)

    before_reports = decide(authorize_api, card, merchant_id="M-BAD", transaction_time="2026-03-11T23:59:00Z")
    after_reports = decide(authorize_api, card, merchant_id="M-BAD", transaction_time="2026-03-12T00:01:00Z")

    assert "reported_merchant" not in [f["code"] for f in before_reports["risk_factors"]]
    assert "reported_merchant" in [f["code"] for f in after_reports["risk_factors"]]
