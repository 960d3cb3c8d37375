"""Query parameters of every API list and object (cardsystem/filtering.py): one the
operation does not list, one given twice, and one given empty are each a 400 naming it,
where django-filter would quietly list everything."""

import pytest

from tests.factories import CardFactory

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/bins/", "/api/v1/cardholders/", "/api/v1/cards/", "/api/v1/transactions/"]


@pytest.fixture
def card(db):
    return CardFactory()


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/cards/", "cardholder"),
        ("/api/v1/cards/", "status"),
        ("/api/v1/cards/", "last4"),
        ("/api/v1/transactions/", "until"),
        ("/api/v1/transactions/", "since"),
        ("/api/v1/transactions/", "min_risk"),
        ("/api/v1/transactions/", "merchant_id"),
        ("/api/v1/bins/", "is_active"),
        ("/api/v1/cardholders/", "name"),
        *[(url, "cursor") for url in LISTS],
        *[(url, "limit") for url in LISTS],
    ],
)
def test_an_empty_parameter_is_a_400_naming_it(manage_api, card, url, parameter):
    response = manage_api.get(f"{url}?{parameter}=")

    assert response.status_code == 400
    assert response.json() == {parameter: ["Give a value, or leave the parameter out."]}


@pytest.mark.parametrize("url", LISTS)
def test_a_parameter_given_twice_is_a_400_naming_it(manage_api, card, url):
    response = manage_api.get(f"{url}?limit=1&limit=2")

    assert response.status_code == 400
    assert response.json() == {"limit": ["Give this parameter once."]}


def test_a_filter_given_twice_is_refused_even_with_one_value(manage_api, card):
    response = manage_api.get(f"/api/v1/cards/?status=active&status=active&bin={card.bin.bin}")

    assert response.status_code == 400 and list(response.json()) == ["status"]


@pytest.mark.parametrize("url", LISTS)
def test_an_unknown_parameter_is_a_400_naming_it_and_the_known_ones(manage_api, card, url):
    response = manage_api.get(f"{url}?stauts=declined")

    assert response.status_code == 400
    message = response.json()["stauts"][0]
    assert message.startswith("Unknown parameter. Use ") and "cursor" in message and "limit" in message


def test_the_unknown_parameter_message_lists_the_filters(manage_api, card):
    response = manage_api.get("/api/v1/transactions/?stauts=declined")

    assert response.json() == {
        "stauts": [
            "Unknown parameter. Use card, cursor, flagged, limit, merchant_id, min_risk, "
            "response_code, since, status, until."
        ]
    }


def test_an_object_takes_no_query_parameters(manage_api, card):
    response = manage_api.get(f"/api/v1/cards/{card.pk}/?cursor=abc")

    assert response.status_code == 400 and response.json() == {"cursor": ["Unknown parameter."]}


def test_every_offending_parameter_is_named_at_once(manage_api, card):
    response = manage_api.get("/api/v1/cards/?status=&bogus=1&limit=1&limit=2")

    assert response.status_code == 400 and set(response.json()) == {"status", "bogus", "limit"}


def test_a_parameter_name_that_holds_a_card_number_is_not_echoed(manage_api, card):
    response = manage_api.get(f"/api/v1/cards/?{card.pan}=1")

    assert response.status_code == 400
    assert card.pan not in response.content.decode()
    assert response.json() == {
        "detail": ["Unknown parameter. Use bin, cardholder, currency, cursor, last4, limit, status."]
    }


def test_known_parameters_given_once_still_filter(manage_api, card):
    CardFactory()

    response = manage_api.get(f"/api/v1/cards/?cardholder={card.cardholder_id}&limit=5")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(card.pk)]
