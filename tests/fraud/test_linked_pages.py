"""Linked pages of the back office: a card's page lists its transactions, fraud alerts and
ledger, each row linked, and nothing of other cards; a cardholder's lists their cards; a
merchant's page shows its figures over a period, its decisions by code, its transactions,
alerts and fraud reports. Masked card numbers only, a bounded number of queries, and
the pages answer a role without the view permission 403."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.http import urlencode

from cardsystem.audit import Actor
from fraud.models import FraudAlert
from tests.admin_pages import change_url
from tests.authorizing import authorize
from tests.factories import CardFactory, UserFactory, staff_with_roles
from tests.fraud.clock import DAY, HOUR, NOW
from tests.staff_pages import client_for
from transactions.services import fraud_report_create

pytestmark = pytest.mark.django_db

SHOP = {"merchant_id": "M-7000", "merchant_name": "Seven Shop", "mcc": "5999"}
RISKY = {"merchant_country": "NG", "mcc": "7995", "merchant_name": "Lucky Bets", "merchant_id": "M-666"}


def merchant_url(merchant_id: str, **query) -> str:
    url = reverse("admin:transactions_transaction_merchant", args=[merchant_id])
    return f"{url}?{urlencode(query)}" if query else url


def links(html: str, objects) -> set:
    return {change_url(obj) for obj in objects if change_url(obj) in html}


def staff_with_permissions(*codes: str):
    user = UserFactory(is_superuser=False)
    for code in codes:
        app_label, codename = code.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


# --- A card's page -----------------------------------------------------------------------------


@pytest.fixture
def two_cards(high_risk_country):
    """Card `mine` with a coffee, a flagged bet and a top-up; card `other` with a flagged bet."""
    mine, other = CardFactory(balance_minor=100_000_000), CardFactory(balance_minor=100_000_000)
    made = {
        "coffee": authorize(mine, transaction_time=NOW - HOUR),
        "bet": authorize(mine, **RISKY),
        "other": authorize(other, **RISKY),
    }
    return mine, other, made


def test_a_cards_page_links_its_transactions_alerts_and_ledger_and_nothing_of_other_cards(
    admin_client, two_cards
):
    mine, other, made = two_cards
    html = admin_client.get(change_url(mine)).content.decode()
    mine_alert, other_alert = FraudAlert.objects.get(card=mine), FraudAlert.objects.get(card=other)
    assert links(html, [made["coffee"], made["bet"], mine_alert]) == {
        change_url(made["coffee"]),
        change_url(made["bet"]),
        change_url(mine_alert),
    }
    assert links(html, [made["other"], other_alert]) == set() and other.masked_pan not in html
    assert all(change_url(entry) in html for entry in mine.ledger_entries.all())
    assert mine.pan not in html


def test_a_cards_page_leads_to_the_lists_filtered_on_the_card(admin_client, two_cards):
    mine, _, _ = two_cards
    html = admin_client.get(change_url(mine)).content.decode()
    card_filter = urlencode({"card__id__exact": mine.pk})
    assert (
        f'{reverse("admin:transactions_transaction_changelist")}?{card_filter}">All 2 transaction(s)' in html
    )
    assert f'{reverse("admin:fraud_fraudalert_changelist")}?{card_filter}">All 1 alert(s)' in html
    assert f"{reverse('admin:cards_ledgerentry_changelist')}?card__id__exact={mine.pk}" in html
    listed = admin_client.get(f"{reverse('admin:fraud_fraudalert_changelist')}?{card_filter}")
    assert [alert.card_id for alert in listed.context["cl"].result_list] == [mine.pk]


def test_a_cards_page_shows_the_risk_and_the_merchant_of_each_transaction(admin_client, two_cards):
    mine, _, made = two_cards
    html = admin_client.get(change_url(mine)).content.decode()
    bet = made["bet"]
    factors = ", ".join(f["code"] for f in bet.risk_factors)
    assert f'title="{bet.risk_level} risk: {factors}">{bet.risk_score}<' in html
    assert f'href="{merchant_url("M-666")}"' in html and "Lucky Bets" in html


def test_a_cards_page_shows_only_the_sections_its_viewer_may_see(two_cards):
    mine, _, made = two_cards
    card_reader = client_for(staff_with_permissions("cards.view_card"))
    page = card_reader.get(change_url(mine))
    html = page.content.decode()
    assert page.status_code == 200 and change_url(made["coffee"]) not in html
    assert "Latest fraud alerts" not in html and "Latest transactions" not in html
    operations = client_for(staff_with_roles("Card operations")).get(change_url(mine)).content.decode()
    assert change_url(made["coffee"]) in operations and "Latest fraud alerts" in operations


def test_a_cards_page_takes_as_many_queries_for_many_transactions_as_for_one(admin_client, high_risk_country):
    card = CardFactory(balance_minor=100_000_000)
    authorize(card, **RISKY)
    admin_client.get(change_url(card))  # the session's first request
    with CaptureQueriesContext(connection) as one:
        admin_client.get(change_url(card))
    for hour in range(1, 25):
        authorize(card, **RISKY, transaction_time=NOW - hour * HOUR)
    with CaptureQueriesContext(connection) as many:
        html = admin_client.get(change_url(card)).content.decode()
    assert len(many) == len(one)
    assert "All 25 transaction(s)" in html and html.count('class="when"') == 20
    assert "All 25 alert(s)" in html and len(re.findall(r"/fraud/fraudalert/\d+/change/", html)) == 20


def test_a_cardholders_page_lists_their_cards_masked_with_status_balance_and_link(admin_client):
    card = CardFactory(balance_minor=12_345)
    other = CardFactory()
    html = admin_client.get(change_url(card.cardholder)).content.decode()
    assert f'<a href="{change_url(card)}">{card.masked_pan}</a>' in html
    assert "Active" in html and "123.45 USD" in html
    assert card.pan not in html and other.masked_pan not in html


# --- A merchant's page ---------------------------------------------------------------------------


@pytest.fixture
def shop():
    """At Seven Shop (M-7000): in the last 7 days three approvals of 42.00 (one reported
    as fraud) and one decline for funds (51); ten days ago an approval, reported too."""
    recent = [authorize(**SHOP, transaction_time=NOW - n * DAY - HOUR) for n in (1, 2, 3)]
    declined = authorize(CardFactory(balance_minor=100), **SHOP, transaction_time=NOW - 4 * DAY)
    old = authorize(**SHOP, transaction_time=NOW - 10 * DAY)
    authorize()  # another merchant's
    for txn in (recent[0], old):
        fraud_report_create(transaction=txn, reason="Not me", actor=Actor.system("test"))
    return {"recent": recent, "declined": declined, "old": old}


@pytest.mark.parametrize(
    ("period", "figures"),
    [
        ("24h", ["0", "—", "0", "0", "—"]),
        ("7d", ["4", "75.0 %", "1", "1", "42.00 USD"]),
        ("30d", ["5", "80.0 %", "1", "2", "84.00 USD"]),
    ],
)
def test_a_merchants_page_shows_its_figures_over_the_period(admin_client, shop, period, figures):
    page = admin_client.get(merchant_url("M-7000", period=period))
    assert page.status_code == 200 and page.context["title"] == "Seven Shop"
    shown = page.context["figures"]
    assert [
        str(shown.transactions),
        shown.approval_rate,
        str(shown.declined),
        str(shown.reported),
        ", ".join(shown.reported_value) or "—",
    ] == figures


def test_a_merchants_page_counts_its_decisions_by_response_code(admin_client, shop):
    html = admin_client.get(merchant_url("M-7000")).content.decode().replace("</td><td>", "</td>\n<td>")
    assert ">00 approved</a></td>\n<td>3</td>\n<td>75.0 %</td>" in html
    assert ">51 insufficient_funds</a></td>\n<td>1</td>\n<td>25.0 %</td>" in html
    codes = admin_client.get(merchant_url("M-7000")).context["codes_table"]
    assert "response_code__exact=51" in codes and "merchant_id=M-7000" in codes


def test_a_merchants_page_links_its_transactions_and_fraud_reports(admin_client, shop):
    html = admin_client.get(merchant_url("M-7000")).content.decode()
    mine = [*shop["recent"], shop["declined"], shop["old"]]
    assert links(html, mine) == {change_url(txn) for txn in mine}
    for txn in (shop["recent"][0], shop["old"]):
        assert change_url(txn.fraud_report) in html
    assert f"{reverse('admin:transactions_transaction_changelist')}?merchant_id=M-7000" in html
    assert f"{reverse('admin:transactions_fraudreport_changelist')}?merchant_id=M-7000" in html
    listed = admin_client.get(f"{reverse('admin:transactions_transaction_changelist')}?merchant_id=M-7000")
    assert {txn.pk for txn in listed.context["cl"].result_list} == {txn.pk for txn in mine}
    assert not re.search(r"\d{13}", html)


def test_a_merchants_page_lists_its_alerts_and_leads_to_them_in_the_queue(admin_client, high_risk_country):
    bet = authorize(**RISKY)
    authorize(**{**RISKY, "merchant_id": "M-667"})
    alert = FraudAlert.objects.get(transaction=bet)
    html = admin_client.get(merchant_url("M-666")).content.decode()
    assert change_url(alert) in html and "1 alert(s) on transactions of the period." in html
    queue = admin_client.get(f"{reverse('admin:fraud_fraudalert_changelist')}?merchant_id=M-666")
    assert list(queue.context["cl"].result_list) == [alert]


def test_transaction_pages_link_the_merchant_id_to_its_page(admin_client, shop):
    txn = shop["recent"][0]
    assert f'href="{merchant_url("M-7000")}"' in admin_client.get(change_url(txn)).content.decode()
    reports = admin_client.get(reverse("admin:transactions_fraudreport_changelist")).content.decode()
    assert f'href="{merchant_url("M-7000")}"' in reports


@pytest.mark.parametrize(
    "merchant_id", ["M-9999", "x" * 65, "4000 0012 3456 7899", "M-7000/../M-1001", "M-7000?period=7d"]
)
def test_an_unknown_merchant_is_a_404_page(admin_client, shop, merchant_id):
    page = admin_client.get(merchant_url(merchant_id))
    html = page.content.decode()
    assert page.status_code == 404 and "No transaction was recorded at" in html
    assert "4000 0012 3456 7899" not in html


def test_an_unknown_period_is_a_400_naming_it(admin_client, shop):
    page = admin_client.get(merchant_url("M-7000", period="1y"))
    assert page.status_code == 400 and "period: choose 24 hours, 7 days or 30 days." in page.content.decode()
    assert (
        admin_client.get(reverse("admin:transactions_transaction_merchants"), {"period": "x"}).status_code
        == 400
    )


@pytest.mark.parametrize("role", ["Administrator"])
def test_a_role_without_view_transaction_gets_403_on_the_merchant_pages(shop, role):
    client = client_for(staff_with_roles(role))
    assert client.get(merchant_url("M-7000")).status_code == 403
    assert client.get(reverse("admin:transactions_transaction_merchants")).status_code == 403


def test_a_merchants_page_takes_as_many_queries_for_many_rows_as_for_few(admin_client, high_risk_country):
    authorize(**RISKY)
    admin_client.get(merchant_url("M-666"))
    with CaptureQueriesContext(connection) as few:
        admin_client.get(merchant_url("M-666"))
    for hour in range(1, 25):
        txn = authorize(**RISKY, transaction_time=NOW - hour * HOUR)
        fraud_report_create(transaction=txn, reason="Not me", actor=Actor.system("test"))
    with CaptureQueriesContext(connection) as many:
        page = admin_client.get(merchant_url("M-666"))
    assert len(many) == len(few) and page.context["figures"].transactions == 25


def test_the_merchants_list_ranks_the_busiest_merchants_of_the_period_with_links(admin_client, shop):
    merchants = reverse("admin:transactions_transaction_merchants")
    assert (
        merchants in admin_client.get(reverse("admin:transactions_transaction_changelist")).content.decode()
    )
    page = admin_client.get(merchants, {"period": "7d"})
    html = page.content.decode().replace("</td><td>", "</td>\n<td>")
    assert page.status_code == 200
    first = (
        f'<td><a href="{merchant_url("M-7000")}">Seven Shop</a></td>\n<td>M-7000</td>\n<td>4</td>\n<td>1</td>'
    )
    assert first in html and html.index(first) < html.index(merchant_url("M-1001"))
