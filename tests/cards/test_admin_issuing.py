"""Issuing a card in the back office: the form, the number and CVV shown once, and
every rejection writing nothing."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from cards.models import Card
from cardsystem.models import AuditLog
from tests.cards.admin_pages import (
    CARDS,
    ISSUE,
    errors,
    issue_data,
    url,
    written,
)
from tests.factories import BinFactory, CardholderFactory

pytestmark = pytest.mark.django_db


def test_issue_page_preselects_the_cardholder_it_was_opened_for(admin_client):
    holder = CardholderFactory()
    form = admin_client.get(ISSUE, {"cardholder": holder.pk}).context["form"]
    assert form.initial["cardholder"] == str(holder.pk)
    assert admin_client.get(ISSUE, {"cardholder": "not-a-uuid"}).status_code == 200


def test_cardholder_field_autocompletes_by_name(admin_client):
    CardholderFactory(name="Ada Lovelace")
    CardholderFactory(name="Grace Hopper")
    query = {"app_label": "cards", "model_name": "card", "field_name": "cardholder", "term": "lovel"}
    results = admin_client.get(reverse("admin:autocomplete"), query).json()["results"]
    assert [r["text"] for r in results] == ["Ada Lovelace"]


def test_issue_page_offers_only_active_bins(admin_client):
    active, inactive = BinFactory(), BinFactory(is_active=False)
    choices = list(admin_client.get(ISSUE).context["form"].fields["bin"].queryset)
    assert active in choices and inactive not in choices


def test_issues_card_and_shows_pan_and_cvv_once(admin_client, staff_user):
    response = admin_client.post(
        ISSUE, issue_data(limit_daily="500.00", expiry_month="7", expiry_year="2030")
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    card = Card.objects.get()
    pan, cvv = response.context["pan"], response.context["cvv"]
    html = response.content.decode()
    assert pan.startswith(card.bin.bin) and card.masked_pan.endswith(pan[-4:])
    assert html.count(pan) == 1
    assert len(re.findall(rf"CVV</th><td><code[^>]*>{cvv}</code>", html)) == 1
    assert "never be shown again" in html
    assert (card.limit_daily_minor, card.expiry_month, card.expiry_year) == (50_000, 7, 2030)
    audit = AuditLog.objects.get(action=AuditLog.Action.CARD_ISSUED)
    assert audit.actor_user == staff_user and pan not in str(audit.details)


def test_issued_pan_is_kept_in_no_session_or_message(admin_client):
    pan = admin_client.post(ISSUE, issue_data()).context["pan"]
    assert pan not in str(dict(admin_client.session.items()))
    assert all(pan not in morsel.value for morsel in admin_client.cookies.values())
    assert pan not in admin_client.get(CARDS).content.decode()


def test_resubmitting_the_issue_form_does_not_issue_a_second_card(admin_client):
    data = issue_data()
    pan = admin_client.post(ISSUE, data).context["pan"]
    again = admin_client.post(ISSUE, data, follow=True)
    card = Card.objects.get()
    assert again.redirect_chain[0][0] == url("change", card)
    assert pan not in again.content.decode() and "already submitted" in again.content.decode()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"limit_daily": "-5"}, "limit_daily"),
        ({"limit_daily": "1e3"}, "limit_daily"),
        ({"limit_daily": "10.005"}, "limit_daily"),
        ({"limit_monthly": "0"}, "limit_monthly"),
        ({"limit_per_transaction": "200.00", "limit_daily": "100.00"}, "limit_daily"),
        ({"expiry_month": "7"}, "expiry_year"),
        ({"expiry_month": "13", "expiry_year": "2030"}, "expiry_month"),
        ({"expiry_month": "1", "expiry_year": "2001"}, "expiry_year"),
        ({"cardholder": "00000000-0000-0000-0000-000000000000"}, "cardholder"),
    ],
)
def test_rejects_bad_issue_on_its_field_and_writes_nothing(admin_client, fields, field):
    data = issue_data(**fields)
    before = written()
    assert field in errors(admin_client.post(ISSUE, data))
    assert written() == before


def test_rejects_issue_from_an_inactive_bin(admin_client):
    data = issue_data(bin=BinFactory(is_active=False))
    before = written()
    assert "bin" in errors(admin_client.post(ISSUE, data))
    assert written() == before


def test_rejects_decimal_limit_for_a_currency_without_minor_units(admin_client):
    data = issue_data(bin=BinFactory(currency="JPY"), limit_daily="1000.5")
    before = written()
    assert "no minor unit" in errors(admin_client.post(ISSUE, data))["limit_daily"][0]
    assert written() == before


def test_issuing_in_the_past_month_is_refused_by_expiry(admin_client):
    last_month = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    data = issue_data(expiry_month=str(last_month.month), expiry_year=str(last_month.year))
    assert "expiry_year" in errors(admin_client.post(ISSUE, data))
    assert not Card.objects.exists()
