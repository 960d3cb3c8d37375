"""Malformed authorizations: a 400 naming the field (or a 413/415 for the body itself),
never a 500, and nothing written. Run on PostgreSQL too: NUL bytes only fail there."""

import datetime
import json

import pytest
import time_machine
from django.conf import settings

from cardsystem.card_numbers import luhn_check_digit
from tests.authorizing import URL, api_body, decide, post_authorization, written
from tests.factories import CardFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 16, 12, tzinfo=datetime.UTC)


def luhn_failing(pan: str) -> str:
    return pan[:-1] + str((int(pan[-1]) + 1) % 10)


def assert_rejected(response, status=400):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    return response.json()


INVALID = [
    ("card_number", "4000 0012 3456 7899"),
    ("card_number", "4000-0012-3456-7899"),
    ("card_number", "40000012345678a9"),
    ("card_number", "".join(chr(0xFF10 + int(d)) for d in "4000001234567899")),  # fullwidth digits
    ("card_number", "40000012349"),  # 11 digits
    ("card_number", "4" * 19 + "4"),  # 20 digits
    ("card_number", "luhn"),
    ("card_number", 4000001234567899),
    ("card_number", ""),
    ("card_number", None),
    ("expiry_month", 13),
    ("expiry_month", 0),
    ("expiry_month", "12"),
    ("expiry_month", 12.0),
    ("expiry_month", True),
    ("expiry_year", 29),
    ("expiry_year", "2029"),
    ("cvv", "12"),
    ("cvv", "12345"),
    ("cvv", "12a"),
    ("cvv", 123),
    ("amount", "12.345"),
    ("amount", "1e3"),
    ("amount", "-1.00"),
    ("amount", "0"),
    ("amount", "0.00"),
    ("amount", 42.0),
    ("amount", 42),
    ("amount", ""),
    ("amount", " 1.00"),
    ("amount", "1,00"),
    ("currency", "ABC"),
    ("currency", "usd"),
    ("currency", 840),
    ("merchant_country", "XX"),
    ("merchant_country", "us"),
    ("mcc", "581"),
    ("mcc", "58140"),
    ("mcc", "abcd"),
    ("mcc", 5814),
    ("channel", "web"),
    ("merchant_id", "x" * 65),
    ("merchant_id", ""),
    ("merchant_id", "a\u0000b"),
    ("merchant_name", "a\u0000b"),
    ("merchant_name", "x" * 101),
    ("transaction_time", "2026-03-16T11:00:00"),  # naive
    ("transaction_time", "2026-03-16 11:00"),
    ("transaction_time", "yesterday"),
    ("transaction_time", 1773658800),
    ("transaction_time", "2026-02-30T10:00:00Z"),
    ("transaction_time", "1999-12-31T23:59:59Z"),
    # The years 2000-2100 as written (what the schema's pattern says), whatever UTC makes of it.
    ("transaction_time", "1999-12-31T23:30:00-01:00"),
]


@pytest.mark.parametrize(("field", "value"), INVALID)
def test_a_malformed_field_is_a_400_naming_it_and_writes_nothing(authorize_api, card, field, value):
    if value == "luhn":
        value = luhn_failing(card.pan)
    before = written()

    with time_machine.travel(NOW, tick=False):
        response = post_authorization(authorize_api, card, **{field: value})

    assert field in assert_rejected(response)
    assert written() == before
    assert card.pan not in response.content.decode()


def test_an_amount_with_more_digits_than_the_currency_has_is_a_400(authorize_api, card):
    before = written()

    response = post_authorization(authorize_api, card, amount="12.5", currency="JPY")

    assert "amount" in assert_rejected(response)
    assert written() == before


@pytest.mark.parametrize(
    "field",
    [
        "card_number",
        "expiry_month",
        "expiry_year",
        "amount",
        "currency",
        "merchant_id",
        "mcc",
        "merchant_country",
    ],
)
def test_a_missing_required_field_is_a_400_naming_it(authorize_api, card, field):
    data = api_body(card, omit=(field,))
    before = written()

    assert field in assert_rejected(post_authorization(authorize_api, data))
    assert written() == before


def test_an_unknown_field_is_a_400_naming_it(authorize_api, card):
    before = written()

    response = post_authorization(authorize_api, card, tip="1.00")

    assert assert_rejected(response)["tip"] == ["Unknown field."]
    assert written() == before


def test_every_offending_field_is_named_at_once(authorize_api, card):
    response = post_authorization(authorize_api, card, mcc="1", channel="web", cvv=12)

    assert {"mcc", "channel", "cvv"} <= set(assert_rejected(response))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('"amount": NaN', None),
        ('"amount": Infinity', None),
        ('"amount": 1e309', "amount"),
        ('"expiry_month": 1e309', "expiry_month"),
        ('"expiry_year": 1' + "0" * 40, "expiry_year"),
    ],
)
def test_numbers_json_cannot_hold_are_a_400(authorize_api, card, raw, field):
    name = raw.split(":")[0].strip('"')
    data = json.dumps(api_body(card, omit=(name,)))[:-1] + ", " + raw + "}"
    before = written()

    response = authorize_api.generic("POST", URL, data, content_type="application/json")

    assert (field or "detail") in assert_rejected(response)
    assert written() == before


# --- Well-formed edges: decisions, not 400s -----------------------------------------------------------


@pytest.mark.parametrize("length", [12, 19])
def test_card_numbers_of_12_and_19_digits_are_well_formed(authorize_api, card, length):
    partial = "4" + "0" * (length - 2)
    pan = partial + luhn_check_digit(partial)

    answer = decide(authorize_api, card, card_number=pan)

    assert answer["response_code"] == "14" and answer["masked_pan"].endswith(pan[-4:])


@pytest.mark.parametrize("changes", [{"merchant_name": ""}, {"channel": "moto"}, {"cvv": "1234"}])
def test_optional_and_edge_values_are_decided(authorize_api, card, changes):
    assert decide(authorize_api, card, **changes)["response_code"] in {"00", "N7"}


# --- transaction_time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (datetime.timedelta(minutes=5), True),
        (datetime.timedelta(minutes=5, seconds=1), False),
        (datetime.timedelta(minutes=6), False),
        (datetime.timedelta(days=-400), True),  # before the card existed here
    ],
)
def test_transaction_time_may_be_past_or_at_most_5_minutes_ahead(authorize_api, offset, accepted):
    with time_machine.travel(NOW, tick=False):
        card = CardFactory(balance_minor=100_00)
        before = written()
        response = post_authorization(authorize_api, card, transaction_time=(NOW + offset).isoformat())

    if accepted:
        assert response.status_code == 201 and response.json()["response_code"] == "00"
        assert response.json()["transaction_time"] == (NOW + offset).isoformat().replace("+00:00", "Z")
    else:
        assert "transaction_time" in assert_rejected(response)
        assert written() == before


def test_the_year_2000_is_read_as_written_not_in_utc(authorize_api, card):
    with time_machine.travel(NOW, tick=False):
        response = post_authorization(authorize_api, card, transaction_time="2000-01-01T00:30:00+01:00")

    assert response.status_code == 201
    assert response.json()["transaction_time"] == "1999-12-31T23:30:00Z"


def test_transaction_time_defaults_to_now(authorize_api, card):
    data = api_body(card)  # no transaction_time

    with time_machine.travel(NOW, tick=False):
        answer = decide(authorize_api, data)

    assert answer["transaction_time"] == "2026-03-16T12:00:00Z"


# --- The body itself -------------------------------------------------------------------------------------


def test_a_body_over_64_kib_is_a_json_413(authorize_api, card):
    data = json.dumps(api_body(card, merchant_name="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)))
    before = written()

    response = authorize_api.generic("POST", URL, data, content_type="application/json")

    assert "detail" in assert_rejected(response, 413)
    assert written() == before


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("card_number=4000001234567899&amount=1.00", "application/x-www-form-urlencoded", 415),
        ("{}", "text/plain", 415),
        ("not json", "application/json", 400),
        ("[]", "application/json", 400),
        ('{"card_number": "4000001234567899",}', "application/json", 400),
    ],
)
def test_a_body_that_is_not_a_json_object_is_rejected(authorize_api, data, content_type, status):
    before = written()

    response = authorize_api.generic("POST", URL, data, content_type=content_type)

    assert_rejected(response, status)
    assert written() == before


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/authorizations/%00/reverse/",
        "/api/v1/authorizations/?probe=%00",
        "/api/v1/transactions/00000000-0000-0000-0000-000000000000%00/fraud-report/",
    ],
)
def test_a_nul_byte_in_the_url_is_a_json_400(authorize_api, card, url):
    before = written()

    response = authorize_api.post(url, api_body(card), format="json")

    assert "detail" in assert_rejected(response)
    assert written() == before
