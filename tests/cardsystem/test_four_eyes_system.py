"""Four eyes for the system's powers: a new API client's key works only once a second
person approves it, and never after a rejection or a withdrawal; granting staff status,
superuser, a role or a permission waits for a second person, while taking powers away
is immediate; nobody approves their own request. A second-factor reset needs the
permission, and stays one person, audited."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from cardsystem.audit import Actor
from cardsystem.change_requests import change_request_approve, change_request_reject, change_request_withdraw
from cardsystem.models import ApiClient, AuditLog, ChangeRequest
from cardsystem.roles import ADMINISTRATOR, AUDITOR, FRAUD_ANALYST, FRAUD_MANAGER
from tests.commands import api_status
from tests.factories import UserFactory, staff_with_roles

pytestmark = pytest.mark.django_db
User = get_user_model()
Action = AuditLog.Action
ADD_CLIENT = reverse("admin:cardsystem_apiclient_add")
ADD_USER = reverse("admin:auth_user_add")
NEW_PASSWORD = "plinth-amber-quiver-8814"


@pytest.fixture
def maker():
    return staff_with_roles(ADMINISTRATOR, username="maker")


@pytest.fixture
def checker():
    return staff_with_roles(ADMINISTRATOR, username="checker")


def logged_in(client, user):
    client.force_login(user)
    return client


def as_actor(user) -> Actor:
    return Actor.for_user(user)


# --- API clients ------------------------------------------------------------------------------


def request_client(client, maker, name="Acquirer gateway") -> tuple[ChangeRequest, str]:
    response = logged_in(client, maker).post(
        ADD_CLIENT, {"name": name, "scopes": ["manage"], "reason": "New acquirer contract"}
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    return ChangeRequest.objects.get(kind="api_client_create", params__name=name), response.context["key"]


def test_a_requested_api_clients_key_is_refused_until_a_second_person_approves(client, maker, checker):
    request, key = request_client(client, maker)
    assert request.status == ChangeRequest.Status.PENDING and request.requested_by == maker
    assert not ApiClient.objects.exists()
    assert api_status(key) == 401

    change_request_approve(request=request, actor=as_actor(checker), note="Contract seen")

    assert api_status(key) == 200
    api_client = ApiClient.objects.get(name="Acquirer gateway")
    assert ChangeRequest.objects.get().result == {
        "api_client": str(api_client.pk),
        "name": "Acquirer gateway",
    }
    created = AuditLog.objects.get(action=Action.API_CLIENT_CREATED)
    approved = AuditLog.objects.get(action=Action.CHANGE_APPROVED)
    assert created.actor_user == checker
    assert (approved.details["requested_by"], approved.details["approved_by"]) == ("maker", "checker")


@pytest.mark.parametrize("closing", ["reject", "withdraw"])
def test_a_rejected_or_withdrawn_api_client_is_never_made_and_its_key_never_works(
    client, maker, checker, closing
):
    request, key = request_client(client, maker)
    if closing == "reject":
        change_request_reject(request=request, actor=as_actor(checker), note="No contract")
    else:
        change_request_withdraw(request=request, actor=as_actor(maker))

    assert not ApiClient.objects.exists() and api_status(key) == 401
    assert not AuditLog.objects.filter(action=Action.API_CLIENT_CREATED).exists()
    with pytest.raises(Exception, match="already decided or withdrawn"):
        change_request_approve(request=request, actor=as_actor(checker))
    assert not ApiClient.objects.exists() and api_status(key) == 401


def test_nobody_approves_their_own_api_client(client, maker):
    request, key = request_client(client, maker)
    with pytest.raises(PermissionDenied):
        change_request_approve(request=request, actor=as_actor(maker))
    assert ChangeRequest.objects.get().status == ChangeRequest.Status.PENDING
    assert not ApiClient.objects.exists() and api_status(key) == 401


def test_a_name_awaiting_approval_is_refused_on_its_field_and_nothing_is_written(client, maker):
    request_client(client, maker)
    before = ChangeRequest.objects.count(), AuditLog.objects.count()
    response = client.post(ADD_CLIENT, {"name": "Acquirer gateway", "scopes": ["manage"], "reason": "Again"})
    assert response.status_code == 200 and "awaits approval" in str(response.context["form"].errors["name"])
    assert "key" not in response.context
    assert (ChangeRequest.objects.count(), AuditLog.objects.count()) == before


def test_a_request_whose_name_was_taken_meanwhile_stays_pending(client, maker, checker):
    request, key = request_client(client, maker)
    call_command("create_api_client", "Acquirer gateway", "--scope", "manage", stdout=StringIO())
    with pytest.raises(ValidationError) as raised:
        change_request_approve(request=request, actor=as_actor(checker))
    assert "name" in raised.value.message_dict
    assert ChangeRequest.objects.get().status == ChangeRequest.Status.PENDING
    assert ApiClient.objects.count() == 1 and api_status(key) == 401


def test_the_operators_command_still_creates_a_client_at_once():
    call_command("create_api_client", "Batch job", "--scope", "manage", stdout=StringIO())
    assert ApiClient.objects.filter(name="Batch job", is_active=True).exists()
    assert not ChangeRequest.objects.exists()


# --- Staff grants -------------------------------------------------------------------------------


def change_user(client, user, **fields):
    data = {
        "username": user.username,
        "is_active": "on",
        "date_joined_0": "2026-12-01",
        "date_joined_1": "09:00:00",
        **fields,
    }
    return client.post(
        reverse("admin:auth_user_change", args=[user.pk]), {k: v for k, v in data.items() if v}
    )


def role(name) -> Group:
    return Group.objects.get(name=name)


def test_granting_staff_superuser_a_role_and_a_permission_waits_for_approval(client, maker, checker):
    clerk = UserFactory(username="clerk", is_staff=False, is_superuser=False)
    view_card = Permission.objects.get(codename="view_card")
    response = change_user(
        logged_in(client, maker),
        clerk,
        is_staff="on",
        is_superuser="on",
        groups=[role(FRAUD_ANALYST).pk],
        user_permissions=[view_card.pk],
        grant_reason="Joins the fraud team",
    )
    assert response.status_code == 302
    messages = [str(message) for message in response.wsgi_request._messages]
    assert any("clerk" in message and "approval" in message for message in messages)
    clerk.refresh_from_db()
    assert not clerk.is_staff and not clerk.is_superuser
    assert not clerk.groups.exists() and not clerk.user_permissions.exists()
    request = ChangeRequest.objects.get(kind="staff_grant")
    assert request.params == {
        "user": clerk.pk,
        "flags": ["is_staff", "is_superuser"],
        "groups": [FRAUD_ANALYST],
        "permissions": ["cards.view_card"],
    }
    assert (request.target_type, request.target_id) == ("auth.user", str(clerk.pk))

    change_request_approve(request=request, actor=as_actor(checker))

    clerk = User.objects.get(pk=clerk.pk)
    assert clerk.is_staff and clerk.is_superuser
    assert list(clerk.groups.values_list("name", flat=True)) == [FRAUD_ANALYST]
    assert clerk.has_perm("cards.view_card")
    flags = AuditLog.objects.get(action=Action.STAFF_FLAGS_CHANGED)
    assert flags.actor_user == checker and flags.details == {
        "is_staff": [False, True],
        "is_superuser": [False, True],
    }


def test_a_rejected_grant_leaves_the_user_unchanged(client, maker, checker):
    clerk = UserFactory(username="clerk", is_staff=True, is_superuser=False)
    change_user(logged_in(client, maker), clerk, is_staff="on", is_superuser="on", grant_reason="Cover")
    before = User.objects.values().get(pk=clerk.pk)

    change_request_reject(request=ChangeRequest.objects.get(), actor=as_actor(checker), note="No")

    assert User.objects.values().get(pk=clerk.pk) == before
    assert not User.objects.get(pk=clerk.pk).is_superuser
    assert not AuditLog.objects.filter(action=Action.STAFF_FLAGS_CHANGED).exists()


def test_a_grant_without_a_reason_is_refused_on_its_field_and_nothing_is_written(client, maker):
    clerk = UserFactory(username="clerk", is_staff=False, is_superuser=False)
    logged_in(client, maker)
    before = User.objects.values().get(pk=clerk.pk), AuditLog.objects.count()
    response = change_user(client, clerk, is_staff="on", groups=[role(AUDITOR).pk])
    assert response.status_code == 200
    assert "grant_reason" in response.context["adminform"].form.errors
    assert (User.objects.values().get(pk=clerk.pk), AuditLog.objects.count()) == before
    assert not ChangeRequest.objects.exists() and not clerk.groups.exists()


def test_removing_powers_is_immediate_and_needs_no_request(client, maker):
    clerk = staff_with_roles(FRAUD_ANALYST, FRAUD_MANAGER, username="clerk")
    response = change_user(logged_in(client, maker), clerk, groups=[role(FRAUD_ANALYST).pk])
    assert response.status_code == 302
    clerk = User.objects.get(pk=clerk.pk)
    assert not clerk.is_staff
    assert list(clerk.groups.values_list("name", flat=True)) == [FRAUD_ANALYST]
    assert not ChangeRequest.objects.exists()
    removed = AuditLog.objects.filter(action=Action.STAFF_GROUPS_CHANGED).latest("id")
    assert (removed.actor_user, removed.details) == (maker, {"removed": [FRAUD_MANAGER]})


def test_a_new_user_gets_no_staff_flag_or_role_until_approved(client, maker, checker):
    response = logged_in(client, maker).post(
        ADD_USER,
        {
            "username": "newcomer",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "usable_password": "true",
            "is_staff": "on",
            "groups": [role(AUDITOR).pk],
            "grant_reason": "New internal auditor",
        },
    )
    assert response.status_code == 302
    newcomer = User.objects.get(username="newcomer")
    assert not newcomer.is_staff and not newcomer.groups.exists()
    created = AuditLog.objects.get(action=Action.STAFF_USER_CREATED, target_id=str(newcomer.pk))
    assert created.details["is_staff"] is False
    request = ChangeRequest.objects.get(kind="staff_grant")
    assert request.params["flags"] == ["is_staff"] and request.params["groups"] == [AUDITOR]

    change_request_approve(request=request, actor=as_actor(checker))

    newcomer = User.objects.get(pk=newcomer.pk)
    assert newcomer.is_staff and newcomer.has_perm("cardsystem.view_auditlog")


def test_nobody_approves_their_own_grant(client, maker):
    change_user(logged_in(client, maker), maker, is_staff="on", is_superuser="on", grant_reason="Me")
    request = ChangeRequest.objects.get()
    with pytest.raises(PermissionDenied):
        change_request_approve(request=request, actor=as_actor(maker))
    assert ChangeRequest.objects.get().status == ChangeRequest.Status.PENDING
    assert not User.objects.get(pk=maker.pk).is_superuser


def test_a_grant_needs_manage_staff_to_be_approved(client, maker):
    clerk = UserFactory(username="clerk", is_staff=False, is_superuser=False)
    change_user(logged_in(client, maker), clerk, is_staff="on", grant_reason="Joins")
    manager = staff_with_roles(FRAUD_MANAGER, username="manager")  # approves, but not staff grants
    with pytest.raises(PermissionDenied):
        change_request_approve(request=ChangeRequest.objects.get(), actor=as_actor(manager))
    assert not User.objects.get(pk=clerk.pk).is_staff


def test_a_grant_whose_role_was_deleted_meanwhile_fails_and_stays_pending(client, maker, checker):
    clerk = UserFactory(username="clerk", is_staff=True, is_superuser=False)
    temporary = Group.objects.create(name="Temporary")
    change_user(logged_in(client, maker), clerk, is_staff="on", groups=[temporary.pk], grant_reason="Cover")
    temporary.delete()
    with pytest.raises(ValidationError) as raised:
        change_request_approve(request=ChangeRequest.objects.get(), actor=as_actor(checker))
    assert "groups" in raised.value.message_dict
    assert ChangeRequest.objects.get().status == ChangeRequest.Status.PENDING


def test_an_administrator_cannot_change_a_superuser(client, maker):
    root = UserFactory(username="root")
    page = reverse("admin:auth_user_change", args=[root.pk])
    response = change_user(logged_in(client, maker), root, email="taken@evil.test")
    assert response.status_code == 403
    assert client.get(page).context["title"].startswith("View")
    password_page = reverse("admin:auth_user_password_change", args=[root.pk])
    assert (
        client.post(password_page, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 403
    )
    root.refresh_from_db()
    assert root.email == "root@bank.test" and root.check_password("correct-horse-battery-staple")


# --- Second-factor reset ------------------------------------------------------------------------


def reset_url(user) -> str:
    return reverse("admin:cardsystem_staffsecondfactor_reset", args=[user.pk])


def test_an_administrator_resets_a_second_factor_alone_and_it_is_audited(client, maker):
    clerk = staff_with_roles(FRAUD_ANALYST, username="clerk")
    TOTPDevice.objects.create(user=clerk, name="phone", confirmed=True)
    response = logged_in(client, maker).post(reset_url(clerk), {"reason": "Phone lost, identity checked"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=clerk).exists()
    row = AuditLog.objects.get(action=Action.MFA_RESET)
    assert (row.actor_user, row.target_id) == (maker, str(clerk.pk))
    assert not ChangeRequest.objects.exists()


@pytest.mark.parametrize("roles", [(FRAUD_MANAGER,), (AUDITOR,)])
def test_a_role_without_the_reset_permission_is_refused(client, roles):
    clerk = staff_with_roles(FRAUD_ANALYST, username="clerk")
    TOTPDevice.objects.create(user=clerk, name="phone", confirmed=True)
    response = logged_in(client, staff_with_roles(*roles, username="other")).post(
        reset_url(clerk), {"reason": "asked nicely"}
    )
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=clerk).exists()
    assert not AuditLog.objects.filter(action=Action.MFA_RESET).exists()
