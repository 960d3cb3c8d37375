"""The BIN endpoints, through the API: POST/GET /api/v1/bins/, GET /api/v1/bins/{bin}/."""

import pytest

from bins.models import Bin
from cardsystem.models import AuditLog, IdempotencyRecord
from tests.factories import BinFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/bins/"
FULLWIDTH_BIN = "\uff14\uff11\uff11\uff11\uff11\uff11"  # "411111" in fullwidth digits


def valid_bin(**overrides):
    body = {
        "bin": "411111",
        "network": "visa",
        "issuer_name": "First Test Bank",
        "card_type": "debit",
        "country": "US",
        "currency": "USD",
        "pan_length": 16,
    }
    body.update(overrides)
    return body


def written():
    """What a request could have written; a rejected request leaves all of it unchanged."""
    return (Bin.objects.count(), AuditLog.objects.count(), IdempotencyRecord.objects.count())


def post(api, body, key="bin-request-1"):
    # Every POST carries an Idempotency-Key, so that "nothing written" covers the key too.
    return api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


# --- Creating ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bin", "network", "pan_length"),
    [
        ("411111", "visa", 16),
        ("41111111", "visa", 19),
        ("400000", "visa", 13),
        ("510000", "mastercard", 16),
        ("555555", "mastercard", 16),
        ("222100", "mastercard", 16),
        ("272099", "mastercard", 16),
        ("340000", "amex", 15),
        ("370000", "amex", 15),
        ("601100", "discover", 16),
        ("644000", "discover", 16),
        ("650000", "discover", 19),
        ("622126", "discover", 16),
        ("352800", "jcb", 16),
        ("358999", "jcb", 16),
        ("620000", "unionpay", 16),
        ("622126", "unionpay", 16),
        ("990000", "other", 12),
    ],
)
def test_creates_a_bin_of_each_network_within_its_prefix_ranges(manage_api, bin, network, pan_length):
    response = post(manage_api, valid_bin(bin=bin, network=network, pan_length=pan_length))

    assert response.status_code == 201, response.json()
    assert response.json() == {
        "bin": bin,
        "network": network,
        "issuer_name": "First Test Bank",
        "card_type": "debit",
        "country": "US",
        "currency": "USD",
        "pan_length": pan_length,
        "is_active": True,
    }
    stored = Bin.objects.get(bin=bin)
    assert (stored.network, stored.pan_length) == (network, pan_length)


def test_records_who_created_a_bin(manage_api):
    post(manage_api, valid_bin())

    entry = AuditLog.objects.get(action=AuditLog.Action.BIN_CREATED)
    assert entry.actor_client == manage_api.api_client
    assert entry.target_id == str(Bin.objects.get(bin="411111").pk)


def test_pan_length_defaults_to_16_and_is_active_to_true(manage_api):
    body = valid_bin()
    del body["pan_length"]

    response = post(manage_api, body)

    assert response.status_code == 201
    assert response.json()["pan_length"] == 16 and response.json()["is_active"] is True


def test_creates_an_inactive_bin_when_asked(manage_api):
    response = post(manage_api, valid_bin(is_active=False))

    assert response.status_code == 201
    assert Bin.objects.get(bin="411111").is_active is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        # The prefix does not belong to the network.
        ({"bin": "411111", "network": "mastercard"}, "network"),
        ({"bin": "340000", "network": "visa", "pan_length": 15}, "network"),
        ({"bin": "510000", "network": "amex", "pan_length": 15}, "network"),
        ({"bin": "220000", "network": "mastercard"}, "network"),
        ({"bin": "272100", "network": "mastercard"}, "network"),
        ({"bin": "352700", "network": "jcb"}, "network"),
        ({"bin": "630000", "network": "unionpay"}, "network"),
        ({"bin": "411111", "network": "other"}, "network"),
        ({"network": "maestro"}, "network"),
        # The PAN length is not one the network issues.
        ({"bin": "340000", "network": "amex", "pan_length": 16}, "pan_length"),
        ({"bin": "510000", "network": "mastercard", "pan_length": 19}, "pan_length"),
        ({"pan_length": 12}, "pan_length"),
        # The PAN length is not an integer from 12 to 19.
        ({"network": "other", "bin": "990000", "pan_length": 11}, "pan_length"),
        ({"network": "other", "bin": "990000", "pan_length": 20}, "pan_length"),
        ({"pan_length": "16"}, "pan_length"),
        ({"pan_length": 16.5}, "pan_length"),
        ({"pan_length": 16.0}, "pan_length"),
        ({"pan_length": True}, "pan_length"),
        ({"pan_length": None}, "pan_length"),
        ({"pan_length": 10**40}, "pan_length"),
        # The BIN itself.
        ({"bin": "41111"}, "bin"),
        ({"bin": "4111111"}, "bin"),
        ({"bin": "411111111"}, "bin"),
        ({"bin": "41111a"}, "bin"),
        ({"bin": FULLWIDTH_BIN}, "bin"),
        ({"bin": FULLWIDTH_BIN, "network": "other"}, "bin"),
        ({"bin": " 411111"}, "bin"),
        ({"bin": ""}, "bin"),
        ({"bin": 411111}, "bin"),
        ({"bin": None}, "bin"),
        # Country and currency.
        ({"country": "XX"}, "country"),
        ({"country": "us"}, "country"),
        ({"country": "USA"}, "country"),
        ({"currency": "ABC"}, "currency"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "XTS"}, "currency"),
        ({"currency": 840}, "currency"),
        # The rest.
        ({"card_type": "charge"}, "card_type"),
        ({"issuer_name": ""}, "issuer_name"),
        ({"issuer_name": "x" * 101}, "issuer_name"),
        ({"issuer_name": "First\u0000Bank"}, "issuer_name"),
        ({"is_active": None}, "is_active"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_rejects_an_invalid_bin_and_writes_nothing(manage_api, overrides, field):
    before = written()

    response = post(manage_api, valid_bin(**overrides))

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert written() == before


@pytest.mark.parametrize("field", ["bin", "network", "issuer_name", "card_type", "country", "currency"])
def test_rejects_a_bin_with_a_missing_field(manage_api, field):
    body = valid_bin()
    del body[field]
    before = written()

    response = post(manage_api, body)

    assert response.status_code == 400
    assert response.json()[field] == ["This field is required."]
    assert written() == before


def test_names_every_offending_field_at_once(manage_api):
    response = post(manage_api, {"bin": 411111, "country": "XX", "colour": "blue"})

    assert response.status_code == 400
    assert {"bin", "country", "colour", "network", "issuer_name", "card_type", "currency"} <= set(
        response.json()
    )


def test_rejects_a_duplicate_bin_and_writes_nothing(manage_api):
    BinFactory(bin="411111")
    before = written()

    response = post(manage_api, valid_bin(bin="411111"))

    assert response.status_code == 400
    assert "bin" in response.json()
    assert written() == before


# --- Reading ------------------------------------------------------------------------------------


@pytest.fixture
def three_bins():
    return [
        BinFactory(bin="411111", network="visa", country="US", currency="USD", card_type="debit"),
        BinFactory(
            bin="510000",
            network="mastercard",
            country="GB",
            currency="GBP",
            card_type="credit",
            is_active=False,
        ),
        BinFactory(
            bin="340000", network="amex", country="US", currency="USD", card_type="prepaid", pan_length=15
        ),
    ]


def listed(api, query=""):
    response = api.get(URL + query)
    assert response.status_code == 200, response.json()
    return sorted(item["bin"] for item in response.json()["results"])


def test_lists_bins(manage_api, three_bins):
    response = manage_api.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert sorted(item["bin"] for item in body["results"]) == ["340000", "411111", "510000"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?network=visa", ["411111"]),
        ("?network=amex", ["340000"]),
        ("?country=GB", ["510000"]),
        ("?country=US", ["340000", "411111"]),
        ("?currency=USD", ["340000", "411111"]),
        ("?currency=EUR", []),
        ("?is_active=true", ["340000", "411111"]),
        ("?is_active=false", ["510000"]),
        ("?card_type=credit", ["510000"]),
        ("?country=US&card_type=debit", ["411111"]),
    ],
)
def test_filters_bins(manage_api, three_bins, query, expected):
    assert listed(manage_api, query) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?network=bogus", "network"),
        ("?country=XX", "country"),
        ("?is_active=bogus", "is_active"),
        ("?is_active=ture", "is_active"),
        ("?card_type=charge", "card_type"),
    ],
)
def test_rejects_an_unknown_filter_value(manage_api, three_bins, query, field):
    response = manage_api.get(URL + query)

    assert response.status_code == 400
    assert field in response.json()


def test_shows_one_bin(manage_api, three_bins):
    response = manage_api.get(f"{URL}340000/")

    assert response.status_code == 200
    assert response.json() == {
        "bin": "340000",
        "network": "amex",
        "issuer_name": "Test Bank",
        "card_type": "prepaid",
        "country": "US",
        "currency": "USD",
        "pan_length": 15,
        "is_active": True,
    }


@pytest.mark.parametrize("bin", ["999999", "4111", "not-a-bin"])
def test_answers_404_json_for_an_unknown_bin(manage_api, three_bins, bin):
    response = manage_api.get(f"{URL}{bin}/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
