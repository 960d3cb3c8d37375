"""The rules of fraud migration 0018 (fraud/authentication.py), each at the edges of its
conditions through the authorization service: 3-D Secure failed abroad from a device new
to the card, a card number keyed in person abroad, and a device with one approval still
new to `new_device_3ds_failed`."""

import pytest

from fraud.models import Rule
from fraud.params import validate_rule_params
from fraud.versions import live_version
from tests.authorizing import authorize_at, factors
from tests.factories import CardFactory
from tests.fraud.clock import DAY, HOUR, NOW
from tests.fraud.configuration import go_live

authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db

NEW = {"merchant_id": "M-NEW"}  # a merchant the card never used
ONLINE = {"channel": "ecommerce", "entry_mode": "ecommerce", "cardholder_verification": "no_cvm"}
KEYED = {"channel": "pos", "entry_mode": "keyed", "cardholder_verification": "signature"}


def _card(devices: dict[str, int] | None = None):
    """A US cardholder's card, read by chip two days ago at home, with `devices`: approvals
    from each device at a web shop at home, three days ago."""
    card = CardFactory(balance_minor=1_000_000_00)
    authorize(card, transaction_time=NOW - 2 * DAY, entry_mode="chip", cardholder_verification="pin_verified")
    for device, approvals in (devices or {}).items():
        for n in range(approvals):
            at = NOW - 3 * DAY - n * HOUR
            assert authorize(card, merchant_id="M-WEB", transaction_time=at, device_hash=device, **ONLINE)
    return card


def _fired(decided, code) -> bool:
    return code in factors(decided)


def test_shipped_in_the_live_version():
    rules = live_version().snapshot["rules"]
    assert rules["new_device_3ds_failed_abroad"] == {"enabled": True, "score": 80, "params": {}}
    assert rules["keyed_in_person_abroad"] == {"enabled": True, "score": 80, "params": {}}
    assert rules["new_device_3ds_failed"]["params"] == {
        "min_known_device_approvals": 1,
        "max_device_approvals": 1,
    }


# --- 3-D Secure failed abroad from a new device ------------------------------------------------


@pytest.mark.parametrize(
    ("country", "merchant", "three_ds", "devices", "fires"),
    [
        ("FR", "M-NEW", "failed", {}, True),
        ("FR", "M-NEW", "failed", {"phone": 2}, True),
        ("US", "M-NEW", "failed", {}, False),
        ("FR", "M-NEW", "not_performed", {}, False),
        ("FR", "M-WEB", "failed", {}, False),
        ("FR", "M-NEW", "failed", {"laptop": 1}, False),
    ],
    ids=[
        "a card that never bought online",
        "a card with a device of its own",
        "at home",
        "not performed",
        "a known merchant",
        "the device bought before",
    ],
)
def test_3ds_failed_abroad_from_a_new_device_declines(country, merchant, three_ds, devices, fires):
    card = _card(devices)
    if merchant == "M-WEB":
        authorize(card, merchant_id="M-WEB", transaction_time=NOW - DAY, merchant_country="FR", **ONLINE)
    decided = authorize(
        card,
        merchant_id=merchant,
        merchant_country=country,
        three_ds=three_ds,
        device_hash="laptop",
        **ONLINE,
    )
    assert _fired(decided, "new_device_3ds_failed_abroad") is fires
    if fires:
        assert decided.response_code == "59"


def test_3ds_failed_abroad_needs_a_device():
    decided = authorize(_card(), **NEW, merchant_country="FR", three_ds="failed", device_hash="", **ONLINE)
    assert not _fired(decided, "new_device_3ds_failed_abroad")


# --- A card number keyed in person abroad -------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "merchant", "fields", "fires"),
    [
        ("FR", "M-NEW", KEYED, True),
        ("FR", "M-NEW", {**KEYED, "channel": "atm"}, True),
        ("US", "M-NEW", KEYED, False),
        ("FR", "M-SHOP", KEYED, False),
        ("FR", "M-NEW", {**KEYED, "entry_mode": "chip"}, False),
        ("FR", "M-NEW", {**KEYED, "channel": "moto"}, False),
    ],
    ids=["abroad", "at a cash machine", "at home", "a known merchant", "read by chip", "mail or phone order"],
)
def test_a_card_number_keyed_in_person_at_a_new_merchant_abroad_declines(country, merchant, fields, fires):
    card = _card()
    authorize(card, merchant_id="M-SHOP", merchant_country="FR", transaction_time=NOW - DAY)
    decided = authorize(card, merchant_id=merchant, merchant_country=country, **fields)
    assert _fired(decided, "keyed_in_person_abroad") is fires
    assert (decided.response_code == "59") is fires


# --- new_device_3ds_failed: a device with one approval is still new ------------------------------


@pytest.mark.parametrize(
    ("devices", "fires"),
    [
        ({"phone": 1, "laptop": 1}, True),
        ({"phone": 1}, True),
        ({"phone": 1, "laptop": 2}, False),
        ({"laptop": 1}, False),
    ],
    ids=[
        "one approval, others known",
        "never used, others known",
        "two approvals",
        "one approval, no other device",
    ],
)
def test_a_device_with_at_most_max_approvals_is_new(devices, fires):
    decided = authorize(_card(devices), **NEW, three_ds="failed", device_hash="laptop", **ONLINE)
    assert _fired(decided, "new_device_3ds_failed") is fires


def test_without_max_device_approvals_only_a_device_never_used_is_new():
    rule = Rule.objects.get(code="new_device_3ds_failed")
    rule.params = {"min_known_device_approvals": 1}
    rule.save()
    go_live()
    card = _card({"phone": 1, "laptop": 1})
    decided = authorize(card, **NEW, three_ds="failed", device_hash="laptop", **ONLINE)
    assert not _fired(decided, "new_device_3ds_failed")
    decided = authorize(card, merchant_id="M-OTHER", three_ds="failed", device_hash="tablet", **ONLINE)
    assert _fired(decided, "new_device_3ds_failed")


@pytest.mark.parametrize(
    ("code", "params", "bad"),
    [
        ("new_device_3ds_failed", {"min_known_device_approvals": 1, "max_device_approvals": 0}, True),
        ("new_device_3ds_failed", {"min_known_device_approvals": 1, "max_device_approvals": 2}, False),
        ("keyed_in_person_abroad", {"min": 1}, True),
        ("new_device_3ds_failed_abroad", {}, False),
    ],
)
def test_their_params_are_checked(code, params, bad):
    assert bool(validate_rule_params(code, params)) is bad
