"""POST /api/v1/authorizations/: the shape of every decision, what it writes, and
what it never shows (the card number and the CVV)."""

import datetime
import itertools
import json
import logging
import zoneinfo
from functools import partial
from types import SimpleNamespace

import pytest
from django.db import transaction as db
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import BaseSerializer, ModelSerializer

from cards.models import Card, LedgerEntry
from cards.services import card_change_status, card_get_by_pan, card_issue_bulk, ledger_mismatches
from cardsystem.models import AuditLog, IdempotencyRecord
from tests.authorizing import (
    STRANGER,
    api_body,
    authorize,
    balance,
    decide,
    post_authorization,
    post_reversal,
    written,
    wrong_cvv,
)
from tests.factories import TEST_ACTOR, CardFactory, make_api_client
from transactions.api import AuthorizationApi, AuthorizationOutput
from transactions.models import Transaction

pytestmark = pytest.mark.django_db

CONTRACT_FIELDS = {
    "id",
    "status",
    "response_code",
    "reason",
    "risk_score",
    "risk_level",
    "risk_factors",
    "flagged",
    "amount",
    "currency",
    "masked_pan",
    "transaction_time",
    "created_at",
}
# Luhn-valid, issued by nobody here.
NOON_IN_PARIS = datetime.datetime(2026, 1, 5, 12, 0, 0, 250, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))


def leaves(value):
    """Every string inside a JSON-like value (a leaked CVV would be one, as it came in)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from leaves(item)
    elif isinstance(value, str):
        yield value


# --- The answer -----------------------------------------------------------------------------------


def test_an_approval_answers_exactly_the_fields_of_the_contract(authorize_api, card):
    response = post_authorization(authorize_api, card)

    assert response.status_code == 201
    answer = response.json()
    assert set(answer) == CONTRACT_FIELDS
    assert (answer["status"], answer["response_code"], answer["reason"]) == ("approved", "00", "approved")
    assert (answer["amount"], answer["currency"]) == ("42.00", "USD")
    assert answer["masked_pan"] == card.masked_pan == f"{card.pan[:6]}******{card.pan[-4:]}"
    assert type(answer["risk_score"]) is int and 0 <= answer["risk_score"] <= 100
    assert answer["risk_level"] == "low" and answer["risk_factors"] == [] and answer["flagged"] is False
    assert answer["id"] == str(Transaction.objects.get().pk)


@pytest.mark.parametrize("field", ["transaction_time", "created_at"])
def test_times_are_iso_8601_with_a_zone(authorize_api, card, field):
    answer = decide(authorize_api, card, transaction_time="2026-01-05T10:15:00+01:00")

    parsed = datetime.datetime.fromisoformat(answer[field])
    assert parsed.tzinfo is not None
    if field == "transaction_time":
        assert parsed == datetime.datetime(2026, 1, 5, 9, 15, tzinfo=datetime.UTC)


def test_risk_factors_carry_a_code_a_score_and_a_detail_for_a_manage_client(full_api, card, rule):
    rule("foreign_country", 10)

    answer = decide(full_api, card, merchant_country="GB")

    factor = next(f for f in answer["risk_factors"] if f["code"] == "foreign_country")
    assert set(factor) == {"code", "score", "detail"}
    assert factor["score"] == 10 and "GB" in factor["detail"]
    assert answer["risk_score"] >= 10


def test_a_merchants_system_learns_no_detail_about_the_cardholder(authorize_api, manage_api, card, rule):
    """An authorize-only client (a merchant's or acquirer's system) gets the decision, the
    score and each factor's code and points, never the words that describe the cardholder:
    not in the answer, not in a replay, not in a reversal; manage reads keep them."""
    rule("foreign_country", 10)
    post = partial(post_authorization, authorize_api, card, merchant_country="GB", key="merchant-1")

    answer, replay = post().json(), post().json()
    reversal = post_reversal(authorize_api, answer["id"]).json()
    back_office = manage_api.get(f"/api/v1/transactions/{answer['id']}/").json()

    assert answer == replay
    for seen_by_the_merchant in (answer, reversal):
        assert {"code": "foreign_country", "score": 10} in seen_by_the_merchant["risk_factors"]
        assert all(set(factor) == {"code", "score"} for factor in seen_by_the_merchant["risk_factors"])
        assert "lives in" not in json.dumps(seen_by_the_merchant)
    factor = next(f for f in back_office["risk_factors"] if f["code"] == "foreign_country")
    assert "GB" in factor["detail"] and "lives in US" in factor["detail"]


def test_amounts_are_rendered_in_the_currencys_own_digits(authorize_api):
    yen = CardFactory(bin__currency="JPY", balance_minor=5000)

    answer = decide(authorize_api, yen, amount="1200", currency="JPY")

    assert (answer["response_code"], answer["amount"], answer["currency"]) == ("00", "1200", "JPY")
    assert balance(yen) == 3800


def test_the_written_out_answer_renders_exactly_what_the_serializer_declares(card, rule):
    # AuthorizationOutput renders the decision by hand, for speed; the schema and the
    # back office's TransactionOutput use the declared fields. The two must not drift.
    rule("foreign_country", 10)
    decisions = [
        authorize(card),
        authorize(card, merchant_country="GB", transaction_time=NOON_IN_PARIS),
        authorize(card, amount_minor=500_00),
        authorize(STRANGER),
        authorize(CardFactory(bin__currency="JPY", balance_minor=5000), amount_minor=1200),
    ]
    decisions += [Transaction.objects.get(pk=t.pk) for t in decisions]  # as read back, too
    assert {t.status for t in decisions} == {"approved", "declined"}
    assert any(t.risk_factors for t in decisions) and any(t.risk_score is None for t in decisions)

    # For an authorize-only client, and for one that reads the factors' details.
    contexts = [
        {"request": SimpleNamespace(auth=make_api_client(*scopes)[0])}
        for scopes in (["authorize"], ["authorize", "manage"])
    ]
    for zone, context, transaction in itertools.product(("UTC", "Europe/Paris"), contexts, decisions):
        with timezone.override(zone):
            written_out = AuthorizationOutput(transaction, context=context).data
            generic = ModelSerializer.to_representation(
                AuthorizationOutput(transaction, context=context), transaction
            )
            assert list(written_out.items()) == list(generic.items())
            assert JSONRenderer().render(written_out) == JSONRenderer().render(generic)


def test_the_input_fields_are_flat_so_that_shallow_copies_serve_each_request():
    # AuthorizationApi.InputSerializer copies its fields shallowly: a nested serializer
    # or a list field would share its inner fields between concurrent requests.
    fields = AuthorizationApi.InputSerializer._declared_fields.values()

    assert not [f for f in fields if isinstance(f, BaseSerializer) or hasattr(f, "child")]
    first, second = AuthorizationApi.InputSerializer(), AuthorizationApi.InputSerializer()
    assert all(first.fields[name] is not second.fields[name] for name in first.fields)
    assert {field.parent for field in first.fields.values()} == {first}


def test_the_card_a_decision_reads_is_the_one_the_orm_reads(django_assert_num_queries):
    # card_get_by_pan reads the card and its cardholder by a written-out statement, for speed.
    limited = CardFactory(balance_minor=123_45, limits={"daily": 500_00, "monthly": 900_00})
    blocked = CardFactory(bin__currency="JPY")
    card_change_status(card=blocked, status="blocked", reason="stolen wallet", actor=TEST_ACTOR)
    unassigned = []
    card_issue_bulk(bin=limited.bin, count=1, actor=TEST_ACTOR, on_issued=unassigned.append)
    cards = [(limited.pan, limited.pk), (blocked.pan, blocked.pk), (unassigned[0].pan, unassigned[0].card.pk)]

    for pan, pk in cards:
        with db.atomic():
            found = card_get_by_pan(pan, lock=True)
        expected = Card.objects.select_related("cardholder").get(pk=pk)
        with django_assert_num_queries(0):
            pairs = [(found, expected), (found.cardholder, expected.cardholder)]
        for read, orm in pairs if expected.cardholder else pairs[:1]:
            values = [(getattr(read, f.attname), getattr(orm, f.attname)) for f in orm._meta.concrete_fields]
            assert [(type(a), a) for a, _ in values] == [(type(b), b) for _, b in values]
            assert (read._state.adding, read._state.db) == (False, "default")
            assert not read.get_deferred_fields()
        assert (found.cardholder is None) == (expected.cardholder is None)
    assert card_get_by_pan(STRANGER.pan, lock=True) is None


# --- What a decision writes --------------------------------------------------------------------------


def test_an_approval_debits_the_balance_with_a_ledger_entry(authorize_api, card):
    answer = decide(authorize_api, card)

    assert balance(card) == 58_00
    entry = LedgerEntry.objects.get(card=card, kind=LedgerEntry.Kind.DEBIT)
    assert (entry.amount_minor, entry.balance_after_minor, entry.currency) == (-42_00, 58_00, "USD")
    assert entry.reference == answer["id"]
    assert not ledger_mismatches().exists()


def test_the_balance_equals_the_ledger_through_approvals_and_declines(authorize_api, card):
    codes = [
        decide(authorize_api, card, amount=amount)["response_code"]
        for amount in ["10.00", "200.00", "30.00", "60.01", "60.00", "0.01"]
    ]

    assert codes == ["00", "51", "00", "51", "00", "51"]
    assert balance(card) == 0
    assert LedgerEntry.objects.filter(card=card, kind="debit").count() == 3
    assert not ledger_mismatches().exists()


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"amount": "100.01"}, "51"),
        ({"currency": "EUR"}, "57"),
        ({"expiry_year": 2099}, "54"),
        ({"cvv": "wrong"}, "N7"),
    ],
)
def test_a_decline_is_recorded_and_debits_nothing(authorize_api, card, changes, code):
    if changes.get("cvv") == "wrong":
        changes = {"cvv": wrong_cvv(card)}

    answer = decide(authorize_api, card, **changes)

    assert (answer["status"], answer["response_code"]) == ("declined", code)
    recorded = Transaction.objects.get()
    assert (str(recorded.pk), recorded.card_id, recorded.response_code) == (answer["id"], card.pk, code)
    assert type(answer["risk_score"]) is int
    assert balance(card) == 100_00
    assert not LedgerEntry.objects.filter(kind="debit").exists()


def test_an_unknown_card_is_recorded_with_its_masked_number_only(authorize_api):
    answer = decide(authorize_api, STRANGER)

    assert (answer["status"], answer["response_code"], answer["reason"]) == ("declined", "14", "invalid_card")
    assert answer["risk_score"] is None and answer["risk_level"] is None
    assert answer["risk_factors"] == [] and answer["flagged"] is False
    assert answer["masked_pan"] == "400000******7899"
    recorded = Transaction.objects.values().get()
    assert recorded["card_id"] is None and recorded["masked_pan"] == "400000******7899"
    assert STRANGER.pan not in json.dumps(recorded, default=str)
    assert not LedgerEntry.objects.filter(kind="debit").exists()


def decision_records(caplog):
    return [record for record in caplog.records if record.name == "cardsystem.authorizations"]


def test_each_decision_is_logged_once_as_a_structured_record(
    authorize_api, card, caplog, rule, django_capture_on_commit_callbacks
):
    rule("foreign_country", 10)

    # Logged at commit: the callbacks run here as they would after a real commit.
    with (
        caplog.at_level(logging.INFO, logger="cardsystem.authorizations"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        approved = decide(authorize_api, card, merchant_country="GB")
        declined = decide(authorize_api, card, amount="500.00")
        unknown = decide(authorize_api, STRANGER)
        assert post_authorization(authorize_api, card, mcc="abc").status_code == 400  # no decision, no line

    records = decision_records(caplog)
    assert [r.transaction for r in records] == [approved["id"], declined["id"], unknown["id"]]
    first = records[0]
    assert (first.masked_pan, first.amount, first.currency) == (card.masked_pan, "42.00", "USD")
    assert (first.status, first.response_code, first.risk_score) == ("approved", "00", approved["risk_score"])
    assert "foreign_country" in first.risk_factors
    assert isinstance(first.latency_ms, float) and first.latency_ms >= 0
    assert (records[1].status, records[1].response_code) == ("declined", "51")
    assert (records[2].masked_pan, records[2].risk_score) == ("400000******7899", None)


def test_a_decision_rolled_back_before_its_commit_is_not_logged(
    authorize_api, card, caplog, monkeypatch, django_capture_on_commit_callbacks
):
    # The answer is rendered inside the transaction that claims the Idempotency-Key: its
    # failure rolls the decision back, and the retry decides afresh.
    render = AuthorizationOutput.to_representation
    calls = []

    def failing_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionResetError("the client went away")
        return render(*args, **kwargs)

    monkeypatch.setattr(AuthorizationOutput, "to_representation", failing_once)
    authorize_api.raise_request_exception = False
    before = written()

    with (
        caplog.at_level(logging.INFO, logger="cardsystem.authorizations"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        failed = post_authorization(authorize_api, card, key="auth-1")
        assert failed.status_code == 500 and written() == before
        assert decision_records(caplog) == []
        retried = post_authorization(authorize_api, card, key="auth-1")

    assert retried.status_code == 201
    assert [r.transaction for r in decision_records(caplog)] == [retried.json()["id"]]


def every_kind_of_request(authorize_api, manage_api, card):
    """Approvals (one replayed), declines, rejections, a reversal, a report and a list."""
    answers = [
        post_authorization(authorize_api, card),
        post_authorization(authorize_api, card, key="retry-1", amount="1.00"),
        post_authorization(authorize_api, card, key="retry-1", amount="1.00"),
        post_authorization(authorize_api, card, cvv=wrong_cvv(card)),
        post_authorization(authorize_api, card, mcc="abc"),
        post_authorization(
            authorize_api, card, card_number=card.pan[:-1] + str((int(card.pan[-1]) + 1) % 10)
        ),
        post_authorization(authorize_api, STRANGER),
    ]
    approved, other = answers[0].json()["id"], answers[1].json()["id"]
    answers.append(post_reversal(authorize_api, approved))
    answers.append(
        manage_api.post(f"/api/v1/transactions/{other}/fraud-report/", {"reason": "x"}, format="json")
    )
    answers.append(manage_api.get("/api/v1/transactions/"))
    return answers


def test_the_card_number_and_cvv_appear_in_no_answer_row_or_log(
    authorize_api, manage_api, caplog, django_capture_on_commit_callbacks
):
    card = CardFactory(balance_minor=100_00)
    caplog.set_level(logging.DEBUG)

    with django_capture_on_commit_callbacks(execute=True):
        answers = every_kind_of_request(authorize_api, manage_api, card)

    assert [a.status_code for a in answers] == [201, 201, 201, 201, 400, 400, 201, 201, 201, 200]
    assert len(decision_records(caplog)) == 4  # two approvals, a wrong CVV, an unknown card
    rows = [
        *Transaction.objects.values(),
        *LedgerEntry.objects.values(),
        *AuditLog.objects.values(),
        *IdempotencyRecord.objects.values(),
    ]
    logged = [record.__dict__ for record in caplog.records]
    for pan in (card.pan, STRANGER.pan):
        assert all(pan not in answer.content.decode() for answer in answers)
        assert pan not in json.dumps(rows, default=str)
        assert pan not in caplog.text and pan not in json.dumps(logged, default=str)
    for cvv in (card.cvv, STRANGER.cvv):
        assert all(cvv not in leaves(answer.json()) for answer in answers)
        assert cvv not in leaves(rows)
        assert cvv not in leaves(logged)
    assert not [name for row in rows for name in row if "cvv" in name and name != "cvv_result"]


# --- Who may authorize ---------------------------------------------------------------------------------


def test_a_key_without_the_authorize_scope_is_forbidden(manage_api, card):
    before = written()

    response = post_authorization(manage_api, card)

    assert response.status_code == 403 and "detail" in response.json()
    assert written() == before


@pytest.mark.parametrize("header", [None, "Bearer not-a-key", "Basic abc"])
def test_no_valid_key_is_a_401(anonymous_api, card, header):
    if header:
        anonymous_api.credentials(HTTP_AUTHORIZATION=header)
    before = written()

    response = anonymous_api.post("/api/v1/authorizations/", api_body(card), format="json")

    assert response.status_code == 401 and "detail" in response.json()
    # Nothing but the audit row of a failed authentication (the address's first one).
    audited = AuditLog.objects.filter(action=AuditLog.Action.API_AUTH_FAILED).count()
    assert audited == (1 if header else 0)
    assert written() == {**before, "AuditLog": before["AuditLog"] + audited}
