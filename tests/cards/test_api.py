"""Cardholders and cards through the API: issuing, reading, filtering, status and limits."""

import datetime
import uuid

import pytest
import time_machine

from bins.models import Bin
from cards.models import Card, Cardholder, LedgerEntry
from cardsystem.models import AuditLog, IdempotencyRecord
from tests.factories import BinFactory, CardFactory, CardholderFactory

pytestmark = pytest.mark.django_db

CARDHOLDERS = "/api/v1/cardholders/"
CARDS = "/api/v1/cards/"


def written():
    """Everything a request could write; a rejected request leaves all of it unchanged."""
    return {
        model.__name__: model.objects.count()
        for model in (Bin, Cardholder, Card, LedgerEntry, AuditLog, IdempotencyRecord)
    }


def post(api, url, body, key="request-1"):
    # Every POST carries an Idempotency-Key, so that "nothing written" covers the key too.
    return api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


# --- Cardholders ---------------------------------------------------------------------------


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


@pytest.mark.parametrize("cardholder_id", [str(uuid.uuid4()), "not-a-uuid", "123"])
def test_answers_404_json_for_an_unknown_cardholder(manage_api, cardholder_id):
    response = manage_api.get(f"{CARDHOLDERS}{cardholder_id}/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


# --- Issuing -----------------------------------------------------------------------------------


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


# --- Reading cards -------------------------------------------------------------------------------


def test_shows_one_card(manage_api):
    card = CardFactory(balance_minor=1234)

    response = manage_api.get(f"{CARDS}{card.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(card.pk) and body["balance"] == "12.34"
    assert body["masked_pan"] == card.masked_pan and body["last4"] == card.pan[-4:]


@pytest.mark.parametrize("card_id", [str(uuid.uuid4()), "not-a-uuid"])
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
