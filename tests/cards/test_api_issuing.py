"""Issuing cards through the API: the number and CVV shown once, expiry and limits,
and every rejection writing nothing."""

import datetime
import uuid

import pytest
import time_machine

from cards.models import Card
from cardsystem.models import AuditLog
from tests.cards.api_requests import CARDS, post, written
from tests.factories import BinFactory, CardholderFactory

pytestmark = pytest.mark.django_db


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


@pytest.fixture
def holder():
    return CardholderFactory()


@pytest.fixture
def visa():
    return BinFactory(bin="411111", network="visa", pan_length=16, currency="USD")


def issue(api, bin, holder, key="issue-1", **extra):
    return post(api, CARDS, {"bin": bin.bin, "cardholder": str(holder.pk), **extra}, key=key)


@time_machine.travel(datetime.datetime(2026, 3, 15, 12, tzinfo=datetime.UTC), tick=False)
def test_issues_a_card_with_its_number_and_cvv_shown_once(manage_api, visa, holder):
    response = issue(manage_api, visa, holder)

    assert response.status_code == 201, response.json()
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    pan, cvv = body["pan"], body["cvv"]
    assert len(pan) == 16 and pan.isdigit() and pan.startswith("411111") and luhn_valid(pan)
    assert len(cvv) == 3 and cvv.isdigit()
    assert body["masked_pan"] == f"{pan[:6]}******{pan[-4:]}"
    assert body["last4"] == pan[-4:]
    assert (body["expiry_month"], body["expiry_year"]) == (3, 2029)
    assert body["bin"] == "411111" and body["cardholder"] == str(holder.pk)
    assert (body["status"], body["balance"], body["currency"]) == ("active", "0.00", "USD")
    assert body["limits"] == {"per_transaction": None, "daily": None, "monthly": None}
    card = Card.objects.get(pk=body["id"])
    assert card.masked_pan == body["masked_pan"] and card.cardholder == holder
    audit = AuditLog.objects.get(action=AuditLog.Action.CARD_ISSUED)
    assert audit.actor_client == manage_api.api_client and audit.target_id == body["id"]
    assert pan not in str(audit.details) and pan not in audit.target_label


@pytest.mark.parametrize(
    ("bin_number", "network", "pan_length", "masked_digits", "cvv_length"),
    [
        # Shown digits: first six and last four at most, and at least six always hidden.
        ("990000", "other", 12, (2, 4), 3),
        ("400000", "visa", 13, (3, 4), 3),
        ("340000", "amex", 15, (5, 4), 4),
        ("370000", "amex", 15, (5, 4), 4),
        ("510000", "mastercard", 16, (6, 4), 3),
        ("352800", "jcb", 16, (6, 4), 3),
        ("41111111", "visa", 19, (6, 4), 3),
    ],
)
def test_issues_a_card_of_the_bins_length_masked_for_its_length(
    manage_api, holder, bin_number, network, pan_length, masked_digits, cvv_length
):
    bin = BinFactory(bin=bin_number, network=network, pan_length=pan_length)

    body = issue(manage_api, bin, holder).json()

    pan, first, last = body["pan"], *masked_digits
    assert len(pan) == pan_length and pan.startswith(bin_number) and luhn_valid(pan)
    assert len(body["cvv"]) == cvv_length and body["cvv"].isdigit()
    assert body["masked_pan"] == pan[:first] + "*" * (pan_length - first - last) + pan[-last:]


@time_machine.travel(datetime.datetime(2026, 3, 15, 12, tzinfo=datetime.UTC), tick=False)
def test_issues_a_card_with_the_expiry_and_limits_asked_for(manage_api, visa, holder):
    response = issue(
        manage_api,
        visa,
        holder,
        expiry_month=3,
        expiry_year=2026,
        limits={"per_transaction": "50.00", "daily": "200", "monthly": "1000.5"},
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["expiry_month"], body["expiry_year"]) == (3, 2026)
    assert body["limits"] == {"per_transaction": "50.00", "daily": "200.00", "monthly": "1000.50"}
    card = Card.objects.get(pk=body["id"])
    assert (card.limit_per_transaction_minor, card.limit_daily_minor, card.limit_monthly_minor) == (
        5000,
        20000,
        100050,
    )


def test_card_number_and_cvv_appear_in_no_other_response(manage_api, visa, holder):
    issued = issue(manage_api, visa, holder).json()
    pan, card_url = issued["pan"], f"{CARDS}{issued['id']}/"

    others = [
        manage_api.get(card_url),
        manage_api.get(CARDS),
        manage_api.get(f"{CARDS}?last4={pan[-4:]}"),
        manage_api.patch(card_url, {"status": "blocked", "reason": "check"}, format="json"),
        manage_api.patch(card_url, {"limits": {"daily": "10.00"}}, format="json"),
        manage_api.post(f"{card_url}top-ups/", {"amount": "5.00"}, format="json"),
    ]

    for response in others:
        assert response.status_code in (200, 201), response.json()
        text = response.content.decode()
        assert pan not in text
        assert '"pan"' not in text and '"cvv"' not in text
    assert manage_api.get(card_url).json()["masked_pan"] == issued["masked_pan"]


@time_machine.travel(datetime.datetime(2026, 3, 15, 12, tzinfo=datetime.UTC), tick=False)
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"expiry_month": 2, "expiry_year": 2026}, "expiry_year"),
        ({"expiry_month": 12, "expiry_year": 2025}, "expiry_year"),
        ({"expiry_month": 13, "expiry_year": 2027}, "expiry_month"),
        ({"expiry_month": 0, "expiry_year": 2027}, "expiry_month"),
        ({"expiry_month": 6}, "expiry_year"),
        ({"expiry_year": 2028}, "expiry_month"),
        ({"expiry_month": "6", "expiry_year": 2028}, "expiry_month"),
        ({"expiry_month": 6.0, "expiry_year": 2028}, "expiry_month"),
        ({"expiry_month": 6, "expiry_year": 2037}, "expiry_year"),
        ({"expiry_month": 6, "expiry_year": 10**30}, "expiry_year"),
        ({"limits": {"daily": "12.505"}}, "limits.daily"),
        ({"limits": {"daily": "1e3"}}, "limits.daily"),
        ({"limits": {"daily": 12.5}}, "limits.daily"),
        ({"limits": {"daily": 12}}, "limits.daily"),
        ({"limits": {"daily": "-5.00"}}, "limits.daily"),
        ({"limits": {"daily": "0"}}, "limits.daily"),
        ({"limits": {"daily": "0.00"}}, "limits.daily"),
        ({"limits": {"daily": ""}}, "limits.daily"),
        ({"limits": {"daily": "12,50"}}, "limits.daily"),
        ({"limits": {"per_transaction": "0.001"}}, "limits.per_transaction"),
        ({"limits": {"monthly": "NaN"}}, "limits.monthly"),
        ({"limits": {"per_transaction": "100.00", "daily": "50.00"}}, "limits.daily"),
        ({"limits": {"daily": "100.00", "monthly": "50.00"}}, "limits.monthly"),
        ({"limits": {"per_transaction": "100.00", "monthly": "50.00"}}, "limits.monthly"),
        ({"limits": {"weekly": "10.00"}}, "limits.weekly"),
        ({"limits": "100.00"}, "limits"),
        ({"limits": None}, "limits"),
        ({"colour": "gold"}, "colour"),
    ],
)
def test_rejects_an_invalid_issue_and_writes_nothing(manage_api, visa, holder, extra, field):
    before = written()

    response = issue(manage_api, visa, holder, **extra)

    assert response.status_code == 400
    body = response.json()
    if "." in field:
        outer, inner = field.split(".")
        assert inner in body[outer], body
    else:
        assert field in body, body
    assert written() == before


def test_limit_errors_name_each_nested_field_with_the_others(manage_api, visa, holder):
    response = issue(
        manage_api,
        visa,
        holder,
        expiry_month=13,
        expiry_year=2030,
        limits={"per_transaction": "-1.00", "daily": "1e3", "weekly": "1"},
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"expiry_month", "limits"}
    assert set(body["limits"]) == {"per_transaction", "daily", "weekly"}


def test_expiry_and_limit_rule_errors_come_together(manage_api, visa, holder):
    response = issue(
        manage_api,
        visa,
        holder,
        expiry_month=1,
        expiry_year=2000,
        limits={"per_transaction": "100.00", "daily": "50.00"},
    )

    assert response.status_code == 400
    assert set(response.json()) == {"expiry_year", "limits"}
    assert set(response.json()["limits"]) == {"daily"}


HOLDER = object()  # stands for the cardholder's id in the table below


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"bin": "499999", "cardholder": HOLDER}, "bin"),
        ({"bin": 411111, "cardholder": HOLDER}, "bin"),
        ({"bin": "", "cardholder": HOLDER}, "bin"),
        ({"cardholder": HOLDER}, "bin"),
        ({"bin": "411111", "cardholder": str(uuid.uuid4())}, "cardholder"),
        ({"bin": "411111", "cardholder": "not-a-uuid"}, "cardholder"),
        ({"bin": "411111", "cardholder": None}, "cardholder"),
        ({"bin": "411111"}, "cardholder"),
    ],
)
def test_rejects_an_issue_for_an_unknown_bin_or_cardholder(manage_api, visa, holder, body, field):
    body = {name: str(holder.pk) if value is HOLDER else value for name, value in body.items()}
    before = written()

    response = post(manage_api, CARDS, body)

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert written() == before


def test_rejects_an_issue_on_an_inactive_bin(manage_api, holder):
    bin = BinFactory(is_active=False)
    before = written()

    response = issue(manage_api, bin, holder)

    assert response.status_code == 400
    assert "bin" in response.json()
    assert written() == before


@pytest.fixture
def yen_bin():
    return BinFactory(bin="352800", network="jcb", country="JP", currency="JPY")


def test_takes_whole_yen_limits_on_a_yen_card(manage_api, yen_bin, holder):
    response = issue(manage_api, yen_bin, holder, limits={"per_transaction": "1200", "daily": "50000"})

    assert response.status_code == 201, response.json()
    assert response.json()["limits"]["per_transaction"] == "1200"
    assert Card.objects.get().limit_per_transaction_minor == 1200


@pytest.mark.parametrize("amount", ["12.50", "1200.0", "0.5"])
def test_rejects_a_yen_limit_with_a_fraction(manage_api, yen_bin, holder, amount):
    before = written()

    response = issue(manage_api, yen_bin, holder, limits={"per_transaction": amount})

    assert response.status_code == 400
    assert "per_transaction" in response.json()["limits"]
    assert written() == before
