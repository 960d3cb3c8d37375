import hashlib
import re

import pytest
from django.core.management import CommandError

from cardsystem.models import ApiClient, AuditLog
from tests.commands import api_status, counts, run, stored_values
from tests.factories import make_api_client

pytestmark = pytest.mark.django_db


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
