"""What the tests of the cardsystem and demo commands share: running one, and what the
database holds afterwards."""

from io import StringIO

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from cardsystem.models import ApiClient, AuditLog


def run(*args):
    """A command's stdout and stderr."""
    stdout, stderr = StringIO(), StringIO()
    call_command(*args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def api_status(key: str) -> int:
    """The status the API answers a request made with `key`."""
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
    """API clients, audit rows and users: what a command that refuses must not add to."""
    return ApiClient.objects.count(), AuditLog.objects.count(), get_user_model().objects.count()
