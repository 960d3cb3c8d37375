"""demo_credentials: the demo login and API key for a local trial."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.management import CommandError

from cardsystem.models import ApiClient, AuditLog
from tests.commands import api_status, counts, run, stored_values
from tests.factories import UserFactory, make_api_client

pytestmark = pytest.mark.django_db


def demo_credentials():
    out, _ = run("demo_credentials")
    password = re.search(r"^  Password: +(\S+)$", out, re.MULTILINE).group(1)
    key = re.search(r"^  API key: +(\S+)$", out, re.MULTILINE).group(1)
    return out, password, key


def test_demo_credentials_refuses_with_debug_off_and_changes_nothing(settings):
    settings.DEBUG = False
    admin = UserFactory(username="admin")
    make_api_client("manage", name="demo")
    before = counts()
    with pytest.raises(CommandError, match="DEBUG"):
        run("demo_credentials")
    assert counts() == before
    admin.refresh_from_db()
    assert admin.check_password("correct-horse-battery-staple")
    assert ApiClient.objects.get(name="demo").is_active


def test_demo_credentials_prints_an_admin_login_that_works(settings, client):
    settings.DEBUG = True
    out, password, _ = demo_credentials()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.is_active
    assert len(password) >= 16
    validate_password(password, admin)
    assert "  Admin:     http://127.0.0.1:8000/admin/" in out
    assert "  Username:  admin" in out
    response = client.post("/admin/login/", {"username": "admin", "password": password, "next": "/admin/"})
    assert response.status_code == 302 and response.url == "/admin/"


def test_demo_credentials_prints_an_api_key_with_both_scopes_and_how_to_use_it(settings):
    settings.DEBUG = True
    out, _, key = demo_credentials()
    assert api_status(key) == 200
    client = ApiClient.objects.get(is_active=True)
    assert client.name.startswith("demo-") and client.scopes == ["authorize", "manage"]
    assert "  API docs:  http://127.0.0.1:8000/api/docs/" in out
    assert f"curl -H 'Authorization: Bearer {key}' http://127.0.0.1:8000/api/v1/bins/" in out


def test_demo_credentials_resets_the_password_of_an_existing_admin(settings):
    settings.DEBUG = True
    UserFactory(username="admin", is_superuser=False)
    _, password, _ = demo_credentials()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    assert not admin.check_password("correct-horse-battery-staple")


def test_running_demo_credentials_again_revokes_earlier_demo_keys_only(settings):
    settings.DEBUG = True
    _, old_password, old_key = demo_credentials()
    _, other_key = make_api_client("manage", name="demographics-export")
    _, new_password, new_key = demo_credentials()
    assert new_key != old_key and new_password != old_password
    assert api_status(old_key) == 401
    assert api_status(new_key) == 200
    assert api_status(other_key) == 200
    assert ApiClient.objects.filter(name__startswith="demo-", is_active=True).count() == 1
    assert not get_user_model().objects.get(username="admin").check_password(old_password)


def test_demo_credentials_are_audited_and_stored_only_as_hashes(settings):
    settings.DEBUG = True
    _, password, key = demo_credentials()
    entry = AuditLog.objects.get(action=AuditLog.Action.DEMO_CREDENTIALS)
    assert entry.actor_label == "manage.py demo_credentials"
    assert entry.target_label == "admin"
    assert entry.details["api_client"] == ApiClient.objects.get(is_active=True).name
    stored = list(stored_values())
    assert not any(password in value or key in value for value in stored)


def test_demo_credentials_print_one_staff_user_per_role_who_can_log_in(settings, client):
    from cardsystem.roles import ROLES

    settings.DEBUG = True
    out, admin_password, _ = demo_credentials()
    password = re.search(r"^  Their password: (\S+)$", out, re.MULTILINE).group(1)
    assert password != admin_password
    users = get_user_model().objects.filter(username__startswith="demo-").order_by("username")
    assert {user.username: [group.name for group in user.groups.all()] for user in users} == {
        "demo-admin": ["Administrator"],
        "demo-analyst": ["Fraud analyst"],
        "demo-auditor": ["Auditor"],
        "demo-cardops": ["Card operations"],
        "demo-manager": ["Fraud manager"],
    }
    assert {role for user in users for role in user.groups.values_list("name", flat=True)} == set(ROLES)
    for user in users:
        assert user.is_staff and user.is_active and not user.is_superuser
        assert not user.user_permissions.exists()
        assert re.search(rf"^  {user.username} +{user.groups.get().name}$", out, re.MULTILINE)
    login = {"username": "demo-auditor", "password": password, "next": "/admin/"}
    response = client.post("/admin/login/", login)
    assert response.status_code == 302 and response.url == "/admin/"


def test_demo_credentials_put_a_promoted_role_user_back_in_their_role_alone(settings):
    settings.DEBUG = True
    demo_credentials()
    analyst = get_user_model().objects.get(username="demo-analyst")
    analyst.is_superuser = True
    analyst.save()
    analyst.groups.add(Group.objects.get(name="Administrator"))
    demo_credentials()
    analyst.refresh_from_db()
    assert not analyst.is_superuser
    assert list(analyst.groups.values_list("name", flat=True)) == ["Fraud analyst"]
