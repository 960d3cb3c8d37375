"""Cards through the API once issued: reading, filtering and paging them, and
changing their status and limits."""

import uuid

import pytest

from bins.models import Bin
from cards.models import Card
from cardsystem.models import AuditLog
from tests.cards.api_requests import CARDS, written
from tests.factories import BinFactory, CardFactory, CardholderFactory

pytestmark = pytest.mark.django_db

# --- Reading, filtering and paging ------------------------------------------------------------------


def test_shows_one_card(manage_api):
    card = CardFactory(balance_minor=1234)

    response = manage_api.get(f"{CARDS}{card.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(card.pk) and body["balance"] == "12.34"
    assert body["masked_pan"] == card.masked_pan and body["last4"] == card.pan[-4:]


@pytest.mark.parametrize("card_id", [str(uuid.uuid4()), "not-a-uuid"], ids=["unknown id", "not-a-uuid"])
def test_answers_404_json_for_an_unknown_card(manage_api, card_id):
    for response in (
        manage_api.get(f"{CARDS}{card_id}/"),
        manage_api.patch(f"{CARDS}{card_id}/", {"status": "blocked", "reason": "x"}, format="json"),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert "detail" in response.json()


@pytest.fixture
def cards():
    usd, eur = BinFactory(bin="411111", currency="USD"), BinFactory(bin="422222", currency="EUR")
    alice, bob = CardholderFactory(name="Alice"), CardholderFactory(name="Bob")
    first, second, third = (
        CardFactory(bin=usd, cardholder=alice),
        CardFactory(bin=usd, cardholder=bob),
        CardFactory(bin=eur, cardholder=alice),
    )
    Card.objects.filter(pk=second.pk).update(status=Card.Status.BLOCKED)
    return {"usd": usd, "eur": eur, "alice": alice, "bob": bob, "cards": (first, second, third)}


def listed_ids(api, query=""):
    response = api.get(CARDS + query)
    assert response.status_code == 200, response.json()
    return {item["id"] for item in response.json()["results"]}


def test_filters_cards(manage_api, cards):
    first, second, third = (str(card.pk) for card in cards["cards"])

    assert listed_ids(manage_api) == {first, second, third}
    assert listed_ids(manage_api, "?status=blocked") == {second}
    assert listed_ids(manage_api, "?status=active") == {first, third}
    assert listed_ids(manage_api, "?bin=422222") == {third}
    assert listed_ids(manage_api, f"?cardholder={cards['alice'].pk}") == {first, third}
    assert listed_ids(manage_api, "?currency=EUR") == {third}
    assert listed_ids(manage_api, f"?currency=USD&cardholder={cards['alice'].pk}") == {first}
    assert listed_ids(manage_api, f"?last4={cards['cards'][1].pan[-4:]}") >= {second}
    assert listed_ids(manage_api, "?bin=499999") == set()


@pytest.mark.parametrize(
    ("query", "field"),
    [("?status=bogus", "status"), ("?cardholder=bogus", "cardholder"), ("?cardholder=123", "cardholder")],
)
def test_rejects_an_unknown_card_filter_value(manage_api, cards, query, field):
    response = manage_api.get(CARDS + query)

    assert response.status_code == 400
    assert field in response.json()


def test_pages_through_cards_with_a_cursor(manage_api):
    bin = BinFactory()
    issued = {str(CardFactory(bin=bin).pk) for _ in range(5)}

    first = manage_api.get(CARDS + "?limit=2").json()
    second = manage_api.get(first["next"]).json()
    third = manage_api.get(second["next"]).json()

    assert first["previous"] is None and second["previous"] and third["next"] is None
    pages = [first["results"], second["results"], third["results"]]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert {item["id"] for page in pages for item in page} == issued
    back = manage_api.get(second["previous"]).json()
    assert [item["id"] for item in back["results"]] == [item["id"] for item in first["results"]]


def test_caps_the_page_size_at_200(manage_api):
    Bin.objects.bulk_create(
        Bin(
            bin=f"4{n:05d}",
            network="visa",
            issuer_name="Bank",
            card_type="debit",
            country="US",
            currency="USD",
        )
        for n in range(205)
    )

    big = manage_api.get("/api/v1/bins/?limit=1000").json()
    default = manage_api.get("/api/v1/bins/").json()

    assert len(big["results"]) == 200 and big["next"]
    assert len(default["results"]) == 50


# --- Status and limits -----------------------------------------------------------------------------


@pytest.fixture
def card():
    return CardFactory()


def patch(api, card, body):
    return api.patch(f"{CARDS}{card.pk}/", body, format="json")


def status_changes(card):
    return list(
        AuditLog.objects.filter(action=AuditLog.Action.CARD_STATUS_CHANGED, target_id=str(card.pk))
        .order_by("id")
        .values_list("details", flat=True)
    )


def test_blocks_and_unblocks_a_card_recording_who_and_why(manage_api, card):
    blocked = patch(manage_api, card, {"status": "blocked", "reason": "suspicious activity"})
    active = patch(manage_api, card, {"status": "active", "reason": "cardholder confirmed"})

    assert blocked.status_code == 200 and blocked.json()["status"] == "blocked"
    assert blocked.json()["status_reason"] == "suspicious activity"
    assert active.status_code == 200 and active.json()["status"] == "active"
    assert status_changes(card) == [
        {"from": "active", "to": "blocked", "reason": "suspicious activity"},
        {"from": "blocked", "to": "active", "reason": "cardholder confirmed"},
    ]
    actors = AuditLog.objects.filter(action=AuditLog.Action.CARD_STATUS_CHANGED)
    assert {entry.actor_client for entry in actors} == {manage_api.api_client}


def test_refuses_to_reactivate_a_lost_card(manage_api, card):
    assert patch(manage_api, card, {"status": "lost", "reason": "left on a train"}).status_code == 200
    before = written()

    response = patch(manage_api, card, {"status": "active", "reason": "found it"})

    assert response.status_code == 409
    assert "status" in response.json()
    assert written() == before
    card.refresh_from_db()
    assert card.status == "lost"


@pytest.mark.parametrize("target", ["active", "inactive", "blocked", "lost", "stolen", "expired"])
def test_a_closed_card_stays_closed(manage_api, card, target):
    patch(manage_api, card, {"status": "closed", "reason": "account closed"})
    before = written()

    response = patch(manage_api, card, {"status": target, "reason": "try again"})

    assert response.status_code == 409
    assert "status" in response.json()
    assert written() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "blocked"}, "reason"),
        ({"status": "blocked", "reason": ""}, "reason"),
        ({"status": "blocked", "reason": "   "}, "reason"),
        ({"status": "blocked", "reason": "x" * 201}, "reason"),
        ({"status": "blocked", "reason": "a\u0000b"}, "reason"),
        ({"reason": "no status"}, "reason"),
        ({"status": "frozen", "reason": "x"}, "status"),
        ({"status": None, "reason": "x"}, "status"),
        ({"status": "BLOCKED", "reason": "x"}, "status"),
        ({"nickname": "x"}, "nickname"),
        ({"balance": "100.00"}, "balance"),
        ({"limits": {"daily": "1.001"}}, "limits"),
        ({"limits": {"per_transaction": "100.00", "daily": "50.00"}}, "limits"),
        ({"limits": None}, "limits"),
        ({}, "detail"),
    ],
)
def test_rejects_an_invalid_card_change_and_writes_nothing(manage_api, card, body, field):
    before = written()

    response = patch(manage_api, card, body)

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert written() == before
    card.refresh_from_db()
    assert card.status == "active" and card.limit_daily_minor is None


def test_setting_the_same_status_changes_nothing(manage_api, card):
    before = written()

    response = patch(manage_api, card, {"status": "active", "reason": "already"})

    assert response.status_code == 200 and response.json()["status"] == "active"
    assert written() == before


def test_sets_and_removes_limits(manage_api, card):
    set_ = patch(manage_api, card, {"limits": {"per_transaction": "25.00", "daily": "100"}})
    removed = patch(manage_api, card, {"limits": {"per_transaction": None}})

    assert set_.status_code == 200
    assert set_.json()["limits"] == {"per_transaction": "25.00", "daily": "100.00", "monthly": None}
    assert removed.status_code == 200
    assert removed.json()["limits"] == {"per_transaction": None, "daily": "100.00", "monthly": None}
    card.refresh_from_db()
    assert (card.limit_per_transaction_minor, card.limit_daily_minor) == (None, 10000)
    changes = AuditLog.objects.filter(action=AuditLog.Action.CARD_LIMITS_CHANGED).order_by("id")
    assert [entry.actor_client for entry in changes] == [manage_api.api_client] * 2


def test_a_limit_is_checked_against_the_cards_other_limits(manage_api):
    card = CardFactory(limits={"per_transaction": 5000})
    before = written()

    response = patch(manage_api, card, {"limits": {"daily": "10.00"}})

    assert response.status_code == 400
    assert "daily" in response.json()["limits"]
    assert written() == before


def test_a_refused_status_change_keeps_the_limits_sent_with_it_out(manage_api, card):
    patch(manage_api, card, {"status": "stolen", "reason": "reported"})
    before = written()

    response = patch(manage_api, card, {"status": "active", "reason": "x", "limits": {"daily": "10.00"}})

    assert response.status_code == 409
    assert written() == before
    card.refresh_from_db()
    assert card.limit_daily_minor is None
