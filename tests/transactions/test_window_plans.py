"""How the statement across cards (transactions/cross_card_queries.py) reads a window's
declines: from the window's own partial index of declines, by its key and both ends of
its range of time, never from an index of every transaction, even while the table's
statistics hold no declines. Read off each database's own plan."""

import re

import pytest
from django.db import connection

from tests.factories import CardFactory
from tests.query_twins import AT, DAY, HOUR, MINUTE
from transactions.cross_card_queries import cross_card_statement
from transactions.models import Transaction

# VACUUM, which sets the visibility map the planner reckons with, runs outside a transaction.
pytestmark = pytest.mark.django_db(transaction=True)

PARTIAL_INDEXES = {"merchant_id": "transaction_merchant_declined", "bin_prefix": "transaction_bin_declined"}


def _busy_hour_of_approvals(rows: int) -> None:
    """`rows` approvals over the hour before AT, at 20 merchants and one BIN, and no
    declines, vacuumed and analysed: what the bench's traffic leaves before each of its
    rounds (bench/authorizations.py). With no declines in its statistics, every index
    with the status in its key looks to PostgreSQL's planner as if it held no row of
    the read: in bench runs the generic plan read a window's declines from the dashboard's
    (transaction_time, status, ...) index, every entry of the window, declined or not."""
    card = CardFactory()
    Transaction.objects.bulk_create(
        Transaction(
            card=card,
            masked_pan=card.masked_pan,
            bin_prefix="400000",
            amount_minor=1_00,
            currency="USD",
            merchant_id=f"M-{number % 20}",
            merchant_name="A shop",
            mcc="5411",
            merchant_country="US",
            channel=Transaction.Channel.POS,
            transaction_time=AT - number * HOUR / rows,
            status=Transaction.Status.APPROVED,
            response_code="00",
            reason="approved",
        )
        for number in range(rows)
    )
    table = connection.ops.quote_name(Transaction._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}" if connection.vendor == "postgresql" else f"ANALYZE {table}")


def _plan(statement: str, params: dict) -> str:
    """The plan the decision runs the statement by: on PostgreSQL the generic plan of the
    prepared statement (cardsystem/sql.py `prepared_cursor`), its parameters numbered as
    psycopg numbers them (by first appearance); on SQLite the query plan."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", params)
            return "\n".join(row[-1] for row in cursor.fetchall())
        names = []

        def number(found) -> str:
            if found[1] not in names:
                names.append(found[1])
            return f"${names.index(found[1]) + 1}"

        numbered = re.sub(r"%\((\w+)\)s", number, statement).replace("%%", "%")
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE window_plan AS {numbered}")
        try:  # each statement its own transaction here: a failure leaves the rest to run
            cursor.execute(
                f"EXPLAIN EXECUTE window_plan({', '.join(['%s'] * len(names))})",
                [params[name] for name in names],
            )
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE window_plan")
            cursor.execute("RESET plan_cache_mode")


@pytest.mark.parametrize("tested", [False, True], ids=["decision", "tested-card window"])
def test_each_window_reads_its_declines_from_its_partial_index_by_key_and_time(tested):
    _busy_hour_of_approvals(20_000)
    statement, params = cross_card_statement(
        merchant_id="M-1",
        bin_prefix="400000",
        at=AT,
        fraud_window=90 * DAY,
        merchant_window=20 * MINUTE,
        bin_window=DAY,
        tested_window=6 * HOUR if tested else None,
    )

    plan = _plan(statement, params)

    for column, index in PARTIAL_INDEXES.items():
        if connection.vendor == "postgresql":
            read = re.search(rf"Index Only Scan Backward using {index} on .*\n\s+Index Cond: (.*)", plan)
            bounds = (rf"\(?{column}\)?(::text)? = \$", r"transaction_time >= \$", r"transaction_time < \$")
            assert read and all(re.search(bound, read[1]) for bound in bounds), plan
        else:
            seek = f"{column}=? AND transaction_time>? AND transaction_time<?"
            assert f"USING INDEX {index} ({seek})" in plan, plan
    # No declines read from an index of every transaction (the status then in its condition).
    assert not re.search(r"(Index Cond|Filter): .*'declined'", plan), plan
