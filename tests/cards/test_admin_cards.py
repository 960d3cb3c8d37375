"""Cards in the back office: the list, the card page (limits, assignment, ledger,
history), and no page but the issue confirmation ever showing the card's number."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cards.models import Card
from cardsystem.models import AuditLog
from tests.cards.admin_pages import CARDS, ISSUE, NO_LIMITS, card_in, issue_data, stock_card, url, written
from tests.factories import BinFactory, CardFactory, CardholderFactory

pytestmark = pytest.mark.django_db

# --- The card list --------------------------------------------------------------------------------


def test_card_list_shows_masked_pan_balance_and_expiry(admin_client):
    card = CardFactory(balance_minor=12_345)
    html = admin_client.get(CARDS).content.decode()
    assert card.masked_pan in html and "123.45 USD" in html
    assert f"{card.expiry_month:02d}/{card.expiry_year}" in html and card.pan not in html


@pytest.mark.parametrize("query", ["last4", "holder", "bin"])
def test_card_list_searches_by_last_four_cardholder_and_bin(admin_client, query):
    card = CardFactory(cardholder=CardholderFactory(name="Ada Lovelace"), bin=BinFactory(bin="411111"))
    CardFactory(cardholder=CardholderFactory(name="Grace Hopper"), bin=BinFactory(bin="422222"))
    term = {"last4": card.last4, "holder": "lovelace", "bin": "411111"}[query]
    found = list(admin_client.get(CARDS, {"q": term}).context["cl"].result_list)
    assert card in found and all(c.cardholder.name == "Ada Lovelace" for c in found)


def test_pasted_card_number_is_searched_by_its_last_four_digits(admin_client):
    card = CardFactory()
    response = admin_client.get(CARDS, {"q": card.pan}, follow=True)
    assert response.redirect_chain[0][0].endswith(f"?q={card.last4}")
    assert list(response.context["cl"].result_list) == [card]
    assert card.pan not in response.content.decode()


@pytest.mark.parametrize("filter_name", ["status", "bin", "network", "currency"])
def test_card_list_filters(admin_client, filter_name):
    card = card_in(Card.Status.BLOCKED, bin=BinFactory(bin="522222", network="mastercard", currency="EUR"))
    CardFactory()
    query = {
        "status": {"status__exact": "blocked"},
        "bin": {"bin__id__exact": card.bin_id},
        "network": {"bin__network__exact": "mastercard"},
        "currency": {"currency": "EUR"},
    }[filter_name]
    assert list(admin_client.get(CARDS, query).context["cl"].result_list) == [card]


def test_card_list_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    CardFactory()
    admin_client.get(CARDS)  # the session's first request
    with CaptureQueriesContext(connection) as one_card:
        admin_client.get(CARDS)
    for _ in range(5):
        CardFactory(balance_minor=100)
    with django_assert_max_num_queries(len(one_card)):
        response = admin_client.get(CARDS)
    assert len(response.context["cl"].result_list) == 6


# --- The card page: limits, assignment, ledger, history ------------------------------------------------


def test_change_page_saves_limits_through_the_service(admin_client):
    card = CardFactory(limits={"daily": 10_000})
    data = {"limit_per_transaction": "50.00", "limit_daily": "", "limit_monthly": "2000"}
    response = admin_client.post(url("change", card), data)
    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.limit_per_transaction_minor, card.limit_daily_minor, card.limit_monthly_minor) == (
        5_000,
        None,
        200_000,
    )
    audit = AuditLog.objects.get(action=AuditLog.Action.CARD_LIMITS_CHANGED)
    assert audit.details["after"] == {"per_transaction": 5_000, "daily": None, "monthly": 200_000}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"limit_daily": "1e3"}, "limit_daily"),
        ({"limit_daily": "-1"}, "limit_daily"),
        ({"limit_per_transaction": "0.001"}, "limit_per_transaction"),
        ({"limit_monthly": "0"}, "limit_monthly"),
        ({"limit_daily": "100", "limit_monthly": "50"}, "limit_monthly"),
    ],
)
def test_change_page_rejects_bad_limits_and_writes_nothing(admin_client, fields, field):
    card = CardFactory()
    before = written()
    response = admin_client.post(url("change", card), {**NO_LIMITS, **fields})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert written() == before
    card.refresh_from_db()
    assert card.limit_daily_minor is None and card.limit_monthly_minor is None


def test_assigns_a_stock_card_to_a_cardholder(admin_client):
    card, holder = stock_card(), CardholderFactory()
    assert "assign_to" in admin_client.get(url("change", card)).context["adminform"].form.fields
    response = admin_client.post(url("change", card), {**NO_LIMITS, "assign_to": holder.pk})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.cardholder == holder
    assert AuditLog.objects.filter(action=AuditLog.Action.CARD_ASSIGNED, target_id=str(card.pk)).exists()


def test_a_card_with_a_cardholder_cannot_be_reassigned(admin_client):
    card, other = CardFactory(), CardholderFactory()
    assert "assign_to" not in admin_client.get(url("change", card)).context["adminform"].form.fields
    admin_client.post(url("change", card), {**NO_LIMITS, "assign_to": other.pk})
    card.refresh_from_db()
    assert card.cardholder != other


def test_change_page_shows_ledger_newest_first_and_status_history(admin_client):
    card = CardFactory(balance_minor=1_000)
    admin_client.post(url("top_up", card), {"amount": "2.50", "reference": "second"})
    admin_client.post(url("status", card), {"status": "blocked", "reason": "customer called"})
    html = admin_client.get(url("change", card)).content.decode()
    assert html.index("<td>2.50</td>") < html.index("<td>10.00</td>") and "<td>12.50</td>" in html
    assert "active → blocked: customer called" in html
    assert "12.50 USD" in html


def test_cards_and_ledger_entries_cannot_be_deleted_or_added_by_hand(admin_client):
    card = CardFactory(balance_minor=100)
    entry = card.ledger_entries.get()
    assert admin_client.get(url("delete", card)).status_code == 403
    assert admin_client.get(reverse("admin:cards_ledgerentry_add")).status_code == 403
    assert admin_client.get(reverse("admin:cards_ledgerentry_delete", args=[entry.pk])).status_code == 403
    page = admin_client.get(reverse("admin:cards_ledgerentry_change", args=[entry.pk]))
    assert page.context["title"].startswith("View") and "1.00 USD" in page.content.decode()


# --- No page but the confirmation ever shows the card's number --------------------------------------------


def test_no_back_office_page_ever_shows_the_full_pan_or_cvv(admin_client):
    issued = admin_client.post(ISSUE, issue_data(limit_daily="300.00"))
    pan, cvv = issued.context["pan"], issued.context["cvv"]
    card = Card.objects.get()
    admin_client.post(url("top_up", card), {"amount": "40.00"})
    admin_client.post(url("status", card), {"status": "blocked", "reason": "check"})
    admin_client.post(url("change", card), {**NO_LIMITS, "limit_daily": "400.00"})
    entry = card.ledger_entries.get()
    audit_rows = AuditLog.objects.filter(target_id=str(card.pk))
    pages = [
        (CARDS, True),
        (f"{CARDS}?q={card.last4}", True),
        (url("change", card), True),
        (url("status", card), True),
        (url("top_up", card), True),
        (url("history", card), True),
        (reverse("admin:cards_ledgerentry_changelist") + f"?card__id__exact={card.pk}", True),
        (reverse("admin:cards_ledgerentry_change", args=[entry.pk]), True),
        (reverse("admin:cardsystem_auditlog_changelist"), True),
        *[(reverse("admin:cardsystem_auditlog_change", args=[row.pk]), True) for row in audit_rows],
        (reverse("admin:cards_cardholder_change", args=[card.cardholder_id]), True),
        (reverse("admin:bins_bin_change", args=[card.bin_id]), False),
        # The front page is the dashboard: figures, no card (Django's "Recent actions",
        # which named it, is not on it).
        (reverse("admin:index"), False),
    ]
    assert len(pages) >= 16
    spaced = " ".join(pan[i : i + 4] for i in range(0, len(pan), 4))
    for page_url, shows_card in pages:
        response = admin_client.get(page_url)
        html = response.content.decode()
        assert response.status_code == 200, page_url
        assert pan not in html and spaced not in html, page_url
        assert not re.search(rf"cvv.{{0,200}}\b{cvv}\b", html, re.IGNORECASE | re.DOTALL), page_url
        assert card.masked_pan in html or not shows_card, page_url
