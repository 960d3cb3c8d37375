"""A decision on its own is one database transaction whose risk receivers run without a
savepoint (transactions/services/authorizations.py): when one fails, the transaction is
rolled back, whatever the receivers wrote with it, and the decision made again, failing
closed. Transactional tests: inside a test's own transaction, as inside any caller's,
the receivers keep their savepoint (tests/transactions/test_signals.py tests that path)."""

import logging
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.models import LedgerEntry
from cardsystem.models import AuditLog
from tests.authorizing import balance, decide
from tests.factories import CardFactory
from transactions.models import Transaction
from transactions.signals import authorization_attempted

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def connected(receiver):
    authorization_attempted.connect(receiver, weak=False, dispatch_uid="test-receiver")
    try:
        yield
    finally:
        authorization_attempted.disconnect(dispatch_uid="test-receiver")


def statements(captured) -> list[str]:
    return [query["sql"].split()[0].upper() for query in captured.captured_queries]


def test_an_approval_alone_sends_no_savepoint(authorize_api):
    card = CardFactory(balance_minor=100_00)

    with CaptureQueriesContext(connection) as captured:
        answer = decide(authorize_api, card)

    assert answer["response_code"] == "00"
    assert "SAVEPOINT" not in statements(captured) and "RELEASE" not in statements(captured)
    assert balance(card) == 100_00 - 4200


def test_a_receiver_whose_query_fails_rolls_back_what_it_wrote_and_the_decision_fails_closed(
    authorize_api, caplog
):
    card = CardFactory(balance_minor=100_00)
    audited = AuditLog.objects.count()

    def broken(sender, attempt, **kwargs):
        # Writes a row, then a query fails: on PostgreSQL the transaction is now aborted.
        AuditLog.objects.create(action="card.topped_up", actor_label="receiver", target_type="test")
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    with connected(broken), caplog.at_level(logging.ERROR):
        answer = decide(authorize_api, card)

    assert (answer["status"], answer["response_code"]) == ("declined", "59")
    assert [f["code"] for f in answer["risk_factors"]] == ["risk_engine_error"]
    assert Transaction.objects.filter(card=card).count() == 1
    assert Transaction.objects.get(card=card).risk_factors[0]["code"] == "risk_engine_error"
    assert AuditLog.objects.count() == audited  # the receiver's row went with its transaction
    assert balance(card) == 100_00 and not LedgerEntry.objects.filter(kind="debit").exists()
    assert caplog.text.count("failing closed") == 1


def test_a_receiver_that_raises_after_its_answer_is_ready_also_fails_closed_once(authorize_api):
    card = CardFactory(balance_minor=100_00)
    calls = []

    def broken(sender, attempt, **kwargs):
        calls.append(attempt)
        raise RuntimeError("scoring is down")

    with connected(broken):
        answer = decide(authorize_api, card)

    assert answer["response_code"] == "59"
    assert len(calls) == 1  # the second try does not ask the receivers again
    assert Transaction.objects.filter(card=card).count() == 1
