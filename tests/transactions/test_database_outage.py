"""The database away: requests answer 503 with Retry-After, and nothing is half-written."""

import pytest
from django.db import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    connection,
)

from tests.authorizing import post_authorization, written
from tests.factories import CardFactory
from tests.outages import StatementsFailFrom, database_away
from transactions import api as transactions_api

pytestmark = pytest.mark.django_db(transaction=True)


def assert_unavailable(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "briefly unavailable" in response.json()["detail"]


def test_an_api_request_is_503_while_the_database_is_away(manage_api):
    manage_api.raise_request_exception = False

    with database_away():
        response = manage_api.get("/api/v1/bins/")

    assert_unavailable(response)
    # The database's own words (address, driver message) stay in the log.
    assert set(response.json()) == {"detail"} and "127.0.0.1" not in response.content.decode()


def test_an_authorization_while_the_database_is_away_is_503_and_writes_nothing(authorize_api):
    card = CardFactory(balance_minor=100_00)
    authorize_api.raise_request_exception = False
    before = written()

    with database_away():
        response = post_authorization(authorize_api, card, key="retry-me")

    assert_unavailable(response)
    assert written() == before
    retried = post_authorization(authorize_api, card, key="retry-me")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried


def test_a_back_office_page_is_a_plain_503_while_the_database_is_away(admin_client):
    admin_client.raise_request_exception = False

    with database_away():
        response = admin_client.get("/admin/")

    assert response.status_code == 503 and response["Retry-After"] == "5"
    page = response.content.decode()
    assert "Service Unavailable" in page
    assert "OperationalError" not in page and "nonexistent" not in page and "127.0.0.1" not in page


def test_an_authorization_failing_at_any_statement_writes_nothing(authorize_api):
    card = CardFactory(balance_minor=100_00)
    assert post_authorization(authorize_api, card, amount="1.00").status_code == 201  # warm caches
    counter = StatementsFailFrom(10**6)
    with connection.execute_wrapper(counter):
        assert post_authorization(authorize_api, card, amount="1.00").status_code == 201
    statements = counter.seen
    assert statements >= 4  # the key, the card, the features, the writes (one statement on PostgreSQL)
    authorize_api.raise_request_exception = False
    before = written()

    for n in range(1, statements + 1):
        with connection.execute_wrapper(StatementsFailFrom(n)):
            response = post_authorization(authorize_api, card, amount="1.00")
        assert response.status_code == 503, (n, response.content[:200])
        assert written() == before, n

    assert post_authorization(authorize_api, card, amount="1.00").status_code == 201


def test_an_authorization_whose_commit_fails_writes_nothing(authorize_api, monkeypatch):
    card = CardFactory(balance_minor=100_00)
    authorize_api.raise_request_exception = False
    before = written()

    commits = []

    def commit_fails():
        commits.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(connection, "_commit", commit_fails)
    response = post_authorization(authorize_api, card)
    monkeypatch.undo()

    assert_unavailable(response)
    assert commits and written() == before


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (OperationalError, 503),
        (InterfaceError, 503),
        # About the request or the code, not the database's availability: a retry
        # would fail the same way, so no Retry-After invites one.
        (IntegrityError, 500),
        (DataError, 500),
        (ProgrammingError, 500),
    ],
)
def test_only_an_unavailable_database_is_a_503(authorize_api, monkeypatch, error, status):
    card = CardFactory(balance_minor=100_00)

    def fails(**kwargs):
        raise error("boom")

    monkeypatch.setattr(transactions_api, "authorization_decide", fails)
    authorize_api.raise_request_exception = False

    response = post_authorization(authorize_api, card)

    assert response.status_code == status
    assert ("Retry-After" in response) is (status == 503)
