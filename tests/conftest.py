import pytest
from django.apps import apps
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection
from rest_framework.test import APIClient

from cardsystem import process_cache, rates
from tests.factories import UserFactory, make_api_client

STAFF_PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, and a copy of what its migrations wrote (roles, rules, the fraud
    configuration): a transactional test's flush empties those tables, and a test that
    needs them afterwards (the browser tests) puts them back with `restore_migrated_data`."""
    with django_db_blocker.unblock():
        MIGRATED_DATA[connection.alias] = connection.creation.serialize_db_to_string()


MIGRATED_DATA: dict[str, str] = {}


def restore_migrated_data():
    """Empty the database and load what the migrations wrote, content types and
    permissions with their original keys (as Django's serialized_rollback does)."""
    call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
    connection.creation.deserialize_db_from_string(MIGRATED_DATA[connection.alias])
    # The rows came back with their keys, but PostgreSQL's sequences restarted at 1 with
    # the flush: the next row a test adds (a configuration version) would take key 1 again.
    statements = connection.ops.sequence_reset_sql(no_style(), apps.get_models())
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):
    # The fast hasher for the whole suite (STYLE.md: the suite stays quick).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests talk plain HTTP whatever the environment says.
    settings.SECURE_SSL_REDIRECT = False
    # Most tests log staff in with force_login: the second factor is tested on its own
    # (tests/cardsystem/test_second_factor.py), whatever DEBUG says.
    settings.STAFF_MFA_REQUIRED = False


@pytest.fixture(autouse=True)
def _clear_cache():
    # The fraud configuration and the active model are cached per process; a test's
    # rolled-back rule changes or models must not leak into the next test's decisions.
    # Rate limits count in the same cache: no test inherits another's requests.
    cache.clear()
    process_cache.forget_all()
    rates.forget_cache_failure()
    yield
    cache.clear()
    process_cache.forget_all()
    rates.forget_cache_failure()


def _api(*scopes):
    client, key = make_api_client(*scopes)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    api.api_client = client
    return api


@pytest.fixture
def manage_api(db):
    """An API client whose key has the `manage` scope."""
    return _api("manage")


@pytest.fixture
def authorize_api(db):
    """An API client whose key has the `authorize` scope only."""
    return _api("authorize")


@pytest.fixture
def full_api(db):
    """An API client whose key has both scopes: it reads the factors' details."""
    return _api("authorize", "manage")


@pytest.fixture
def anonymous_api():
    return APIClient()


@pytest.fixture
def staff_user(db):
    return UserFactory(username="analyst")


@pytest.fixture
def admin_client(client, staff_user):
    """A Django test client logged into the admin as a superuser."""
    client.force_login(staff_user)
    return client
