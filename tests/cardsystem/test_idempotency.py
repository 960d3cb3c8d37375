"""`Idempotency-Key` on POST: the same client, key and body within 24 h replays the
first response and writes nothing new; the same key with another body is a 409; a
rejected request writes nothing, its key included."""

import datetime
import json
import time

import pytest
import time_machine
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from bins.models import Bin
from cards import api as cards_api
from cards.models import Card, Cardholder, LedgerEntry
from cardsystem.models import AuditLog, IdempotencyRecord
from tests.concurrency import run_concurrently
from tests.factories import BinFactory, CardFactory, CardholderFactory, make_api_client

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 15, 12, tzinfo=datetime.UTC)


def written():
    return {
        model.__name__: model.objects.count()
        for model in (Bin, Cardholder, Card, LedgerEntry, AuditLog, IdempotencyRecord)
    }


def post(api, url, body, key):
    # The body is encoded here, not by the test client: it would use JSONRenderer,
    # which some tests below make fail.
    return api.post(url, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def holder():
    return CardholderFactory()


@pytest.fixture
def bin():
    return BinFactory(bin="411111")


def issue_body(bin, holder):
    return {"bin": bin.bin, "cardholder": str(holder.pk), "limits": {"daily": "100.00"}}


# --- Replays ------------------------------------------------------------------------------------


def test_replays_a_card_issue_with_the_same_card_number_and_cvv(manage_api, bin, holder):
    first = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1")
    after_first = written()

    again = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Cache-Control"] == "no-store"
    assert written() == after_first
    assert Card.objects.count() == 1


def test_the_stored_response_holds_no_card_number_or_cvv(manage_api, bin, holder):
    issued = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1").json()

    record = IdempotencyRecord.objects.get()
    stored = json.dumps(
        {"body": record.response_body, "digest": record.request_digest, "key": record.key}, sort_keys=True
    )
    assert issued["pan"] not in stored
    assert "pan" not in record.response_body and "cvv" not in record.response_body
    assert issued["cvv"] not in [str(value) for value in record.response_body.values()]
    assert record.response_body["masked_pan"] == issued["masked_pan"]


def test_a_replay_is_the_first_response_even_after_the_card_changed(manage_api, bin, holder):
    first = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1").json()
    manage_api.post(f"/api/v1/cards/{first['id']}/top-ups/", {"amount": "5.00"}, format="json")
    manage_api.patch(f"/api/v1/cards/{first['id']}/", {"status": "blocked", "reason": "x"}, format="json")

    again = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1").json()

    assert again == first
    assert (again["balance"], again["status"]) == ("0.00", "active")


def test_replays_a_top_up_without_crediting_twice(manage_api):
    card = CardFactory()
    url = f"/api/v1/cards/{card.pk}/top-ups/"
    first = post(manage_api, url, {"amount": "100.00"}, "top-up-1")
    after_first = written()

    again = post(manage_api, url, {"amount": "100.00"}, "top-up-1")

    assert again.status_code == 201 and again.json() == first.json()
    assert written() == after_first
    card.refresh_from_db()
    assert card.balance_minor == 10000 and LedgerEntry.objects.filter(card=card).count() == 1


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (
            "/api/v1/bins/",
            {
                "bin": "510000",
                "network": "mastercard",
                "issuer_name": "Bank",
                "card_type": "credit",
                "country": "GB",
                "currency": "GBP",
            },
        ),
        ("/api/v1/cardholders/", {"name": "Ada", "date_of_birth": "1985-12-10", "country": "GB"}),
    ],
)
def test_replays_every_kind_of_create(manage_api, url, body):
    first = post(manage_api, url, body, "create-1")
    after_first = written()

    again = post(manage_api, url, body, "create-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert written() == after_first


def test_a_request_without_a_key_is_not_deduplicated(manage_api, bin, holder):
    manage_api.post("/api/v1/cards/", issue_body(bin, holder), format="json")
    manage_api.post("/api/v1/cards/", issue_body(bin, holder), format="json")

    assert Card.objects.count() == 2 and IdempotencyRecord.objects.count() == 0


# --- Conflicts and independence ----------------------------------------------------------------


@pytest.mark.parametrize(
    "other_body",
    [
        {"limits": {"daily": "200.00"}},
        {"limits": {}},
        {"expiry_month": 1, "expiry_year": 2030},
    ],
)
def test_the_same_key_with_another_body_is_a_conflict(manage_api, bin, holder, other_body):
    post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1")
    before = written()

    response = post(manage_api, "/api/v1/cards/", {**issue_body(bin, holder), **other_body}, "issue-1")

    assert response.status_code == 409
    assert "Idempotency-Key" in response.json()
    assert written() == before


def test_the_same_key_on_another_endpoint_is_a_conflict(manage_api):
    first, second = CardFactory(), CardFactory()
    post(manage_api, f"/api/v1/cards/{first.pk}/top-ups/", {"amount": "1.00"}, "top-up")
    before = written()

    response = post(manage_api, f"/api/v1/cards/{second.pk}/top-ups/", {"amount": "1.00"}, "top-up")

    assert response.status_code == 409
    assert "Idempotency-Key" in response.json()
    assert written() == before


def test_the_same_body_in_another_key_order_is_the_same_request(manage_api, bin, holder):
    first = manage_api.post(
        "/api/v1/cards/",
        data=json.dumps({"bin": bin.bin, "cardholder": str(holder.pk)}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="issue-1",
    )
    again = manage_api.post(
        "/api/v1/cards/",
        data=json.dumps({"cardholder": str(holder.pk), "bin": bin.bin}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="issue-1",
    )

    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert Card.objects.count() == 1


def test_another_clients_key_is_independent(manage_api, bin, holder):
    _, other_key = make_api_client("manage", name="other")
    other_api = APIClient()
    other_api.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key}")

    mine = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "shared-key")
    theirs = post(other_api, "/api/v1/cards/", issue_body(bin, holder), "shared-key")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert Card.objects.count() == 2 and IdempotencyRecord.objects.count() == 2


@pytest.mark.parametrize(
    "key", ["k" * 256, "", "   ", " lead", "trail ", "tab\there", "nul\u0000byte", "del\u007f", "cl\u00e9"]
)
def test_rejects_an_unusable_key_and_writes_nothing(manage_api, bin, holder, key):
    before = written()

    response = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert written() == before


def test_takes_a_key_of_255_characters(manage_api, bin, holder):
    response = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "k" * 255)

    assert response.status_code == 201
    assert IdempotencyRecord.objects.get().key == "k" * 255


# --- Time -------------------------------------------------------------------------------------------


def test_a_key_replays_for_24_hours_then_is_fresh(manage_api, bin, holder):
    with time_machine.travel(NOW, tick=False) as clock:
        first = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1").json()
        clock.move_to(NOW + datetime.timedelta(hours=23, minutes=59))
        within = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1").json()
        clock.move_to(NOW + datetime.timedelta(hours=24, seconds=1))
        after = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1")

    assert within["id"] == first["id"]
    assert after.status_code == 201 and after.json()["id"] != first["id"]
    assert Card.objects.count() == 2 and IdempotencyRecord.objects.count() == 1


def test_an_expired_key_may_carry_another_body(manage_api, bin, holder):
    with time_machine.travel(NOW, tick=False) as clock:
        post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1")
        clock.move_to(NOW + datetime.timedelta(days=2))
        other = post(manage_api, "/api/v1/cards/", {**issue_body(bin, holder), "limits": {}}, "issue-1")
        again = post(manage_api, "/api/v1/cards/", {**issue_body(bin, holder), "limits": {}}, "issue-1")

    assert other.status_code == again.status_code == 201
    assert again.json() == other.json()
    assert Card.objects.count() == 2


# --- Failures -----------------------------------------------------------------------------------------


def test_a_rejected_request_frees_its_key_for_the_corrected_one(manage_api, bin, holder):
    rejected = post(manage_api, "/api/v1/cards/", {**issue_body(bin, holder), "expiry_month": 13}, "issue-1")
    assert rejected.status_code == 400
    assert IdempotencyRecord.objects.count() == 0

    corrected = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1")

    assert corrected.status_code == 201
    assert Card.objects.count() == 1


def test_a_conflict_in_the_service_frees_the_key(manage_api):
    card = CardFactory()
    Card.objects.filter(pk=card.pk).update(status="closed")

    refused = post(manage_api, f"/api/v1/cards/{card.pk}/top-ups/", {"amount": "1.00"}, "top-up-1")

    assert refused.status_code == 400
    assert IdempotencyRecord.objects.count() == 0 and LedgerEntry.objects.count() == 0


@pytest.fixture
def failing_once(monkeypatch):
    """Make `owner.name` raise on its first call only, as a crash or a lost connection would."""

    def install(owner, name):
        original = getattr(owner, name)
        calls = []

        def flaky(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise ConnectionResetError("the client went away")
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, flaky)

    return install


def test_a_retry_after_the_response_was_lost_replays_the_committed_issue(
    manage_api, bin, holder, failing_once
):
    # Rendering runs after the view returned, so after the card and its key committed.
    failing_once(JSONRenderer, "render")
    manage_api.raise_request_exception = False

    lost = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1")
    assert lost.status_code == 500
    assert Card.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
    committed = written()

    retry = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1")

    assert retry.status_code == 201
    card = Card.objects.get()
    assert retry.json()["id"] == str(card.pk)
    assert retry.json()["masked_pan"] == card.masked_pan and retry.json()["pan"].startswith("411111")
    assert written() == committed


def test_a_retry_after_the_response_was_lost_does_not_credit_twice(manage_api, failing_once):
    card = CardFactory()
    failing_once(JSONRenderer, "render")
    manage_api.raise_request_exception = False
    url = f"/api/v1/cards/{card.pk}/top-ups/"

    assert post(manage_api, url, {"amount": "100.00"}, "top-up-1").status_code == 500
    retry = post(manage_api, url, {"amount": "100.00"}, "top-up-1")

    assert retry.status_code == 201 and retry.json()["balance"] == "100.00"
    card.refresh_from_db()
    assert card.balance_minor == 10000 and LedgerEntry.objects.filter(card=card).count() == 1


def test_a_failure_before_the_commit_writes_nothing_and_the_retry_does_the_work(
    manage_api, bin, holder, failing_once
):
    # The output serializer runs inside the view, so inside the transaction that
    # claims the key: its failure rolls back the card, the audit row and the key.
    failing_once(cards_api.IssuedCardOutput, "to_representation")
    manage_api.raise_request_exception = False
    before = written()

    failed = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1")
    assert failed.status_code == 500
    assert failed.json() == {"detail": "Internal error. Nothing was changed by this request."}
    assert written() == before

    retry = post(manage_api, "/api/v1/cards/", issue_body(bin, holder), "issue-1")

    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    assert Card.objects.count() == 1


# --- Concurrency ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("endpoint", ["issue", "top-up"])
def test_two_requests_with_one_key_at_once_do_the_work_once(endpoint, monkeypatch):
    _, key = make_api_client("manage")
    card = CardFactory()
    # Slow the work down, so that the second request arrives while the first still
    # holds its uncommitted claim on the key.
    service = "card_issue" if endpoint == "issue" else "card_top_up"
    original = getattr(cards_api, service)

    def slow(**kwargs):
        result = original(**kwargs)
        time.sleep(0.3)
        return result

    monkeypatch.setattr(cards_api, service, slow)
    if endpoint == "issue":
        url, body = "/api/v1/cards/", {"bin": card.bin.bin, "cardholder": str(card.cardholder_id)}
    else:
        url, body = f"/api/v1/cards/{card.pk}/top-ups/", {"amount": "10.00"}

    def send(index):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="same-key")

    responses = run_concurrently(2, send)
    assert [response.status_code for response in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    assert sorted(response.get("Idempotent-Replayed", "") for response in responses) == ["", "true"]
    assert IdempotencyRecord.objects.count() == 1
    if endpoint == "issue":
        assert Card.objects.count() == 2  # the factory's card and one issued here
    else:
        card.refresh_from_db()
        assert card.balance_minor == 1000 and LedgerEntry.objects.filter(card=card).count() == 1
