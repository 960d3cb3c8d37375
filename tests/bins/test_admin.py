import pytest
from django.urls import reverse

from bins.models import Bin
from cardsystem.models import AuditLog
from tests.factories import BinFactory, CardFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:bins_bin_changelist")
ADD = reverse("admin:bins_bin_add")

VALID = {
    "bin": "411111",
    "network": "visa",
    "issuer_name": "First Test Bank",
    "card_type": "debit",
    "country": "US",
    "currency": "USD",
    "pan_length": "16",
    "is_active": "on",
}


def change_url(bin):
    return reverse("admin:bins_bin_change", args=[bin.pk])


def written():
    return Bin.objects.count(), AuditLog.objects.exclude(action=AuditLog.Action.LOGIN).count()


def test_changelist_searches_by_number_and_issuer(admin_client):
    BinFactory(bin="411111", issuer_name="Northwind")
    BinFactory(bin="522222", network="mastercard", issuer_name="Contoso")
    by_number = admin_client.get(CHANGELIST, {"q": "4111"})
    by_issuer = admin_client.get(CHANGELIST, {"q": "contoso"})
    assert [b.bin for b in by_number.context["cl"].result_list] == ["411111"]
    assert [b.bin for b in by_issuer.context["cl"].result_list] == ["522222"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"network__exact": "mastercard"}, ["522222"]),
        ({"card_type__exact": "prepaid"}, ["522222"]),
        ({"country": "GB"}, ["522222"]),
        ({"currency": "GBP"}, ["522222"]),
        ({"is_active__exact": "0"}, ["522222"]),
    ],
)
def test_changelist_filters(admin_client, query, expected):
    BinFactory(bin="411111")
    BinFactory(
        bin="522222", network="mastercard", card_type="prepaid", country="GB", currency="GBP", is_active=False
    )
    response = admin_client.get(CHANGELIST, query)
    assert [b.bin for b in response.context["cl"].result_list] == expected


def test_changelist_counts_each_bins_cards(admin_client):
    CardFactory.create_batch(2, bin=BinFactory(bin="411111"))
    response = admin_client.get(CHANGELIST)
    assert [b.card_count for b in response.context["cl"].result_list] == [2]


def test_creates_bin_through_the_service_with_an_audit_row(admin_client, staff_user):
    response = admin_client.post(ADD, VALID)
    bin = Bin.objects.get(bin="411111")
    assert response.status_code == 302 and response["Location"] == change_url(bin)
    assert (bin.network, bin.currency, bin.pan_length, bin.is_active) == ("visa", "USD", 16, True)
    audit = AuditLog.objects.get(action=AuditLog.Action.BIN_CREATED)
    assert audit.actor_user == staff_user and audit.target_id == str(bin.pk)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"network": "mastercard"}, "network"),
        ({"bin": "41111"}, "bin"),
        ({"bin": "\uff14\uff11\uff11\uff11\uff11\uff11", "network": "other"}, "bin"),  # full-width digits
        ({"bin": "341111", "network": "amex", "pan_length": "16"}, "pan_length"),
        ({"pan_length": "20"}, "pan_length"),
        ({"currency": "XXX"}, "currency"),
        ({"issuer_name": ""}, "issuer_name"),
        ({"country": "ZZ"}, "country"),
    ],
)
def test_rejects_bad_bin_on_its_field_and_writes_nothing(admin_client, changes, field):
    before = written()
    response = admin_client.post(ADD, {**VALID, **changes})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert written() == before


def test_rejects_duplicate_bin_number(admin_client):
    BinFactory(bin="411111")
    before = written()
    response = admin_client.post(ADD, VALID)
    assert "bin" in response.context["form"].errors
    assert written() == before


def test_change_page_keeps_number_network_and_currency_read_only(admin_client):
    bin = BinFactory(bin="411111", currency="USD")
    page = admin_client.get(change_url(bin))
    assert list(page.context["adminform"].form.fields) == ["is_active"]
    admin_client.post(change_url(bin), {"bin": "422222", "currency": "EUR", "is_active": "on"})
    bin.refresh_from_db()
    assert (bin.bin, bin.currency) == ("411111", "USD")
    assert not AuditLog.objects.filter(target_type="bins.bin").exists()


def test_deactivating_on_the_change_page_goes_through_the_service(admin_client):
    bin = BinFactory()
    response = admin_client.post(change_url(bin), {})
    assert response.status_code == 302
    bin.refresh_from_db()
    assert not bin.is_active
    assert AuditLog.objects.filter(action=AuditLog.Action.BIN_DEACTIVATED, target_id=str(bin.pk)).count() == 1


@pytest.mark.parametrize(
    ("action", "start", "audit_action"),
    [
        ("deactivate", True, AuditLog.Action.BIN_DEACTIVATED),
        ("activate", False, AuditLog.Action.BIN_ACTIVATED),
    ],
)
def test_actions_switch_bins_through_the_service(admin_client, action, start, audit_action):
    bins = BinFactory.create_batch(2, is_active=start)
    already = BinFactory(is_active=not start)
    selected = [b.pk for b in [*bins, already]]
    response = admin_client.post(CHANGELIST, {"action": action, "_selected_action": selected}, follow=True)
    assert set(Bin.objects.values_list("is_active", flat=True)) == {not start}
    assert AuditLog.objects.filter(action=audit_action).count() == 2
    assert "2 BIN(s)" in response.content.decode()


def test_bins_cannot_be_deleted(admin_client):
    bin = CardFactory().bin
    assert admin_client.get(reverse("admin:bins_bin_delete", args=[bin.pk])).status_code == 403
    actions = admin_client.get(CHANGELIST).context["action_form"].fields["action"].choices
    assert "delete_selected" not in [name for name, _ in actions]
