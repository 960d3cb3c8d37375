"""Hostile or broken input: every answer is a JSON 4xx, never a 500 or an HTML page,
and nothing is written. Run on PostgreSQL too: NUL bytes only fail there."""

import base64
import json

import pytest
from django.conf import settings

from bins.models import Bin
from cards.models import Card, Cardholder, LedgerEntry
from cardsystem.models import AuditLog, IdempotencyRecord
from tests.factories import CardFactory

pytestmark = pytest.mark.django_db

CARDHOLDER = {"name": "Ada Lovelace", "date_of_birth": "1985-12-10", "country": "GB"}


def written():
    return {
        model.__name__: model.objects.count()
        for model in (Bin, Cardholder, Card, LedgerEntry, AuditLog, IdempotencyRecord)
    }


def post_raw(api, url, data, content_type="application/json"):
    return api.generic("POST", url, data, content_type=content_type, HTTP_IDEMPOTENCY_KEY="input-test")


def assert_json_error(response, status):
    assert response.status_code == status, response.content[:200]
    assert response["Content-Type"] == "application/json"
    return response.json()


@pytest.fixture
def card():
    return CardFactory()


# --- Bodies that are not JSON ------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"{",
        b"{'name': 'Ada'}",
        b'{"name": "Ada",}',
        b'{"name": "Ada"} trailing',
        b'{"name": "\xff\xfe"}',
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b'{"amount": -Infinity}',
        b"1" * 5000,
    ],
)
def test_a_body_that_is_not_json_is_a_400(manage_api, data):
    before = written()

    body = assert_json_error(post_raw(manage_api, "/api/v1/cardholders/", data), 400)

    assert "detail" in body
    assert written() == before


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("name=Ada&date_of_birth=1985-12-10&country=GB", "application/x-www-form-urlencoded"),
        (
            '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nAda\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
        ),
        (json.dumps(CARDHOLDER), "text/plain"),
        (json.dumps(CARDHOLDER), "application/xml"),
        (json.dumps(CARDHOLDER), ""),
    ],
)
def test_a_body_that_is_not_application_json_is_a_415(manage_api, data, content_type):
    before = written()

    assert_json_error(post_raw(manage_api, "/api/v1/cardholders/", data, content_type), 415)

    assert written() == before


def test_a_json_body_with_a_charset_is_fine(manage_api):
    response = post_raw(
        manage_api, "/api/v1/cardholders/", json.dumps(CARDHOLDER), "application/json; charset=utf-8"
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    "data",
    [
        json.dumps({**CARDHOLDER, "name": "x" * (70 * 1024)}),
        json.dumps([CARDHOLDER] * 2000),
        "[" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
    ],
)
def test_a_body_over_the_size_limit_is_a_json_413(manage_api, data):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 64 * 1024
    assert len(data) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    before = written()

    body = assert_json_error(post_raw(manage_api, "/api/v1/cardholders/", data), 413)

    assert "detail" in body
    assert written() == before


def test_a_body_just_under_the_size_limit_is_read(manage_api):
    padding = settings.DATA_UPLOAD_MAX_MEMORY_SIZE - len(json.dumps({**CARDHOLDER, "name": ""})) - 100
    data = json.dumps({**CARDHOLDER, "name": "x" * padding})

    body = assert_json_error(post_raw(manage_api, "/api/v1/cardholders/", data), 400)

    assert "name" in body  # read and judged: too long a name, not too large a body


@pytest.mark.parametrize("data", ["[]", "[1, 2]", '"a string"', "42", "null", "true"])
def test_a_body_that_is_not_an_object_is_a_400(manage_api, data):
    before = written()

    body = assert_json_error(post_raw(manage_api, "/api/v1/cardholders/", data), 400)

    assert "non_field_errors" in body
    assert written() == before


@pytest.mark.parametrize("depth", [50, 2000, 10000])
@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ('{"a":', "}")])
def test_deeply_nested_junk_is_a_400(manage_api, depth, opening, closing):
    before = written()

    response = post_raw(manage_api, "/api/v1/cardholders/", opening * depth + "1" + closing * depth)

    assert_json_error(response, 400)
    assert written() == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ('{"name": "a\\ud800b", "date_of_birth": "1985-12-10", "country": "GB"}', None),
        ('{"name": "Ada", "date_of_birth": "1985-12-10", "country": "GB", "x\\udfff": 1}', None),
        ('{"name": {"first": ["Ada", {"x": []}]}, "date_of_birth": "1985-12-10", "country": "GB"}', "name"),
        ('{"name": ["Ada"], "date_of_birth": ["1985-12-10"], "country": {"code": "GB"}}', "country"),
    ],
)
def test_junk_inside_a_json_object_is_a_400(manage_api, data, field):
    before = written()

    body = assert_json_error(post_raw(manage_api, "/api/v1/cardholders/", data), 400)

    assert field in body if field else "detail" in body
    assert written() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pan_length", "1e309"),
        ("pan_length", "-1e309"),
        ("pan_length", "1" + "0" * 40),
        ("pan_length", "-" + "9" * 30),
        ("pan_length", "16e0"),
    ],
)
def test_huge_numbers_in_a_bin_are_a_400(manage_api, field, value):
    data = (
        '{"bin": "411111", "network": "visa", "issuer_name": "Bank", "card_type": "debit", '
        f'"country": "US", "currency": "USD", "{field}": {value}}}'
    )
    before = written()

    body = assert_json_error(post_raw(manage_api, "/api/v1/bins/", data), 400)

    assert field in body
    assert written() == before


@pytest.mark.parametrize("field", ["expiry_month", "expiry_year"])
@pytest.mark.parametrize("value", ["1e309", "1" + "0" * 40, "-1", "2030.0", "1e3"])
def test_huge_or_fractional_numbers_in_an_expiry_are_a_400(manage_api, card, field, value):
    others = {"expiry_month": "6", "expiry_year": "2030"}
    others[field] = value
    data = (
        f'{{"bin": "{card.bin.bin}", "cardholder": "{card.cardholder_id}", '
        f'"expiry_month": {others["expiry_month"]}, "expiry_year": {others["expiry_year"]}}}'
    )
    before = written()

    body = assert_json_error(post_raw(manage_api, "/api/v1/cards/", data), 400)

    assert field in body
    assert written() == before


def test_a_number_too_long_to_convert_is_a_400(manage_api):
    data = '{"bin": "411111", "pan_length": ' + "1" * 5000 + "}"

    assert_json_error(post_raw(manage_api, "/api/v1/bins/", data), 400)


# --- NUL bytes and other hostile URLs ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/bins/?network=%00",
        "/api/v1/bins/?currency=US%00",
        "/api/v1/bins/?country=%00",
        "/api/v1/bins/%00/",
        "/api/v1/bins/4111%0011/",
        "/api/v1/cardholders/?name=a%00b",
        "/api/v1/cardholders/?country=%00",
        "/api/v1/cardholders/%00/",
        "/api/v1/cards/%00/",
        "/api/v1/cards/?last4=%00",
        "/api/v1/cards/?bin=%00",
        "/api/v1/cards/?currency=%00",
        "/api/v1/cards/?status=%00",
        "/api/v1/cards/?cursor=%00",
        "/api/v1/cards/?limit=%00",
        "/api/v1/cards/?%00=1",
    ],
)
def test_a_nul_byte_in_the_url_is_a_json_400(manage_api, card, url):
    body = assert_json_error(manage_api.get(url), 400)

    assert "detail" in body


def test_a_nul_byte_in_the_url_of_a_write_is_a_json_400_and_writes_nothing(manage_api, card):
    before = written()

    responses = [
        manage_api.post("/api/v1/cards/%00/top-ups/", {"amount": "1.00"}, format="json"),
        manage_api.patch("/api/v1/cards/%00/", {"status": "blocked", "reason": "x"}, format="json"),
        manage_api.post("/api/v1/bins/?x=%00", {"bin": "411111"}, format="json"),
    ]

    for response in responses:
        assert_json_error(response, 400)
    assert written() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "\u0000", "date_of_birth": "1985-12-10", "country": "GB"}, "name"),
        ({"name": "Ada", "date_of_birth": "1985-12-10\u0000", "country": "GB"}, "date_of_birth"),
        ({"name": "Ada", "date_of_birth": "1985-12-10", "country": "G\u0000"}, "country"),
        ({"name": "Ada", "date_of_birth": "1985-12-10", "country": "GB", "email": "a\u0000@b.c"}, "email"),
    ],
)
def test_a_nul_byte_in_a_body_field_is_a_400(manage_api, body, field):
    before = written()

    response = manage_api.post("/api/v1/cardholders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert field in assert_json_error(response, 400)
    assert written() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"bin": "4\u000011111", "cardholder": "<holder>"}, "bin"),
        ({"bin": "<bin>", "cardholder": "\u0000"}, "cardholder"),
    ],
)
def test_a_nul_byte_in_a_card_lookup_is_a_400(manage_api, card, body, field):
    body = {
        name: {"<holder>": str(card.cardholder_id), "<bin>": card.bin.bin}.get(value, value)
        for name, value in body.items()
    }
    before = written()

    response = manage_api.post("/api/v1/cards/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert field in assert_json_error(response, 400)
    assert written() == before


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/cards/?status=bogus", "status"),
        ("/api/v1/cards/?cardholder=bogus", "cardholder"),
        ("/api/v1/bins/?is_active=maybe", "is_active"),
        ("/api/v1/bins/?network=maestro", "network"),
        ("/api/v1/bins/?card_type=charge", "card_type"),
        ("/api/v1/bins/?country=XX", "country"),
        ("/api/v1/cardholders/?country=XX", "country"),
        ("/api/v1/bins/?currency=ABC", "currency"),
        ("/api/v1/cards/?currency=usd", "currency"),
    ],
)
def test_an_unknown_filter_value_is_a_json_400(manage_api, card, url, field):
    assert field in assert_json_error(manage_api.get(url), 400)


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1e3", "2.5", "", "\uff15"])
def test_a_page_size_that_is_not_a_positive_integer_is_a_400(manage_api, card, limit):
    assert "limit" in assert_json_error(manage_api.get("/api/v1/cards/", {"limit": limit}), 400)


def test_a_huge_page_size_is_capped(manage_api, card):
    response = manage_api.get("/api/v1/cards/?limit=99999999999999999999")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    "decoded",
    [
        "p=yesterday",  # not a time
        "p=2026-01-01 00:00:00\x00",  # a NUL byte, past the URL check inside the encoding
        "o=abc",  # not an offset
        "r=x",
    ],
)
def test_a_forged_cursor_is_a_json_400(manage_api, card, decoded):
    cursor = base64.b64encode(decoded.encode()).decode()

    response = manage_api.get("/api/v1/cards/", {"cursor": cursor})

    assert "cursor" in assert_json_error(response, 400)


@pytest.mark.parametrize("cursor", ["zzz", "\u00e9", "a"])
def test_a_cursor_that_is_not_base64_is_a_json_400(manage_api, card, cursor):
    response = manage_api.get("/api/v1/cards/", {"cursor": cursor})

    assert "cursor" in assert_json_error(response, 400)
