import hashlib
import re
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from cardsystem.models import ApiClient, AuditLog
from tests.factories import make_api_client

pytestmark = pytest.mark.django_db


def run(*args):
    stdout, stderr = StringIO(), StringIO()
    call_command(*args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def api_status(key: str) -> int:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api.get("/api/v1/bins/").status_code


def stored_values():
    """Every value of every row of every table in the database, as text."""
    tables = set(connection.introspection.table_names())
    for model in apps.get_models():
        if model._meta.db_table in tables and not model._meta.proxy:
            for row in model._default_manager.values_list():
                yield from (str(value) for value in row)


def counts():
    return ApiClient.objects.count(), AuditLog.objects.count(), get_user_model().objects.count()


# --- create_api_client ------------------------------------------------------------------


def test_create_api_client_prints_the_key_alone_on_the_last_line_once():
    out, _ = run("create_api_client", "acquirer-gateway", "--scope", "authorize", "--scope", "manage")
    lines = out.splitlines()
    key = lines[-1]
    assert re.fullmatch(r"csk_[A-Za-z0-9_-]{43}", key)
    assert out.count(key) == 1
    assert "acquirer-gateway" in lines[0] and "authorize, manage" in lines[0]
    client = ApiClient.objects.get()
    assert client.name == "acquirer-gateway" and client.scopes == ["authorize", "manage"]


def test_a_created_manage_key_may_list_bins_through_the_api():
    out, _ = run("create_api_client", "back-office", "--scope", "manage")
    assert api_status(out.splitlines()[-1]) == 200


def test_a_created_authorize_only_key_is_forbidden_to_list_bins():
    out, _ = run("create_api_client", "acquirer", "--scope", "authorize")
    assert api_status(out.splitlines()[-1]) == 403


def test_only_a_hash_of_the_created_key_is_stored():
    out, _ = run("create_api_client", "back-office", "--scope", "manage")
    key = out.splitlines()[-1]
    assert ApiClient.objects.get().key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert not any(key in value for value in stored_values())


def test_create_api_client_is_audited_as_the_command():
    run("create_api_client", "back-office", "--scope", "manage")
    entry = AuditLog.objects.get(action=AuditLog.Action.API_CLIENT_CREATED)
    assert entry.actor_type == AuditLog.ActorType.SYSTEM
    assert entry.actor_label == "manage.py create_api_client"
    assert entry.target_label.startswith("back-office")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "--scope", "manage"], "name: Give the client a name."),
        (["   ", "--scope", "manage"], "name: Give the client a name."),
        (["x" * 101, "--scope", "manage"], "name: At most 100 characters."),
        (["back-office"], "scopes: Give at least one scope"),
        (["back-office", "--scope", "admin"], "scopes: Unknown scope 'admin'"),
        (["back-office", "--scope", "manage", "--scope", "everything"], "scopes: Unknown scope 'everything'"),
    ],
)
def test_create_api_client_rejects_bad_input_and_creates_nothing(args, message):
    before = counts()
    with pytest.raises(CommandError, match=re.escape(message)):
        run("create_api_client", *args)
    assert counts() == before


def test_create_api_client_rejects_a_duplicate_name_and_keeps_the_first_client():
    first, _ = make_api_client("manage", name="back-office")
    before = counts()
    with pytest.raises(CommandError, match=re.escape("name: An API client with this name already exists.")):
        run("create_api_client", "back-office", "--scope", "authorize")
    assert counts() == before
    assert ApiClient.objects.get().key_hash == first.key_hash
