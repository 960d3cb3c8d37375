"""Cardholders through the API: creating, listing and reading them."""

import datetime
import uuid

import pytest
import time_machine

from cards.models import Cardholder
from cardsystem.models import AuditLog
from tests.cards.api_requests import CARDHOLDERS, post, written
from tests.factories import CardholderFactory

pytestmark = pytest.mark.django_db


def valid_cardholder(**overrides):
    return {
        "name": "Ada Lovelace",
        "date_of_birth": "1985-12-10",
        "country": "GB",
        "email": "ada@example.com",
        **overrides,
    }


def test_creates_a_cardholder(manage_api):
    response = post(manage_api, CARDHOLDERS, valid_cardholder())

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("name", "date_of_birth", "country", "email")} == valid_cardholder()
    stored = Cardholder.objects.get(pk=body["id"])
    assert stored.name == "Ada Lovelace" and stored.date_of_birth == datetime.date(1985, 12, 10)
    audit = AuditLog.objects.get(action=AuditLog.Action.CARDHOLDER_CREATED)
    assert audit.actor_client == manage_api.api_client and audit.target_id == body["id"]


def test_creates_a_cardholder_without_an_email(manage_api):
    body = valid_cardholder()
    del body["email"]

    response = post(manage_api, CARDHOLDERS, body)

    assert response.status_code == 201
    assert response.json()["email"] == ""


@time_machine.travel(datetime.datetime(2026, 3, 15, 12, tzinfo=datetime.UTC), tick=False)
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"date_of_birth": "2026-03-16"}, "date_of_birth"),
        ({"date_of_birth": "2026-03-15"}, "date_of_birth"),
        ({"date_of_birth": "2090-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1899-12-31"}, "date_of_birth"),
        ({"date_of_birth": "15/03/1985"}, "date_of_birth"),
        ({"date_of_birth": "1985-02-30"}, "date_of_birth"),
        ({"date_of_birth": "1985-03-15T00:00:00Z"}, "date_of_birth"),
        ({"date_of_birth": 19850315}, "date_of_birth"),
        ({"date_of_birth": ""}, "date_of_birth"),
        ({"country": "XX"}, "country"),
        ({"country": "gb"}, "country"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b@c"}, "email"),
        ({"name": "x" * 101}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "a\u0000b"}, "name"),
        ({"name": 42}, "name"),
        ({"name": None}, "name"),
        ({"nickname": "Ada"}, "nickname"),
    ],
)
def test_rejects_an_invalid_cardholder_and_writes_nothing(manage_api, overrides, field):
    before = written()

    response = post(manage_api, CARDHOLDERS, valid_cardholder(**overrides))

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert written() == before


@pytest.mark.parametrize("field", ["name", "date_of_birth", "country"])
def test_rejects_a_cardholder_with_a_missing_field(manage_api, field):
    body = valid_cardholder()
    del body[field]
    before = written()

    response = post(manage_api, CARDHOLDERS, body)

    assert response.status_code == 400
    assert response.json()[field] == ["This field is required."]
    assert written() == before


def test_lists_cardholders_filtered_by_country(manage_api):
    british = CardholderFactory(country="GB")
    CardholderFactory(country="US")

    everyone = manage_api.get(CARDHOLDERS).json()["results"]
    in_gb = manage_api.get(CARDHOLDERS + "?country=GB").json()["results"]

    assert len(everyone) == 2
    assert [holder["id"] for holder in in_gb] == [str(british.pk)]
    assert manage_api.get(CARDHOLDERS + "?country=XX").status_code == 400


def test_shows_one_cardholder(manage_api):
    holder = CardholderFactory(name="Grace Hopper", country="US", email="grace@example.com")

    response = manage_api.get(f"{CARDHOLDERS}{holder.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(holder.pk)
    assert (body["name"], body["date_of_birth"], body["country"], body["email"]) == (
        "Grace Hopper",
        "1985-06-15",
        "US",
        "grace@example.com",
    )


@pytest.mark.parametrize(
    "cardholder_id", [str(uuid.uuid4()), "not-a-uuid", "123"], ids=["unknown id", "not-a-uuid", "123"]
)
def test_answers_404_json_for_an_unknown_cardholder(manage_api, cardholder_id):
    response = manage_api.get(f"{CARDHOLDERS}{cardholder_id}/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
