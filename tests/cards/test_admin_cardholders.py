"""Cardholders in the back office: added through the service, searched, filtered and
shown read-only with their cards masked."""

import pytest
from django.urls import reverse
from django.utils import timezone

from cards.models import Cardholder
from cardsystem.models import AuditLog
from tests.cards.admin_pages import ADD_HOLDER, HOLDERS, ISSUE, errors, written
from tests.factories import CardFactory, CardholderFactory

pytestmark = pytest.mark.django_db


HOLDER = {"name": "Ada Lovelace", "date_of_birth": "1985-12-10", "country": "GB", "email": "ada@example.com"}


def test_adds_cardholder_through_the_service(admin_client):
    response = admin_client.post(ADD_HOLDER, HOLDER)
    holder = Cardholder.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"{holder.pk}/change/")
    assert (holder.name, holder.country.code) == ("Ada Lovelace", "GB")
    assert AuditLog.objects.filter(
        action=AuditLog.Action.CARDHOLDER_CREATED, target_id=str(holder.pk)
    ).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1850-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1985-13-45"}, "date_of_birth"),
        ({"name": ""}, "name"),
        ({"country": "XX"}, "country"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_rejects_bad_cardholder_on_its_field_and_writes_nothing(admin_client, changes, field):
    before = written()
    assert field in errors(admin_client.post(ADD_HOLDER, {**HOLDER, **changes}))
    assert written() == before


def test_rejects_cardholder_born_today(admin_client):
    today = timezone.localdate().isoformat()
    assert "date_of_birth" in errors(admin_client.post(ADD_HOLDER, {**HOLDER, "date_of_birth": today}))
    assert not Cardholder.objects.exists()


@pytest.mark.parametrize(("query", "expected"), [({"q": "lovelace"}, "Ada"), ({"q": "grace@"}, "Grace")])
def test_cardholder_list_searches_by_name_and_email(admin_client, query, expected):
    CardholderFactory(name="Ada Lovelace", email="ada@example.com")
    CardholderFactory(name="Grace Hopper", email="grace@example.com")
    names = [h.name for h in admin_client.get(HOLDERS, query).context["cl"].result_list]
    assert len(names) == 1 and names[0].startswith(expected)


def test_cardholder_list_filters_by_country(admin_client):
    CardholderFactory(name="Ada", country="GB")
    CardholderFactory(name="Grace", country="US")
    response = admin_client.get(HOLDERS, {"country": "GB"})
    assert [h.name for h in response.context["cl"].result_list] == ["Ada"]


def test_cardholder_page_is_read_only_and_lists_cards_masked(admin_client):
    card = CardFactory()
    page = admin_client.get(reverse("admin:cards_cardholder_change", args=[card.cardholder_id]))
    html = page.content.decode()
    assert card.masked_pan in html and card.pan not in html
    assert f"{ISSUE}?cardholder={card.cardholder_id}" in html
    assert page.context["title"].startswith("View")
