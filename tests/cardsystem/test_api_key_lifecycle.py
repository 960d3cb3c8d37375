"""API keys over their life: expiry, rotation with an overlap, and the last use recorded."""

import datetime
import json
import re

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.urls import reverse
from rest_framework.test import APIClient

from cardsystem.audit import Actor
from cardsystem.change_requests import change_request_approve
from cardsystem.models import ApiClient, AuditLog, ChangeRequest
from cardsystem.services import api_client_create, api_client_revoke, api_client_rotate_key
from tests.commands import api_status, counts, run, stored_values
from tests.factories import UserFactory, make_api_client

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 14, 12, 0, tzinfo=datetime.UTC)
HOUR, DAY = datetime.timedelta(hours=1), datetime.timedelta(days=1)
ACTOR = Actor.system("tests")


def status(key: str) -> int:
    return api_status(key)  # GET /api/v1/bins/: 200 with the manage scope


def answer(key: str):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api.get("/api/v1/bins/")


def rotation_rows():
    return list(AuditLog.objects.filter(action=AuditLog.Action.API_CLIENT_KEY_ROTATED))


# --- Expiry ----------------------------------------------------------------------------------


def test_a_key_works_until_it_expires_and_is_refused_from_then_on():
    with time_machine.travel(NOW, tick=False):
        _, key = api_client_create(name="gateway", scopes=["manage"], actor=ACTOR, expires_at=NOW + DAY)
        assert status(key) == 200
    with time_machine.travel(NOW + DAY - datetime.timedelta(microseconds=1), tick=False):
        assert status(key) == 200
    with time_machine.travel(NOW + DAY, tick=False):
        response = answer(key)
    assert response.status_code == 401
    assert response.json()["detail"] == "Unknown, expired or revoked API key."


def test_a_key_created_without_an_expiry_never_expires():
    with time_machine.travel(NOW, tick=False):
        client, key = make_api_client("manage")
    assert client.expires_at is None
    with time_machine.travel(NOW + 3650 * DAY, tick=False):
        assert status(key) == 200


@pytest.mark.parametrize(
    ("expires_at", "message"),
    [
        (NOW, "Must be in the future."),
        (NOW - DAY, "Must be in the future."),
        (datetime.datetime(2026, 4, 1, 12, 0), "Give a time with a time zone."),  # noqa: DTZ001
    ],
    ids=["now", "the past", "naive"],
)
def test_refuses_a_creation_whose_expiry_is_not_in_the_future_and_writes_nothing(expires_at, message):
    before = counts()
    with time_machine.travel(NOW, tick=False), pytest.raises(ValidationError) as raised:
        api_client_create(name="gateway", scopes=["manage"], actor=ACTOR, expires_at=expires_at)
    assert raised.value.message_dict == {"expires_at": [message]}
    assert counts() == before


# --- Rotation --------------------------------------------------------------------------------


def test_both_keys_work_within_the_overlap_and_only_the_new_one_after_it():
    with time_machine.travel(NOW, tick=False):
        client, old = make_api_client("manage")
        client, new = api_client_rotate_key(client=client, actor=ACTOR, overlap=2 * HOUR)
        assert new != old and client.key_prefix == new[:10]
        assert client.previous_key_expires_at == NOW + 2 * HOUR
        assert (status(old), status(new)) == (200, 200)
    with time_machine.travel(NOW + 2 * HOUR - datetime.timedelta(seconds=1), tick=False):
        assert (status(old), status(new)) == (200, 200)
    with time_machine.travel(NOW + 2 * HOUR, tick=False):
        assert (status(old), status(new)) == (401, 200)
        assert answer(old).json()["detail"] == "Unknown, expired or revoked API key."
    with time_machine.travel(NOW + 400 * DAY, tick=False):
        assert status(new) == 200


def test_a_rotation_without_overlap_ends_the_old_key_at_once():
    client, old = make_api_client("manage")
    _, new = api_client_rotate_key(client=client, actor=ACTOR, overlap=datetime.timedelta(0))
    assert (status(old), status(new)) == (401, 200)


def test_a_second_rotation_ends_the_first_key_and_keeps_the_second_for_its_overlap():
    with time_machine.travel(NOW, tick=False):
        client, first = make_api_client("manage")
        client, second = api_client_rotate_key(client=client, actor=ACTOR, overlap=DAY)
        client, third = api_client_rotate_key(client=client, actor=ACTOR, overlap=HOUR)
        assert (status(first), status(second), status(third)) == (401, 200, 200)
    with time_machine.travel(NOW + HOUR, tick=False):
        assert (status(second), status(third)) == (401, 200)


def test_the_old_key_does_not_outlive_its_own_expiry_and_the_new_one_gets_the_expiry_given():
    with time_machine.travel(NOW, tick=False):
        client, old = api_client_create(name="gateway", scopes=["manage"], actor=ACTOR, expires_at=NOW + HOUR)
        client, new = api_client_rotate_key(client=client, actor=ACTOR, overlap=DAY, expires_at=NOW + 7 * DAY)
    assert client.previous_key_expires_at == NOW + HOUR
    assert client.expires_at == NOW + 7 * DAY
    with time_machine.travel(NOW + HOUR, tick=False):
        assert (status(old), status(new)) == (401, 200)
    with time_machine.travel(NOW + 7 * DAY, tick=False):
        assert status(new) == 401


def test_revoking_ends_both_keys():
    client, old = make_api_client("manage")
    client, new = api_client_rotate_key(client=client, actor=ACTOR, overlap=DAY)
    api_client_revoke(client=client, actor=ACTOR)
    assert (status(old), status(new)) == (401, 401)


@pytest.mark.parametrize(
    ("overlap", "message"),
    [
        (datetime.timedelta(seconds=-1), "Cannot be negative."),
        (30 * DAY + datetime.timedelta(seconds=1), "At most 30 days."),
    ],
    ids=["negative", "over 30 days"],
)
def test_refuses_an_overlap_outside_0_to_30_days_and_writes_nothing(overlap, message):
    client, key = make_api_client("manage")
    before = counts(), ApiClient.objects.values().get()
    with pytest.raises(ValidationError) as raised:
        api_client_rotate_key(client=client, actor=ACTOR, overlap=overlap)
    assert raised.value.message_dict == {"overlap": [message]}
    assert (counts(), ApiClient.objects.values().get()) == before
    assert not ChangeRequest.objects.exists()
    assert status(key) == 200


def test_thirty_days_of_overlap_is_allowed():
    client, _ = make_api_client("manage")
    client, _ = api_client_rotate_key(client=client, actor=ACTOR, overlap=30 * DAY)
    assert client.previous_key_expires_at is not None


def test_refuses_to_rotate_a_revoked_clients_key_and_writes_nothing():
    client, _ = make_api_client("manage")
    api_client_revoke(client=client, actor=ACTOR)
    before = counts(), ApiClient.objects.values().get()
    with pytest.raises(ValidationError) as raised:
        api_client_rotate_key(client=client, actor=ACTOR, overlap=HOUR)
    assert list(raised.value.message_dict) == ["client"]
    assert (counts(), ApiClient.objects.values().get()) == before


def test_a_rotation_is_audited_with_the_overlap_end_and_never_a_key():
    with time_machine.travel(NOW, tick=False):
        client, old = make_api_client("manage")
        client, new = api_client_rotate_key(client=client, actor=ACTOR, overlap=HOUR)
    (row,) = rotation_rows()
    assert row.actor_label == "tests" and row.target_id == str(client.pk)
    assert row.details == {"previous_key_expires_at": (NOW + HOUR).isoformat(), "expires_at": None}
    text = json.dumps(row.details) + row.target_label
    for secret in (old, new, client.key_hash, client.previous_key_hash):
        assert secret not in text
    # Only hashes are stored, of both keys.
    assert not any(old in value or new in value for value in stored_values())


# --- Last use --------------------------------------------------------------------------------


def test_the_last_use_is_recorded_and_not_rewritten_within_a_minute(django_assert_num_queries):
    with time_machine.travel(NOW, tick=False):
        client, key = make_api_client("manage")
    assert client.last_used_at is None
    with time_machine.travel(NOW + HOUR, tick=False), django_assert_num_queries(3):  # key, UPDATE, page
        assert status(key) == 200
    client.refresh_from_db()
    assert client.last_used_at == NOW + HOUR
    with (
        time_machine.travel(NOW + HOUR + datetime.timedelta(seconds=59), tick=False),
        django_assert_num_queries(2),  # key, page: no write
    ):
        assert status(key) == 200
    client.refresh_from_db()
    assert client.last_used_at == NOW + HOUR
    with time_machine.travel(NOW + HOUR + datetime.timedelta(seconds=61), tick=False):
        assert status(key) == 200
    client.refresh_from_db()
    assert client.last_used_at == NOW + HOUR + datetime.timedelta(seconds=61)


def test_a_refused_key_records_no_use():
    with time_machine.travel(NOW, tick=False):
        client, old = make_api_client("manage")
        api_client_rotate_key(client=client, actor=ACTOR, overlap=datetime.timedelta(0))
        assert status(old) == 401
    client.refresh_from_db()
    assert client.last_used_at is None


def test_the_previous_key_records_use_too():
    with time_machine.travel(NOW, tick=False):
        client, old = make_api_client("manage")
        api_client_rotate_key(client=client, actor=ACTOR, overlap=HOUR)
        assert status(old) == 200
    client.refresh_from_db()
    assert client.last_used_at == NOW


# --- The admin -------------------------------------------------------------------------------


def rotate_url(client):
    return reverse("admin:cardsystem_apiclient_rotate_key", args=[client.pk])


def test_the_client_page_links_to_rotation_and_shows_expiry_and_last_use(admin_client):
    with time_machine.travel(NOW, tick=False):
        client, key = make_api_client("manage", name="Reporting")
        status(key)
    page = admin_client.get(reverse("admin:cardsystem_apiclient_change", args=[client.pk]))
    html = page.content.decode()
    assert rotate_url(client) in html
    for label in ("Expires at", "Previous key expires at", "Last used at"):
        assert label in html
    assert page.context["adminform"].form.instance.last_used_at == NOW


def test_admin_requests_a_rotation_shows_the_new_key_once_and_it_works_from_the_approval(
    admin_client, staff_user
):
    client, old = make_api_client("manage", name="Reporting")
    form = admin_client.get(rotate_url(client))
    assert form.status_code == 200 and form.context["form"]["overlap_hours"].value() == 24

    response = admin_client.post(rotate_url(client), {"overlap_hours": "24", "reason": "Yearly rotation"})

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    new = response.context["key"]
    assert re.fullmatch(r"csk_[A-Za-z0-9_-]{43}", new)
    assert response.content.decode().count(new) == 1 and old not in response.content.decode()
    assert (status(old), status(new)) == (200, 401) and not rotation_rows()
    with time_machine.travel(NOW, tick=False):
        change_request_approve(
            request=ChangeRequest.objects.get(kind="api_client_rotate_key"),
            actor=Actor.for_user(UserFactory(username="checker")),
        )
    client.refresh_from_db()
    assert client.previous_key_expires_at == NOW + DAY and client.expires_at is None
    (row,) = rotation_rows()
    assert row.actor_user.username == "checker"
    # Nothing else shows it again: the client's page has neither key nor hash.
    page = admin_client.get(reverse("admin:cardsystem_apiclient_change", args=[client.pk])).content.decode()
    for secret in (new, old, client.key_hash, client.previous_key_hash):
        assert secret not in page
    with time_machine.travel(NOW + HOUR, tick=False):
        assert (status(old), status(new)) == (200, 200)


@pytest.mark.parametrize(
    ("overlap_hours", "message"),
    [("721", "At most 30 days."), ("-1", "Ensure this value is greater than or equal to 0.")],
)
def test_admin_refuses_a_bad_overlap_on_its_field_and_writes_nothing(admin_client, overlap_hours, message):
    client, _ = make_api_client("manage", name="Reporting")
    before = counts(), ApiClient.objects.values().get()
    response = admin_client.post(rotate_url(client), {"overlap_hours": overlap_hours, "reason": "Yearly"})
    assert response.status_code == 200 and "key" not in response.context
    assert response.context["form"].errors == {"overlap_hours": [message]}
    assert (counts(), ApiClient.objects.values().get()) == before


def test_an_expiry_set_when_adding_a_client_counts_from_the_approval(admin_client):
    with time_machine.travel(NOW, tick=False):
        response = admin_client.post(
            reverse("admin:cardsystem_apiclient_add"),
            {"name": "Temporary", "scopes": ["manage"], "expires_in_days": "7", "reason": "A week's test"},
        )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    request = ChangeRequest.objects.get(kind="api_client_create")
    with time_machine.travel(NOW + DAY, tick=False):
        change_request_approve(request=request, actor=Actor.for_user(UserFactory(username="checker")))
    assert ApiClient.objects.get(name="Temporary").expires_at == NOW + 8 * DAY


def test_rotating_from_the_admin_needs_the_change_permission(client, db):
    viewer = UserFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.add(*_permissions("view_apiclient"))
    client.force_login(viewer)
    api_client, _ = make_api_client("manage", name="Reporting")
    before = ApiClient.objects.values().get()
    page = client.get(reverse("admin:cardsystem_apiclient_change", args=[api_client.pk]))
    assert page.status_code == 200 and rotate_url(api_client) not in page.content.decode()
    assert client.post(rotate_url(api_client), {"overlap_hours": "1"}).status_code == 403
    assert ApiClient.objects.values().get() == before and rotation_rows() == []


def _permissions(*codenames):
    return Permission.objects.filter(content_type__app_label="cardsystem", codename__in=codenames)


# --- The commands ----------------------------------------------------------------------------


def test_create_api_client_sets_an_expiry_in_days():
    with time_machine.travel(NOW, tick=False):
        out, _ = run("create_api_client", "gateway", "--scope", "manage", "--expires-in-days", "30")
    assert ApiClient.objects.get().expires_at == NOW + 30 * DAY
    key = out.splitlines()[-1]
    with time_machine.travel(NOW + 30 * DAY, tick=False):
        assert status(key) == 401


def test_create_api_client_refuses_an_expiry_not_in_the_future_and_writes_nothing():
    before = counts()
    with pytest.raises(CommandError, match=re.escape("expires_at: Must be in the future.")):
        run("create_api_client", "gateway", "--scope", "manage", "--expires-in-days", "0")
    assert counts() == before


def test_rotate_api_key_prints_the_new_key_alone_on_the_last_line():
    with time_machine.travel(NOW, tick=False):
        client, old = make_api_client("manage", name="gateway")
        out, _ = run("rotate_api_key", "gateway", "--overlap-hours", "6")
    new = out.splitlines()[-1]
    assert re.fullmatch(r"csk_[A-Za-z0-9_-]{43}", new) and out.count(new) == 1 and old not in out
    client.refresh_from_db()
    assert client.previous_key_expires_at == NOW + 6 * HOUR
    (row,) = rotation_rows()
    assert row.actor_label == "manage.py rotate_api_key"
    with time_machine.travel(NOW + 6 * HOUR, tick=False):
        assert (status(old), status(new)) == (401, 200)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "No API client is named 'nobody'."),
        (["gateway", "--overlap-hours", "721"], "overlap: At most 30 days."),
        (["gateway", "--overlap-hours", "-1"], "overlap: Cannot be negative."),
    ],
)
def test_rotate_api_key_refuses_bad_input_and_writes_nothing(args, message):
    make_api_client("manage", name="gateway")
    before = counts(), ApiClient.objects.values().get()
    with pytest.raises(CommandError, match=re.escape(message)):
        run("rotate_api_key", *args)
    assert (counts(), ApiClient.objects.values().get()) == before
