"""Transactions and fraud reports in the back office: read-only lists and pages that
show masked card numbers only, with filters, search and a fixed number of queries."""

import datetime
import re
import uuid

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cardsystem.audit import Actor
from cardsystem.models import AuditLog
from fraud.models import CountryRisk, FraudAlert
from tests.authorizing import STRANGER, api_body, authorize
from tests.factories import CardFactory
from tests.fraud.configuration import go_live
from transactions.models import Transaction
from transactions.services import fraud_report_create

pytestmark = pytest.mark.django_db

TRANSACTIONS = reverse("admin:transactions_transaction_changelist")
REPORTS = reverse("admin:transactions_fraudreport_changelist")


def high_risk(card=None) -> Transaction:
    """Scores 80 (high): a high-risk country, a gambling MCC, abroad and a large amount."""
    CountryRisk.objects.get_or_create(country="NG", defaults={"level": CountryRisk.Level.HIGH_RISK})
    go_live()
    return authorize(
        card, merchant_country="NG", mcc="7995", amount_minor=100_000, merchant_name="Lucky Bets"
    )


def change_url(txn) -> str:
    return reverse("admin:transactions_transaction_change", args=[txn.pk])


def listed(client, query=None) -> list:
    response = client.get(TRANSACTIONS, query or {})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_transaction_list_shows_masked_card_amount_merchant_decision_and_risk(admin_client):
    card = CardFactory(balance_minor=10_000)
    authorize(card)
    html = admin_client.get(TRANSACTIONS).content.decode()
    assert card.masked_pan in html and card.pan not in html
    assert "42.00 USD" in html and 'title="United States of America">US</abbr> · 5814 · ' in html
    merchant = reverse("admin:transactions_transaction_merchant", args=["M-1001"])
    assert f'href="{merchant}" title="Corner Coffee (M-1001)">Corner Coffee</a>' in html
    assert 'Approved</span> <span class="code" title="00 approved">00<' in html
    assert re.search(r'class="risk risk-low"[^>]*>0<', html)
    assert reverse("admin:transactions_transaction_live") in html


def test_transaction_list_colours_the_risk_score_by_level(admin_client):
    high_risk()
    html = admin_client.get(TRANSACTIONS).content.decode()
    assert re.search(r'class="risk risk-high"[^>]*>80<', html) and "59 suspected_fraud" in html


def test_unknown_cards_are_listed_with_their_masked_number_only(admin_client):
    authorize(STRANGER)
    html = admin_client.get(TRANSACTIONS).content.decode()
    assert "400000******7899" in html and STRANGER.pan not in html and "14 invalid_card" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status__exact": "declined"}, {"poor", "risky"}),
        ({"response_code__exact": "51"}, {"poor"}),
        ({"risk_level__exact": "high"}, {"risky"}),
        ({"risk_level__exact": "low"}, {"coffee", "poor", "online", "old"}),
        ({"flagged__exact": "1"}, {"risky"}),
        ({"channel__exact": "ecommerce"}, {"online"}),
        ({"merchant_country": "FR"}, {"online"}),
        ({"transaction_time__year": "2020"}, {"old"}),
    ],
)
def test_transaction_list_filters(admin_client, query, expected):
    made = {
        "coffee": authorize(),
        "poor": authorize(CardFactory(balance_minor=100)),
        "risky": high_risk(),
        "online": authorize(channel="ecommerce", merchant_country="FR", cvv=None, mcc="5999"),
        "old": authorize(transaction_time=datetime.datetime(2020, 5, 1, 12, tzinfo=datetime.UTC)),
    }
    names = {txn.pk: name for name, txn in made.items()}
    assert {names[t.pk] for t in listed(admin_client, query)} == expected


def test_transaction_list_date_drilldown_by_day(admin_client):
    day = datetime.datetime(2020, 5, 1, 12, tzinfo=datetime.UTC)
    old = authorize(transaction_time=day)
    authorize(transaction_time=day + datetime.timedelta(days=1))
    query = {"transaction_time__year": "2020", "transaction_time__month": "5", "transaction_time__day": "1"}
    assert listed(admin_client, query) == [old]


@pytest.mark.parametrize("term", ["last4", "merchant_id", "merchant_name", "id"])
def test_transaction_list_searches(admin_client, term):
    card = CardFactory(balance_minor=10_000)
    txn = authorize(card, merchant_id="M-7777", merchant_name="Blue Bottle Coffee")
    authorize()
    query = {"last4": card.last4, "merchant_id": "M-7777", "merchant_name": "bottle", "id": str(txn.pk)}[term]
    assert listed(admin_client, {"q": query}) == [txn]


def test_a_pasted_card_number_is_searched_by_its_last_four_digits(admin_client):
    card = CardFactory(balance_minor=10_000)
    txn = authorize(card)
    response = admin_client.get(TRANSACTIONS, {"q": card.pan}, follow=True)
    assert response.redirect_chain[0][0].endswith(f"?q={card.last4}")
    assert list(response.context["cl"].result_list) == [txn]
    assert card.pan not in response.content.decode()


def test_transactions_are_read_only(admin_client):
    txn = authorize()
    page = admin_client.get(change_url(txn))
    assert page.status_code == 200 and page.context["title"].startswith("View")
    assert admin_client.post(change_url(txn), {"amount_minor": "1"}).status_code == 403
    assert admin_client.get(reverse("admin:transactions_transaction_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:transactions_transaction_delete", args=[txn.pk])).status_code == 403
    )
    assert Transaction.objects.get(pk=txn.pk).amount_minor == 4200


def test_transaction_page_shows_the_risk_factors_as_a_table(admin_client):
    txn = high_risk()
    html = admin_client.get(change_url(txn)).content.decode()
    assert '<th scope="col">code</th><th scope="col">points</th><th scope="col">detail</th>' in html
    assert "<td>high_risk_country</td>\n<td>30</td>" in html.replace("</td><td>", "</td>\n<td>")
    assert "Merchant country NG is on the high-risk list." in html


def test_transaction_page_shows_the_features_the_decision_used(admin_client):
    txn = high_risk()
    html = admin_client.get(change_url(txn)).content.decode().replace("</td><td>", "</td>\n<td>")
    assert '<th scope="col">feature</th><th scope="col">value</th>' in html
    assert "<td>foreign</td>\n<td>yes</td>" in html  # the cardholder lives in the US
    assert f"<td>amount_usd</td>\n<td>{txn.risk_features['amount_usd']}</td>" in html


def test_transaction_list_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    authorize()
    admin_client.get(TRANSACTIONS)  # the session's first request
    with CaptureQueriesContext(connection) as one_row:
        admin_client.get(TRANSACTIONS)
    for _ in range(6):
        authorize()
    authorize(STRANGER)
    with django_assert_max_num_queries(len(one_row)):
        assert len(listed(admin_client)) == 8


def test_fraud_reports_are_listed_read_only(admin_client):
    card = CardFactory(balance_minor=10_000)
    txn = authorize(card)
    report = fraud_report_create(
        transaction=txn, reason="Cardholder did not buy this", actor=Actor.system("test")
    )
    html = admin_client.get(REPORTS).content.decode()
    assert card.masked_pan in html and "Cardholder did not buy this" in html and card.pan not in html
    assert admin_client.get(REPORTS, {"q": card.last4}).context["cl"].result_list[0] == report
    page = admin_client.get(reverse("admin:transactions_fraudreport_change", args=[report.pk]))
    assert page.status_code == 200 and page.context["title"].startswith("View")
    assert admin_client.get(reverse("admin:transactions_fraudreport_add")).status_code == 403


def test_no_page_shows_a_full_card_number(admin_client, authorize_api):
    """A card used through the API, flagged, decided and reported: every back-office page
    and the live view's JSON show it masked, never whole."""
    card = CardFactory(balance_minor=10_000_000)
    CountryRisk.objects.create(country="NG", level=CountryRisk.Level.HIGH_RISK)
    go_live()
    base = api_body(card)
    for changes in ({}, {"merchant_country": "NG", "mcc": "7995"}, {"merchant_country": "NG", "mcc": "7995"}):
        assert (
            authorize_api.post("/api/v1/authorizations/", {**base, **changes}, format="json").status_code
            == 201
        )
    first, second = FraudAlert.objects.order_by("created_at")
    decide = lambda alert, decision: reverse("admin:fraud_fraudalert_decide", args=[alert.pk])  # noqa: E731
    admin_client.post(decide(first, "investigate"), {"decision": "investigate", "note": "Called."})
    admin_client.post(decide(second, "x"), {"decision": "confirm_block"})
    txn = Transaction.objects.filter(merchant_country="US").get()
    report = fraud_report_create(transaction=txn, reason="dispute", actor=Actor.system("test"))

    live = reverse("admin:transactions_transaction_live")
    poll = reverse("admin:transactions_transaction_live_poll")
    pages = [
        TRANSACTIONS,
        f"{TRANSACTIONS}?q={card.last4}",
        f"{TRANSACTIONS}?card__id__exact={card.pk}",
        *[change_url(t) for t in Transaction.objects.all()],
        REPORTS,
        reverse("admin:transactions_fraudreport_change", args=[report.pk]),
        reverse("admin:cards_card_change", args=[card.pk]),
        reverse("admin:cards_cardholder_change", args=[card.cardholder_id]),
        reverse("admin:transactions_transaction_merchant", args=["M-1001"]),
        reverse("admin:fraud_fraudalert_changelist"),
        f"{reverse('admin:fraud_fraudalert_changelist')}?q={card.last4}",
        *[reverse("admin:fraud_fraudalert_change", args=[a.pk]) for a in (first, second)],
        live,
        f"{live}?last4={card.last4}",
        f"{poll}?cursor=0.000000-{uuid.UUID(int=0)}",
        reverse("admin:cardsystem_auditlog_changelist"),
        *[
            reverse("admin:cardsystem_auditlog_change", args=[row.pk])
            for row in AuditLog.objects.filter(action=AuditLog.Action.ALERT_DECIDED)
        ],
        reverse("admin:index"),
    ]
    spaced = " ".join(card.pan[i : i + 4] for i in range(0, len(card.pan), 4))
    # A few seconds on, so that the live view shows these rows (admin_views.SETTLE).
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=5)):
        for url in pages:
            response = admin_client.get(url)
            text = response.content.decode()
            assert response.status_code == 200, url
            assert card.pan not in text and spaced not in text, url
            assert card.masked_pan in text or "/auditlog/" in url or url == reverse("admin:index"), url
