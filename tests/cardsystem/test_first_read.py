"""cardsystem/sql.py `first_read`: an API request's first statement, the read of its key,
is also its connection's health check. Django's check (CONN_HEALTH_CHECKS) would send a
`SELECT 1` before it; a persistent connection the server dropped since the last request
must still be replaced without failing the request."""

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from cardsystem import sql
from cardsystem.services import api_client_for_key
from tests.authorizing import post_authorization
from tests.factories import CardFactory, make_api_client

# Outside the test's own transaction: a request starts outside one too.
pytestmark = pytest.mark.django_db(transaction=True)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def next_request() -> None:
    """What Django does to a persistent connection as a request starts (request_started,
    which the test client does not send to the connection): it is to be checked again."""
    connection.close_if_unusable_or_obsolete()
    assert connection.connection is not None and not connection.health_check_done


def drop(pid: int) -> None:
    """The server ends the connection, as a restart or a failover would."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture(autouse=True)
def fresh_connection():
    """A connection of this test's own: one an earlier test opened may be older than
    CONN_MAX_AGE, and `next_request` would close it."""
    connection.close()
    connection.ensure_connection()


@pytest.fixture
def usable_checks(monkeypatch):
    """Each call of Django's health check (the `SELECT 1`)."""
    calls = []
    check = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: calls.append(1) or check())
    return calls


def test_the_key_read_is_the_health_check(usable_checks):
    client, key = make_api_client("authorize")
    next_request()

    assert api_client_for_key(key) == client

    # On PostgreSQL one round trip, not two; SQLite's check, in the process, sends nothing.
    assert usable_checks == ([] if connection.vendor == "postgresql" else [1])
    assert connection.health_check_done


def test_inside_a_transaction_django_checks_the_connection_first(usable_checks):
    """Entering atomic() runs Django's check (its BEGIN is the connection's first use);
    the read inside then sends none of its own."""
    client, key = make_api_client("authorize")
    next_request()

    with transaction.atomic():
        assert usable_checks == [1]
        assert api_client_for_key(key) == client

    assert usable_checks == [1]


def test_a_connection_the_server_dropped_is_replaced_without_failing_the_request(
    authorize_api, usable_checks
):
    card = CardFactory(balance_minor=100_00)
    if connection.vendor != "postgresql":  # in the process: nothing to drop
        assert post_authorization(authorize_api, card, amount="1.00").json()["response_code"] == "00"
        return
    dropped = backend_pid()
    next_request()
    drop(dropped)

    response = post_authorization(authorize_api, card, amount="1.00")

    assert response.status_code == 201, response.content
    assert response.json()["response_code"] == "00"
    assert usable_checks == []  # replaced by the key's read, not by Django's check
    assert backend_pid() != dropped


def test_only_a_select_may_be_sent_again():
    with pytest.raises(ValueError, match="SELECT only"):
        sql.first_read("UPDATE cardsystem_apiclient SET name = %s", ["x"])


def test_a_failing_statement_on_a_sound_connection_is_not_sent_again():
    next_request()
    if connection.vendor == "postgresql":
        pid = backend_pid()
        next_request()
    sent = []

    def count(execute, statement, params, many, context):
        sent.append(statement)
        return execute(statement, params, many, context)

    with connection.execute_wrapper(count), pytest.raises(DatabaseError):
        sql.first_read("SELECT 1 FROM no_such_table WHERE 1 = %s", [1])

    assert len(sent) == 1
    if connection.vendor == "postgresql":
        assert backend_pid() == pid
