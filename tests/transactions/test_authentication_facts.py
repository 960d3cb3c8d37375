"""How the card and its holder were authenticated (entry mode, cardholder verification,
3-D Secure, device): optional fields of an authorization, validated, stored (the device as
a keyed hash only), shown to the back office and `manage` reads, documented in the schema,
and never in the answer an `authorize` client gets beyond the contract's fields."""

import json

import pytest
from django.urls import reverse

from tests.authorizing import decide, post_authorization, written
from transactions.authentication_facts import CardholderVerification, EntryMode, ThreeDS, device_digest
from transactions.models import Transaction

pytestmark = pytest.mark.django_db

FACTS = {
    "entry_mode": "contactless",
    "cardholder_verification": "consumer_device",
    "three_ds": "not_performed",
    "device_id": "wallet-7f3a:device/01",
}
CONTRACT = {
    "id", "status", "response_code", "reason", "risk_score", "risk_level", "risk_factors", "flagged",
    "amount", "currency", "masked_pan", "transaction_time", "created_at",
}  # fmt: skip


def _stored(body) -> Transaction:
    return Transaction.objects.get(pk=body["id"])


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("entry_mode", EntryMode.values),
        ("cardholder_verification", CardholderVerification.values),
        ("three_ds", ThreeDS.values),
    ],
)
def test_each_value_of_each_fact_is_accepted_and_stored(authorize_api, card, field, values):
    for value in values:
        assert getattr(_stored(decide(authorize_api, card, **{field: value})), field) == value


def test_absent_facts_are_unknown_and_stored_blank(authorize_api, card):
    stored = _stored(decide(authorize_api, card))

    assert (stored.entry_mode, stored.cardholder_verification, stored.three_ds, stored.device_hash) == (
        "",
        "",
        "",
        "",
    )


def test_the_answer_keeps_exactly_the_contracts_fields(authorize_api, card):
    body = decide(authorize_api, card, **FACTS)

    assert set(body) == CONTRACT
    assert FACTS["device_id"] not in json.dumps(body)


def test_the_device_is_kept_as_a_keyed_hash_never_as_given(authorize_api, card):
    first = _stored(decide(authorize_api, card, **FACTS))
    again = _stored(decide(authorize_api, card, **FACTS))
    other = _stored(decide(authorize_api, card, **{**FACTS, "device_id": "another-device"}))

    assert first.device_hash == again.device_hash == device_digest(FACTS["device_id"])
    assert len(first.device_hash) == 64 and set(first.device_hash) <= set("0123456789abcdef")
    assert other.device_hash != first.device_hash
    row = Transaction.objects.filter(pk=first.pk).values().get()
    assert not any(FACTS["device_id"] in str(value) for value in row.values())


INVALID = [
    ("entry_mode", "swipe"),
    ("entry_mode", "CHIP"),
    ("entry_mode", 5),
    ("entry_mode", ""),
    ("entry_mode", None),
    ("cardholder_verification", "pin"),
    ("cardholder_verification", ["pin_verified"]),
    ("three_ds", "yes"),
    ("three_ds", True),
    ("device_id", ""),
    ("device_id", "a device"),  # a space
    ("device_id", "d" * 129),
    ("device_id", "téléphone"),
    ("device_id", "a\u0000b"),
    ("device_id", 12345),
    ("device_id", "4000001234567899"),  # card data never goes here
]


@pytest.mark.parametrize(("field", "value"), INVALID)
def test_a_bad_fact_is_a_400_naming_it_and_writes_nothing(authorize_api, card, field, value):
    before = written()

    response = post_authorization(authorize_api, card, **{field: value})

    assert response.status_code == 400, response.content[:300]
    assert field in response.json()
    assert written() == before


def test_the_longest_device_id_is_accepted(authorize_api, card):
    assert _stored(decide(authorize_api, card, device_id="d" * 128)).device_hash == device_digest("d" * 128)


def test_manage_reads_show_the_facts(authorize_api, manage_api, card):
    body = decide(authorize_api, card, **FACTS)

    shown = manage_api.get(f"/api/v1/transactions/{body['id']}/").json()
    listed = manage_api.get("/api/v1/transactions/").json()["results"][0]

    expected = {
        "entry_mode": "contactless",
        "cardholder_verification": "consumer_device",
        "three_ds": "not_performed",
        "device_hash": device_digest(FACTS["device_id"]),
    }
    assert {name: shown[name] for name in expected} == expected
    assert {name: listed[name] for name in expected} == expected


def test_the_admin_page_shows_the_facts(authorize_api, admin_client, card):
    stored = _stored(decide(authorize_api, card, **FACTS))

    html = admin_client.get(
        reverse("admin:transactions_transaction_change", args=[stored.pk])
    ).content.decode()

    assert "Authentication" in html
    assert "Contactless (chip or wallet)" in html
    assert "On the shopper&#x27;s device" in html
    assert "Not performed" in html
    assert stored.device_hash in html and FACTS["device_id"] not in html


def test_the_schema_documents_the_optional_facts_with_their_values(anonymous_api):
    schema = anonymous_api.get("/api/schema/?format=json").json()
    request = schema["components"]["schemas"]["AuthorizationRequest"]

    for name, enum in (
        ("entry_mode", EntryMode.values),
        ("cardholder_verification", CardholderVerification.values),
        ("three_ds", ThreeDS.values),
    ):
        assert name not in request["required"]
        (reference,) = [part["$ref"].rsplit("/", 1)[-1] for part in request["properties"][name]["allOf"]]
        assert schema["components"]["schemas"][reference]["enum"] == enum
    assert "device_id" in request["properties"] and "device_id" not in request["required"]
    assert request["properties"]["device_id"]["maxLength"] == 128
