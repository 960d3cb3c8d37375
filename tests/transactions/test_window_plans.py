"""How the statement across cards (transactions/cross_card_queries.py) reads a window's
declines: from a partial index of declines, never from an index of every transaction,
even when the table's statistics hold no declines. Read off each database's own plan:
on SQLite by the window's key and range of time; on PostgreSQL by the row comparison
(key, time) that only an index starting with both can serve."""

import re

import pytest
from django.db import connection

from tests.factories import CardFactory
from tests.query_twins import AT, DAY, HOUR, MINUTE
from transactions.cross_card_queries import cross_card_statement
from transactions.models import Transaction

pytestmark = pytest.mark.django_db

PARTIAL_INDEXES = {"merchant_id": "transaction_merchant_declined", "bin_prefix": "transaction_bin_declined"}


def _busy_hour_of_approvals(rows: int) -> None:
    """`rows` approvals over the hour before AT, at 20 merchants and one BIN, and no
    declines, analysed: what the bench's traffic leaves (bench/authorizations.py). With no
    declines in its statistics, every partial index of declines looks empty to
    PostgreSQL's planner, and so does any index with the status in its key: in bench runs
    the generic plan read a window's declines from the dashboard's (transaction_time,
    status, ...) index, every entry of the window, declined or not."""
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
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Transaction._meta.db_table)}")


def _plan(statement: str, params: dict) -> str:
    """The plan the decision runs the statement by: on PostgreSQL the generic plan of the
    prepared statement (cardsystem/sql.py `prepared_cursor`), its parameters numbered as
    psycopg numbers them; on SQLite the query plan."""
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
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE window_plan AS {numbered}")
        try:
            cursor.execute(
                f"EXPLAIN EXECUTE window_plan({', '.join(['%s'] * len(names))})",
                [params[name] for name in names],
            )
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE window_plan")


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

    if connection.vendor == "postgresql":
        # A window's read of its declines is the one that compares rows (column, time).
        scan = r"using (\w+) on transactions_transaction.*\n\s+(?:Index Cond|Filter): (.*ROW.*)"
        reads = re.findall(scan, plan)
        read_columns = {column for column in PARTIAL_INDEXES if any(f"ROW(({column})" in c for _, c in reads)}
        assert read_columns == set(PARTIAL_INDEXES), plan
        assert {index for index, _ in reads} <= set(PARTIAL_INDEXES.values()), plan
    else:
        for column, index in PARTIAL_INDEXES.items():
            seek = f"{column}=? AND transaction_time>? AND transaction_time<?"
            assert f"USING INDEX {index} ({seek})" in plan, plan
    assert "transaction_transac_e4033e_idx" not in plan, plan  # the dashboard's index
