"""The authorization path's query count, pinned: it must not grow with a card's history.

Each decision reads the card (locked) and the fraud features in a bounded window, then
writes the transaction and, for an approval, the debit and its ledger entry. Which fraud
configuration version is live is read once per CONFIG_TTL_SECONDS per process (primed
below), never per decision. Counted here, for the whole request, inside the test's own
transaction, as under a caller's (the Idempotency-Key claim):
  approved (card with daily and monthly limits) = 1 API key + 1 card + 2 savepoint
      statements around the risk receivers + 1 fraud read (the card's windows and first
      uses beside the merchant's and the BIN's windows and reports, in one statement:
      transactions/cross_card_queries.py `card_and_cross_card_rows`) + 1 limits
      + the debit, the transaction and the ledger entry: 1 statement on PostgreSQL
      (transactions/queries.py `approval_insert`), 3 on SQLite
  declined for funds = the same with the transaction's INSERT alone
  declined for the CVV = no limits read, one more fraud read (wrong CVVs in a row)
  (after a failed check at the merchant, one more: its longer window of failed checks)
  declined for the expiry date = the same: a wrong expiry counts toward that block
  unknown card = 1 API key + 1 card lookup + 1 transaction
  approved under a fresh Idempotency-Key = approved + 2 savepoint statements around the
      request (one transaction with the key's record) + 2 around the key's INSERT (a
      taken key fails there and is then read) + 1 INSERT + 1 UPDATE storing the answer
A decision on its own (no caller's transaction) sends no savepoint around the risk
receivers (tests/transactions/test_decision_transaction.py): 2 fewer statements. Nor does
the request's persistent connection cost a health check's `SELECT 1` (uncounted here) on
PostgreSQL: the API key's read is the check (tests/cardsystem/test_first_read.py).
"""

import datetime

import pytest
from django.db import connection

from cardsystem import data_keys, sql
from cardsystem.models import DataKey
from fraud import inference, scoring
from tests.authorizing import decide, post_authorization, wrong_cvv
from tests.factories import CardFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture(params=[1, 20], ids=["1 earlier transaction", "20 earlier transactions"])
def card(request, authorize_api):
    """A card with limits and a history of ordinary approvals of 42.00, one a day, so
    that the decisions below are ordinary too (no alert to open)."""
    card = CardFactory(balance_minor=1000_00, limits={"daily": 1000_00, "monthly": 1900_00})
    start = datetime.datetime.now(tz=datetime.UTC) - 25 * DAY
    for day in range(request.param):
        decide(authorize_api, card, transaction_time=(start + day * DAY).isoformat())
    # Cached: which configuration version is live is read once per TTL, not per decision;
    # the key of the Idempotency-Key digests is read once per process.
    scoring.load_config()
    inference.active_model()
    data_keys.newest_secret(DataKey.Purpose.REQUEST_DIGEST)
    data_keys.newest_secret(DataKey.Purpose.DEVICE_DIGEST)  # likewise the devices' key
    return card


# How card and cardholder were authenticated: read in the card's history statement, no query more.
AUTHENTICATED = {
    "entry_mode": "ecommerce",
    "cardholder_verification": "no_cvm",
    "three_ds": "authenticated",
    "device_id": "phone-1",
}


@pytest.mark.parametrize(
    ("changes", "code", "queries"),
    [
        ({}, "00", "approved"),
        (AUTHENTICATED, "00", "approved"),
        ({"amount": "990.00"}, "51", 7),
        ({"cvv": "wrong"}, "N7", 7),
        ({"expiry_month": "wrong"}, "54", 7),
        ({"card_number": "4000001234567899"}, "14", 3),
        ({"key": "first-use"}, "00", "approved+6"),
    ],
    ids=[
        "approved",
        "approved, saying how card and cardholder were authenticated",
        "declined for funds",
        "declined for the cvv",
        "declined for the expiry date",
        "unknown card",
        "idempotency key",
    ],
)
def test_a_decision_takes_a_fixed_number_of_queries(
    authorize_api, card, django_assert_num_queries, changes, code, queries
):
    if changes.get("cvv") == "wrong":
        changes = {"cvv": wrong_cvv(card)}
    if changes.get("expiry_month") == "wrong":
        changes = {"expiry_month": card.expiry_month % 12 + 1}

    if isinstance(queries, str):  # an approval's writes: one statement on PostgreSQL, three elsewhere
        approved = 7 if connection.vendor == "postgresql" else 9
        queries = approved + (6 if queries.endswith("+6") else 0)
    with django_assert_num_queries(queries):
        response = post_authorization(authorize_api, card, **changes)

    assert response.json()["response_code"] == code


def test_the_transaction_list_takes_a_fixed_number_of_queries(manage_api, card, django_assert_num_queries):
    # A client's first request of a minute also records its last use (one UPDATE); the
    # pin is for the requests after it, as the authorization pins above are (their
    # client decided the card's history first).
    manage_api.get("/api/v1/transactions/?limit=1")
    with django_assert_num_queries(2):  # the API key and one page
        response = manage_api.get("/api/v1/transactions/?limit=200")

    assert response.status_code == 200 and response.json()["results"]


def _feature_read_runs() -> dict[str, int]:
    """The decision's feature reads prepared on this connection, by statement: how often
    each has run (from a generic plan or a plan of its own)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        rows = cursor.fetchall()
    return {statement: runs for statement, runs in rows if statement.startswith("SELECT h.*, x.*")}


def test_the_feature_read_is_prepared_once_and_then_reused(authorize_api, card):
    """cardsystem/sql.py `prepared_cursor`: on PostgreSQL the decision's long feature read
    is a server-side prepared statement, prepared once per connection and run again from
    it; on SQLite the cursor is the usual one."""
    if connection.vendor != "postgresql":
        with sql.prepared_cursor() as prepared, connection.cursor() as usual:
            assert type(prepared.cursor) is type(usual.cursor)
        return
    before = _feature_read_runs()
    for _ in range(3):
        assert post_authorization(authorize_api, card, amount="1.00").json()["response_code"] == "00"
    after = _feature_read_runs()

    grown = {statement: runs - before.get(statement, 0) for statement, runs in after.items()}
    assert [runs for runs in grown.values() if runs] == [3]


def test_a_decisions_statements_are_parsed_once(authorize_api, card, monkeypatch):
    """cardsystem/sql.py `cache_statement_parses`: psycopg parses each statement's
    placeholders once, the long feature read and the approval's writes included, so a
    decision like one before it parses none (psycopg parses a statement it does not cache
    by calling its module's uncached parser directly, counted here)."""
    from psycopg import _queries

    if connection.vendor != "postgresql":  # psycopg is left as it is
        assert (_queries.MAX_CACHED_STATEMENT_LENGTH, _queries.MAX_CACHED_STATEMENT_PARAMS) == (4096, 50)
        return
    post_authorization(authorize_api, card, amount="1.00")
    parses = []
    for name in ("_query2pg_nocache", "_query2pg_client_nocache"):
        parse = getattr(_queries, name)
        monkeypatch.setattr(_queries, name, lambda *args, parse=parse: parses.append(args) or parse(*args))
    misses = _queries._query2pg.cache_info().misses + _queries._query2pg_client.cache_info().misses

    assert post_authorization(authorize_api, card, amount="1.00").json()["response_code"] == "00"

    assert parses == []
    assert _queries._query2pg.cache_info().misses + _queries._query2pg_client.cache_info().misses == misses
