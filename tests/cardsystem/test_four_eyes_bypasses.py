"""Ways around four eyes found by review, each closed: the person a grant is for never
decides it (a colleague's request on their behalf is still their own promotion), and
nobody sets the password of a colleague who holds powers they lack or who approves
changes (signing in as them would be a second pair of eyes, or powers, taken alone)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from cardsystem.audit import Actor
from cardsystem.change_kinds import staff_grant_request
from cardsystem.change_requests import can_decide, change_request_approve
from cardsystem.models import ApiClient, AuditLog, ChangeRequest
from cardsystem.roles import ADMINISTRATOR, CARD_OPERATIONS, FRAUD_ANALYST, FRAUD_MANAGER
from tests.cardsystem.test_four_eyes_system import change_user
from tests.commands import api_status
from tests.factories import UserFactory, make_api_client, staff_with_roles

pytestmark = pytest.mark.django_db
User = get_user_model()
OLD_PASSWORD = "correct-horse-battery-staple"
NEW_PASSWORD = "plinth-amber-quiver-8814"


def approve_url(request: ChangeRequest) -> str:
    return reverse("admin:cardsystem_changerequest_approve", args=[request.pk])


def test_the_person_a_grant_is_for_never_approves_it(client):
    maker = staff_with_roles(ADMINISTRATOR, username="maker")
    beneficiary = staff_with_roles(ADMINISTRATOR, username="beneficiary")
    client.force_login(maker)
    administrator = Group.objects.get(name=ADMINISTRATOR).pk
    change_user(
        client, beneficiary, is_staff="on", is_superuser="on", groups=[administrator], grant_reason="Cover"
    )
    request = ChangeRequest.objects.get(kind="staff_grant")
    assert not can_decide(beneficiary, request)

    client.force_login(beneficiary)
    page = client.get(reverse("admin:cardsystem_changerequest_change", args=[request.pk]))
    assert page.status_code == 200 and not page.context["may_decide"]
    assert client.post(approve_url(request), {"note": "fine by me"}).status_code == 403
    with pytest.raises(PermissionDenied):
        change_request_approve(request=request, actor=Actor.for_user(beneficiary))

    assert ChangeRequest.objects.get().status == ChangeRequest.Status.PENDING
    assert not User.objects.get(pk=beneficiary.pk).is_superuser
    assert not AuditLog.objects.filter(action=AuditLog.Action.CHANGE_APPROVED).exists()


def test_a_third_person_still_approves_the_grant():
    maker = staff_with_roles(ADMINISTRATOR, username="maker")
    beneficiary = UserFactory(username="beneficiary", is_staff=False, is_superuser=False)
    checker = staff_with_roles(ADMINISTRATOR, username="checker")
    request = staff_grant_request(
        user=beneficiary, grants={"flags": ["is_staff"]}, reason="Joins", actor=Actor.for_user(maker)
    )
    assert can_decide(checker, request)
    change_request_approve(request=request, actor=Actor.for_user(checker))
    assert User.objects.get(pk=beneficiary.pk).is_staff


def set_password(client, user):
    page = reverse("admin:auth_user_password_change", args=[user.pk])
    return client.post(
        page, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )


@pytest.mark.parametrize(
    "roles", [(FRAUD_MANAGER,), (CARD_OPERATIONS,), (ADMINISTRATOR,), (FRAUD_ANALYST, ADMINISTRATOR)]
)
def test_an_administrator_cannot_set_the_password_of_a_colleague_with_other_powers_or_an_approver(
    client, roles
):
    colleague = staff_with_roles(*roles, username="colleague")
    colleague.set_password(OLD_PASSWORD)
    colleague.save()
    client.force_login(staff_with_roles(ADMINISTRATOR, username="maker"))
    page = reverse("admin:auth_user_password_change", args=[colleague.pk])
    assert client.get(page).status_code == 403
    assert set_password(client, colleague).status_code == 403
    assert User.objects.get(pk=colleague.pk).check_password(OLD_PASSWORD)


def test_an_administrator_still_sets_a_password_for_staff_with_fewer_powers_and_their_own(client):
    maker = staff_with_roles(ADMINISTRATOR, username="maker")
    newcomer = UserFactory(username="newcomer", is_staff=False, is_superuser=False)
    client.force_login(maker)
    assert set_password(client, newcomer).status_code == 302
    assert User.objects.get(pk=newcomer.pk).check_password(NEW_PASSWORD)
    assert set_password(client, maker).status_code == 302
    assert User.objects.get(pk=maker.pk).check_password(NEW_PASSWORD)


def test_a_superuser_sets_any_password(client):
    colleague = staff_with_roles(FRAUD_MANAGER, username="colleague")
    client.force_login(UserFactory(username="root"))
    assert set_password(client, colleague).status_code == 302
    assert User.objects.get(pk=colleague.pk).check_password(NEW_PASSWORD)


# --- Rotating an API client's key hands a working key to one person: held like creating --------


def test_a_rotated_key_works_only_once_a_second_person_approves(client):
    api_client, old = make_api_client("manage", name="Reporting")
    maker = staff_with_roles(ADMINISTRATOR, username="maker")
    client.force_login(maker)
    response = client.post(
        reverse("admin:cardsystem_apiclient_rotate_key", args=[api_client.pk]),
        {"overlap_hours": "24", "reason": "Key seen in a log file"},
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    new = response.context["key"]
    assert (api_status(old), api_status(new)) == (200, 401)
    request = ChangeRequest.objects.get(kind="api_client_rotate_key")
    assert request.status == ChangeRequest.Status.PENDING and request.target_id == str(api_client.pk)
    assert new not in str(request.params) and new not in request.summary
    assert not AuditLog.objects.filter(action=AuditLog.Action.API_CLIENT_KEY_ROTATED).exists()
    with pytest.raises(PermissionDenied):
        change_request_approve(request=request, actor=Actor.for_user(maker))
    assert api_status(new) == 401

    change_request_approve(request=request, actor=Actor.for_user(staff_with_roles(ADMINISTRATOR)))

    assert (api_status(old), api_status(new)) == (200, 200)  # the old one for the overlap
    rotated = AuditLog.objects.get(action=AuditLog.Action.API_CLIENT_KEY_ROTATED)
    assert rotated.actor_user != maker


def test_a_rotation_without_a_reason_is_refused_on_its_field_and_nothing_is_written(client):
    api_client, _ = make_api_client("manage", name="Reporting")
    client.force_login(staff_with_roles(ADMINISTRATOR, username="maker"))
    before = ApiClient.objects.values().get(), AuditLog.objects.count()
    response = client.post(
        reverse("admin:cardsystem_apiclient_rotate_key", args=[api_client.pk]), {"overlap_hours": "24"}
    )
    assert response.status_code == 200 and "key" not in response.context
    assert "reason" in response.context["form"].errors
    assert (ApiClient.objects.values().get(), AuditLog.objects.count()) == before
    assert not ChangeRequest.objects.exists()


# --- Reactivating a deactivated account gives back every power it holds: held like a grant -----


def test_reactivating_a_deactivated_colleague_waits_for_a_second_person(client):
    leaver = staff_with_roles(FRAUD_MANAGER, username="leaver")
    User.objects.filter(pk=leaver.pk).update(is_active=False)
    maker = staff_with_roles(ADMINISTRATOR, username="maker")
    client.force_login(maker)
    manager = Group.objects.get(name=FRAUD_MANAGER).pk
    refused = change_user(client, leaver, is_staff="on", groups=[manager])
    assert refused.status_code == 200 and "grant_reason" in refused.context["adminform"].form.errors
    assert not User.objects.get(pk=leaver.pk).is_active and not ChangeRequest.objects.exists()

    response = change_user(client, leaver, is_staff="on", groups=[manager], grant_reason="Back from leave")

    assert response.status_code == 302
    assert not User.objects.get(pk=leaver.pk).is_active
    request = ChangeRequest.objects.get(kind="staff_grant")
    assert request.params["flags"] == ["is_active"] and "reactivation" in request.summary
    change_request_approve(request=request, actor=Actor.for_user(staff_with_roles(ADMINISTRATOR)))
    assert User.objects.get(pk=leaver.pk).is_active


def test_deactivating_stays_immediate(client):
    colleague = staff_with_roles(FRAUD_MANAGER, username="colleague")
    client.force_login(staff_with_roles(ADMINISTRATOR, username="maker"))
    manager = Group.objects.get(name=FRAUD_MANAGER).pk
    response = change_user(client, colleague, is_active="", is_staff="on", groups=[manager])
    assert response.status_code == 302
    assert not User.objects.get(pk=colleague.pk).is_active and not ChangeRequest.objects.exists()
