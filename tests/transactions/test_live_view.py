"""The live view: a page of the latest transactions and the JSON poll behind it, which
returns only newer rows, honours the page's filters, is for staff only and never keeps
an idle session alive."""

import datetime
import re
import uuid
from types import SimpleNamespace

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from fraud.models import CountryRisk
from tests.authorizing import STRANGER, authorize
from tests.factories import CardFactory, UserFactory
from tests.fraud.configuration import go_live
from transactions.admin_views import LIVE_ROWS, SETTLE, decode_cursor, encode_cursor
from transactions.models import Transaction

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
LIVE = reverse("admin:transactions_transaction_live")
POLL = reverse("admin:transactions_transaction_live_poll")
LOGIN = reverse("admin:login")
SECOND = datetime.timedelta(seconds=1)
MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def live_client(client, staff_user, clock):
    """A staff browser logged in at START (the session's expiry counts from there)."""
    client.force_login(staff_user)
    return client


def settle(clock):
    """Let the newest rows become visible to the live view."""
    clock.shift(SETTLE + SECOND)


def page(client, **filters):
    response = client.get(LIVE, filters)
    assert response.status_code == 200
    return response


def poll(client, cursor, **filters):
    response = client.get(POLL, {"cursor": cursor, **filters})
    assert response.status_code == 200, response.content[:300]
    return response.json()


def ids(rows) -> list[str]:
    return [row["id"] for row in rows]


# --- The page -----------------------------------------------------------------------------------


def test_live_page_shows_the_latest_transactions_newest_first(live_client, clock):
    card = CardFactory(balance_minor=10_000_000)
    made = []
    for n in range(3):
        made.append(authorize(card, merchant_name=f"Shop {n}"))
        clock.shift(SECOND)
    settle(clock)
    response = page(live_client)
    assert ids(response.context["rows"]) == [str(t.pk) for t in reversed(made)]
    html = response.content.decode()
    assert card.masked_pan in html and card.pan not in html and "42.00 USD" in html and "Shop 2" in html
    assert 'class="risk risk-low"' in html and "transactions/live.js" in html
    assert f'data-cursor="{encode_cursor(made[-1].created_at, made[-1].pk)}"' in html


def test_live_page_is_linked_from_the_transaction_list(admin_client):
    assert LIVE in admin_client.get(reverse("admin:transactions_transaction_changelist")).content.decode()
    assert LIVE in admin_client.get(reverse("admin:app_list", args=["transactions"])).content.decode()


def test_live_page_shows_the_latest_fifty(live_client, clock):
    card = CardFactory(balance_minor=10_000_000)
    made = []
    for _ in range(LIVE_ROWS + 3):
        made.append(authorize(card))
        clock.shift(SECOND)
    settle(clock)
    rows = page(live_client).context["rows"]
    assert ids(rows) == [str(t.pk) for t in reversed(made[-LIVE_ROWS:])]


def test_rows_show_decision_response_code_risk_and_factor_codes(live_client, clock):
    CountryRisk.objects.create(country="NG", level=CountryRisk.Level.HIGH_RISK)
    go_live()
    risky = authorize(merchant_country="NG", mcc="7995", amount_minor=100_000)
    settle(clock)
    row = page(live_client).context["rows"][0]
    assert row["id"] == str(risky.pk)
    assert (row["decision"], row["response_code"], row["risk_score"], row["risk_level"]) == (
        "declined",
        "59",
        80,
        "high",
    )
    assert row["factors"] == [f["code"] for f in risky.risk_factors] and "high_risk_country" in row["factors"]
    assert (row["amount"], row["country"], row["card"]) == ("1000.00 USD", "NG", risky.masked_pan)


# --- The poll ---------------------------------------------------------------------------------------


def test_poll_returns_only_rows_newer_than_the_cursor(live_client, clock):
    shown = [authorize(), authorize()]
    settle(clock)
    cursor = page(live_client).context["cursor"]
    clock.shift(SECOND)
    new = [authorize()]
    clock.shift(SECOND)
    new.append(authorize())
    settle(clock)
    answer = poll(live_client, cursor)
    assert ids(answer["rows"]) == [str(new[1].pk), str(new[0].pk)]
    assert not set(ids(answer["rows"])) & {str(t.pk) for t in shown}
    assert decode_cursor(answer["cursor"]) == (new[1].created_at, new[1].pk)
    again = poll(live_client, answer["cursor"])
    assert again["rows"] == [] and decode_cursor(again["cursor"]) > decode_cursor(answer["cursor"])
    assert poll(live_client, again["cursor"])["rows"] == []


def test_poll_after_an_empty_page_returns_what_arrived_since(live_client, clock):
    cursor = page(live_client).context["cursor"]
    clock.shift(SECOND)
    txn = authorize()
    settle(clock)
    assert ids(poll(live_client, cursor)["rows"]) == [str(txn.pk)]


def test_a_row_appears_once_it_has_settled(live_client, clock):
    """The live view trails by SETTLE: a row created a moment ago may still be in a
    transaction created earlier but committing later, and a cursor must not pass it."""
    cursor = page(live_client).context["cursor"]
    txn = authorize()
    assert poll(live_client, cursor)["rows"] == []
    settle(clock)
    assert ids(poll(live_client, cursor)["rows"]) == [str(txn.pk)]


def test_rows_of_the_same_instant_are_told_apart_by_id(live_client, clock):
    first = [authorize(), authorize()]
    settle(clock)
    newest_shown = max(first, key=lambda t: t.pk)
    cursor = encode_cursor(newest_shown.created_at, newest_shown.pk)
    oldest_shown = min(first, key=lambda t: t.pk)
    assert ids(poll(live_client, encode_cursor(oldest_shown.created_at, oldest_shown.pk))["rows"]) == [
        str(newest_shown.pk)
    ]
    assert poll(live_client, cursor)["rows"] == []


@pytest.fixture
def mix(clock):
    """Transactions of every kind; each test adds one more of each after the page."""
    CountryRisk.objects.create(country="NG", level=CountryRisk.Level.HIGH_RISK)
    go_live()
    known = CardFactory(balance_minor=10_000_000)

    def make(tag: str) -> dict[str, Transaction]:
        made = {
            "coffee": authorize(merchant_name=f"Coffee {tag}"),
            "declined": authorize(CardFactory(balance_minor=100), merchant_name=f"Broke {tag}"),
            "risky": authorize(merchant_country="NG", mcc="7995", amount_minor=100_000),
            "known_card": authorize(known, merchant_name=f"Known {tag}"),
            "bottle": authorize(merchant_id="M-7777", merchant_name=f"Blue Bottle {tag}"),
            "yesterday": authorize(transaction_time=timezone.now() - datetime.timedelta(days=1)),
        }
        clock.shift(SECOND)
        return made

    return SimpleNamespace(known=known, make=make)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"decision": "declined"}, {"declined", "risky"}),
        ({"min_risk": "50"}, {"risky"}),
        ({"last4": "known"}, {"known_card"}),
        ({"merchant": "M-7777"}, {"bottle"}),
        ({"merchant": "bottle"}, {"bottle"}),
        ({"date": "2026-03-01"}, {"yesterday"}),
    ],
)
def test_filters_apply_to_the_page_and_to_every_poll(live_client, clock, mix, filters, expected):
    if filters.get("last4") == "known":
        filters = {"last4": mix.known.last4}
    before = mix.make("before")
    settle(clock)
    response = page(live_client, **filters)
    assert {row["id"] for row in response.context["rows"]} == wanted(before, expected, filters)
    after = mix.make("after")
    settle(clock)
    answer = live_client.get(f"{response.context['poll_url']}&cursor={response.context['cursor']}").json()
    assert set(ids(answer["rows"])) == wanted(after, expected, filters)


def wanted(made: dict[str, Transaction], expected: set[str], filters: dict) -> set[str]:
    # Another card of the mix may share the known card's last four digits, rarely.
    if "last4" in filters:
        expected = expected | {n for n, t in made.items() if t.card and t.card.last4 == filters["last4"]}
    return {str(made[name].pk) for name in expected}


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"min_risk": "101"}, "min_risk"),
        ({"min_risk": "high"}, "min_risk"),
        ({"last4": "12a4"}, "last4"),
        ({"last4": "123"}, "last4"),
        ({"date": "2026-02-30"}, "date"),
        ({"decision": "maybe"}, "decision"),
    ],
)
def test_bad_filters_show_errors_and_no_rows(live_client, clock, filters, field):
    authorize()
    settle(clock)
    response = page(live_client, **filters)
    assert field in response.context["form"].errors
    assert response.context["rows"] == [] and response.context["poll_url"] is None
    refused = live_client.get(POLL, {"cursor": response.context["cursor"], **filters})
    assert refused.status_code == 400 and field in refused.json()["errors"]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "abc",
        "123",
        "123-xyz",
        "9" * 30 + "-" + "0" * 32,
        "-1-" + "0" * 32,
        "9" * 16 + "-" + "0" * 32,
        "1.5-" + "0" * 32,
        "9" * 13 + ".000000-" + "0" * 32,
        "1780000000.000000-nothex",
    ],
)
def test_poll_refuses_a_bad_cursor(live_client, cursor):
    response = live_client.get(POLL, {"cursor": cursor})
    assert response.status_code == 400 and "cursor" in response.json()["errors"]


def test_a_pasted_card_number_is_reduced_to_its_last_four_digits(live_client, clock):
    card = CardFactory(balance_minor=10_000_000)
    txn = authorize(card)
    settle(clock)
    response = live_client.get(LIVE, {"last4": card.pan, "merchant": card.pan}, follow=True)
    assert response.redirect_chain[0][0] == f"{LIVE}?last4={card.last4}"
    assert ids(response.context["rows"]) == [str(txn.pk)]
    assert card.pan not in response.content.decode()


def test_neither_page_nor_poll_shows_a_full_card_number(live_client, clock):
    card = CardFactory(balance_minor=10_000_000)
    authorize(card)
    authorize(STRANGER)
    cursor = page(live_client).context["cursor"]
    settle(clock)
    html = page(live_client).content.decode()
    text = live_client.get(POLL, {"cursor": cursor}).content.decode()
    for output in (html, text):
        assert card.masked_pan in output and "400000******7899" in output
        assert card.pan not in output and STRANGER.pan not in output


# --- Who may look ------------------------------------------------------------------------------------


def test_anonymous_and_non_staff_users_are_sent_to_the_login_page(client):
    cursor = encode_cursor(START, Transaction().pk)
    for url in (LIVE, f"{POLL}?cursor={cursor}"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(LOGIN), url
    client.force_login(UserFactory(username="customer", is_staff=False, is_superuser=False))
    for url in (LIVE, f"{POLL}?cursor={cursor}"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(LOGIN), url


def test_staff_without_the_view_permission_are_refused(client):
    clerk = UserFactory(username="clerk", is_superuser=False)
    clerk.user_permissions.set(Permission.objects.filter(codename="view_card"))
    client.force_login(clerk)
    assert client.get(LIVE).status_code == 403
    assert client.get(POLL, {"cursor": encode_cursor(START, Transaction().pk)}).status_code == 403


# --- The idle timeout -----------------------------------------------------------------------------------


def test_a_session_that_only_polls_ends_after_fifteen_minutes(live_client, clock):
    cursor = page(live_client).context["cursor"]
    statuses = {}
    for step in range(1, 16 * 3 + 1):  # every 20 seconds for 16 minutes
        clock.shift(datetime.timedelta(seconds=20))
        statuses[step * 20] = live_client.get(POLL, {"cursor": cursor}).status_code
    assert {s for t, s in statuses.items() if t < 15 * 60} == {200}
    assert {s for t, s in statuses.items() if t >= 15 * 60} == {302}
    response = live_client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_a_real_page_view_every_ten_minutes_keeps_the_session_alive(live_client, clock):
    cursor = page(live_client).context["cursor"]
    for _ in range(4):  # 40 minutes, polling all along
        for _ in range(10 * 3):
            clock.shift(datetime.timedelta(seconds=20))
            assert live_client.get(POLL, {"cursor": cursor}).status_code == 200
        cursor = page(live_client).context["cursor"]  # a real page view: activity
    clock.shift(14 * MINUTE)
    assert live_client.get(reverse("admin:index")).status_code == 200


def test_the_cursor_carries_no_run_of_digits_as_long_as_a_card_number():
    # An id whose digits, without its dashes, would run on for 20 (pages refuse 13).
    pk = uuid.UUID("12345678-1234-1234-1234-123456789abc")
    at = datetime.datetime(2026, 6, 15, 12, 0, 0, 123456, tzinfo=datetime.UTC)
    cursor = encode_cursor(at, pk)
    assert not re.search(r"\d{13}", cursor)
    assert decode_cursor(cursor) == (at, pk)
