"""The roles shipped as groups (cardsystem/roles.py): each holds exactly its permissions
after migrating, and what each may do with the system's pages (API clients, staff, the
audit log, BINs), through the admin."""

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from cardsystem.audit import Actor
from cardsystem.change_requests import change_request_approve
from cardsystem.models import ApiClient, AuditLog, ChangeRequest
from cardsystem.roles import ADMINISTRATOR, AUDITOR, CARD_OPERATIONS, FRAUD_ANALYST, ROLES
from tests.commands import api_status
from tests.factories import BinFactory, UserFactory, make_api_client, staff_with_roles

pytestmark = pytest.mark.django_db
User = get_user_model()

CLIENTS = reverse("admin:cardsystem_apiclient_changelist")
ADD_CLIENT = reverse("admin:cardsystem_apiclient_add")
USERS = reverse("admin:auth_user_changelist")
ADD_USER = reverse("admin:auth_user_add")
AUDIT = reverse("admin:cardsystem_auditlog_changelist")
SECOND_FACTORS = reverse("admin:cardsystem_staffsecondfactor_changelist")
BINS = reverse("admin:bins_bin_changelist")
ADD_BIN = reverse("admin:bins_bin_add")
NEW_BIN = {
    "bin": "45717360",
    "network": "visa",
    "issuer_name": "Demo Bank",
    "card_type": "debit",
    "country": "GB",
    "currency": "GBP",
    "pan_length": "16",
    "is_active": "on",
}


def codes(permissions) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in permissions.select_related("content_type")}


def role_permissions(name) -> set[str]:
    return codes(Group.objects.get(name=name).permissions.all())


def logged_in(client, *roles, username=None):
    client.force_login(staff_with_roles(*roles, username=username))
    return client


def written():
    """What a refused change must not add to."""
    return ApiClient.objects.count(), ChangeRequest.objects.count(), User.objects.count()


# --- The groups -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ROLES))
def test_each_roles_group_holds_exactly_its_permissions_after_migrating(name):
    assert role_permissions(name) == set(ROLES[name])


def test_the_auditor_holds_only_view_and_export_permissions():
    held = role_permissions(AUDITOR)
    assert held and all(code.split(".")[1].startswith(("view_", "export_")) for code in held)
    assert {"cardsystem.view_auditlog", "cardsystem.export_auditlog"} <= held


@pytest.mark.parametrize("name", list(ROLES))
def test_every_role_that_exports_a_list_may_view_it(name):
    exports = {code for code in ROLES[name] if code.split(".")[1].startswith("export_")}
    assert {code.replace(".export_", ".view_") for code in exports} <= set(ROLES[name])


def test_the_administrator_holds_no_card_or_fraud_power():
    apps_held = {code.split(".")[0] for code in role_permissions(ADMINISTRATOR)}
    assert apps_held == {"auth", "bins", "cardsystem"}


def test_every_custom_permission_is_held_by_some_role():
    custom = {
        f"{model._meta.app_label}.{codename}"
        for model in apps.get_models()
        for codename, _ in model._meta.permissions
    }
    held = set().union(*(set(permissions) for permissions in ROLES.values()))
    assert custom and custom <= held, custom - held
    assert custom <= codes(Permission.objects.filter(group__isnull=False))


# --- Administrator ----------------------------------------------------------------------------------


def test_an_administrator_requests_an_api_client_and_another_approves_it(client):
    logged_in(client, ADMINISTRATOR, username="maker")
    assert client.get(CLIENTS).context["has_add_permission"]
    response = client.post(ADD_CLIENT, {"name": "Gateway", "scopes": ["authorize"], "reason": "New acquirer"})
    assert response.status_code == 200
    key = response.context["key"]
    checker = staff_with_roles(ADMINISTRATOR, username="checker")

    change_request_approve(request=ChangeRequest.objects.get(), actor=Actor.for_user(checker))

    assert ApiClient.objects.get().name == "Gateway"
    assert api_status(key) == 403  # an `authorize` key on a `manage` endpoint: known, and limited


def test_an_administrator_requests_a_staff_grant_and_another_approves_it(client):
    logged_in(client, ADMINISTRATOR, username="maker")
    assert client.get(ADD_USER).status_code == 200
    clerk = UserFactory(username="clerk", is_staff=False, is_superuser=False)
    response = client.post(
        reverse("admin:auth_user_change", args=[clerk.pk]),
        {
            "username": "clerk",
            "is_active": "on",
            "is_staff": "on",
            "groups": [Group.objects.get(name=CARD_OPERATIONS).pk],
            "grant_reason": "Joins card operations",
            "date_joined_0": "2026-12-01",
            "date_joined_1": "09:00:00",
        },
    )
    assert response.status_code == 302
    assert not User.objects.get(pk=clerk.pk).is_staff
    checker = staff_with_roles(ADMINISTRATOR, username="checker")

    change_request_approve(request=ChangeRequest.objects.get(), actor=Actor.for_user(checker))

    clerk = User.objects.get(pk=clerk.pk)
    assert clerk.is_staff and clerk.has_perm("cards.top_up_card")


def test_an_administrator_revokes_adds_bins_and_reads_the_audit_log(client):
    logged_in(client, ADMINISTRATOR)
    api_client, key = make_api_client("manage", name="Old")
    client.post(CLIENTS, {"action": "revoke", "_selected_action": [api_client.pk]})
    assert api_status(key) == 401
    assert client.post(ADD_BIN, NEW_BIN).status_code == 302
    assert client.get(AUDIT).status_code == 200
    assert client.get(SECOND_FACTORS).status_code == 200
    assert client.get(reverse("admin:cards_card_changelist")).status_code == 403


# --- Auditor ---------------------------------------------------------------------------------------


def test_an_auditor_reads_the_audit_log_api_clients_staff_and_bins(client):
    logged_in(client, AUDITOR)
    api_client, _ = make_api_client("manage", name="Reporting")
    for page in [AUDIT, CLIENTS, USERS, BINS, SECOND_FACTORS]:
        response = client.get(page)
        assert response.status_code == 200, page
        assert not response.context["has_add_permission"], page
    assert "Reporting" in client.get(CLIENTS).content.decode()
    assert client.get(reverse("admin:cardsystem_apiclient_change", args=[api_client.pk])).status_code == 200


def test_every_change_an_auditor_tries_is_refused_and_writes_nothing(client):
    logged_in(client, AUDITOR)
    api_client, key = make_api_client("manage", name="Reporting")
    clerk = UserFactory(username="clerk", is_staff=False, is_superuser=False)
    bin = BinFactory()
    before = written(), AuditLog.objects.count()
    client_page = f"/admin/cardsystem/apiclient/{api_client.pk}"
    refused = [
        client.get(ADD_CLIENT),
        client.post(ADD_CLIENT, {"name": "Mine", "scopes": ["manage"], "reason": "Because"}),
        client.post(f"{client_page}/rotate-key/", {"overlap_hours": "1"}),
        client.post(f"{client_page}/rate-limits/", {"manage": "1/hour"}),
        client.get(ADD_USER),
        client.post(
            reverse("admin:auth_user_change", args=[clerk.pk]),
            {"username": "clerk", "is_staff": "on", "grant_reason": "Me"},
        ),
        client.post(ADD_BIN, NEW_BIN),
        client.post(reverse("admin:bins_bin_change", args=[bin.pk]), {"is_active": ""}),
        client.post(reverse("admin:cardsystem_auditlog_delete", args=[AuditLog.objects.first().pk])),
    ]
    assert [response.status_code for response in refused] == [403] * len(refused)
    revoke = client.post(CLIENTS, {"action": "revoke", "_selected_action": [api_client.pk]})
    assert revoke.status_code == 200 and api_status(key) == 200  # no such action: nothing revoked
    assert (written(), AuditLog.objects.count()) == before
    clerk.refresh_from_db()
    bin.refresh_from_db()
    assert not clerk.is_staff and bin.is_active


# --- Fraud analyst and card operations ----------------------------------------------------------------


@pytest.mark.parametrize("role", [FRAUD_ANALYST, CARD_OPERATIONS])
def test_analysts_and_card_operations_see_no_api_clients_staff_or_audit_log(client, role):
    logged_in(client, role)
    api_client, _ = make_api_client("manage", name="Reporting")
    for page in [
        CLIENTS,
        ADD_CLIENT,
        reverse("admin:cardsystem_apiclient_change", args=[api_client.pk]),
        USERS,
        ADD_USER,
        AUDIT,
        SECOND_FACTORS,
    ]:
        assert client.get(page).status_code == 403, page
    index = client.get(reverse("admin:index")).content.decode()
    assert CLIENTS not in index and USERS not in index and AUDIT not in index
    assert client.post(ADD_CLIENT, {"name": "Mine", "scopes": ["manage"], "reason": "x"}).status_code == 403
    assert not ChangeRequest.objects.exists()


def test_roles_are_read_only_in_the_back_office_even_for_a_superuser(admin_client):
    group = Group.objects.get(name=FRAUD_ANALYST)
    before = set(group.permissions.values_list("pk", flat=True))
    url = reverse("admin:auth_group_change", args=[group.pk])
    assert admin_client.get(url).status_code == 200  # visible, read-only
    response = admin_client.post(url, {"name": "Fraud analyst", "permissions": []})
    assert response.status_code == 403
    assert admin_client.get(reverse("admin:auth_group_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert set(Group.objects.get(pk=group.pk).permissions.values_list("pk", flat=True)) == before
    assert Group.objects.filter(name__in=ROLES).count() == len(ROLES)
