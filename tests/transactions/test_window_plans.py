"""How the statement across cards (transactions/cross_card_queries.py) reads a window's
declines: only where the window's minutes count some, and then from the window's own
partial index of declines, by its key and both ends of its range of time, never from an
index of every transaction, even while the table's statistics hold no declines. Read off
each database's own plan, and off the values."""

import re

import pytest
from django.db import connection

from tests.factories import CardFactory
from tests.plans import generic_plan
from tests.query_twins import AT, DAY, DECLINED, HOUR, MINUTE, record
from transactions.cross_card_queries import cross_card_row, cross_card_statement, minute_of
from transactions.models import MinuteCount, Transaction

# VACUUM, which sets the visibility map the planner reckons with, runs outside a transaction.
pytestmark = pytest.mark.django_db(transaction=True)

PARTIAL_INDEXES = {"merchant_id": "transaction_merchant_declined", "bin_prefix": "transaction_bin_declined"}


def _busy_hour(rows: int, *, declined_every: int | None = None) -> None:
    """`rows` transactions over the hour before AT, at 20 merchants and one BIN, one in
    `declined_every` declined (none if None), vacuumed and analysed. With no declines:
    what the bench's traffic leaves before each of its rounds (bench/authorizations.py).
    Then every index with the status in its key looks to PostgreSQL's planner as if it
    held no row of the read: in bench runs the generic plan read a window's declines
    from the dashboard's (transaction_time, status, ...) index, every entry of the
    window, declined or not, and in this test from another window's partial index."""
    card = CardFactory()

    def declined(number: int) -> bool:
        return declined_every is not None and number % declined_every == 0

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
            status=DECLINED if declined(number) else Transaction.Status.APPROVED,
            response_code="05" if declined(number) else "00",
            reason="declined" if declined(number) else "approved",
        )
        for number in range(rows)
    )
    table = connection.ops.quote_name(Transaction._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}" if connection.vendor == "postgresql" else f"ANALYZE {table}")


def _statement(*, tested: bool) -> tuple[str, dict]:
    return cross_card_statement(
        merchant_id="M-1",
        bin_prefix="400000",
        at=AT,
        fraud_window=90 * DAY,
        merchant_window=20 * MINUTE,
        bin_window=DAY,
        tested_window=6 * HOUR if tested else None,
    )


def _reads_of_transactions(plan: str) -> list[str]:
    return re.findall(r".*Scan.* on transactions_transaction.*", plan)


TESTED = pytest.mark.parametrize("tested", [False, True], ids=["decision", "tested-card window"])


@TESTED
def test_each_window_reads_its_declines_from_its_partial_index_by_key_and_time(tested):
    _busy_hour(20_000, declined_every=50)

    plan = generic_plan(*_statement(tested=tested))

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


@TESTED
def test_with_no_declines_no_window_reads_any_whatever_itsgeneric_plan(tested):
    _busy_hour(20_000)

    plan = generic_plan(*_statement(tested=tested), run=True)

    if connection.vendor == "postgresql":
        reads = _reads_of_transactions(plan)
        assert len(reads) == 3 and all("never executed" in read for read in reads), (
            plan
        )  # 2 windows, 1 sample
    else:  # SQLite's plan does not tell what was executed
        assert all(f"USING INDEX {index} (" in plan for index in PARTIAL_INDEXES.values()), plan


WINDOWS = {"merchant_id": "M-1", "bin_prefix": "400000", "at": AT, "fraud_window": 90 * DAY}


def test_a_window_reads_its_declines_only_where_its_minutes_count_some():
    card = CardFactory()
    record(card, at=AT - 10 * MINUTE)
    record(card, at=AT - 5 * MINUTE, status=DECLINED, cvv_result=Transaction.CvvResult.MISMATCH)
    statement, params = cross_card_statement(**WINDOWS)

    counted = cross_card_row(**WINDOWS)
    read = generic_plan(statement, params, run=True)
    # A decline its minute does not count is not read: the counts decide. (Every decline
    # is counted as it is stored: tests/transactions/test_minute_counts.py.)
    MinuteCount.objects.filter(minute=minute_of(AT - 5 * MINUTE)).update(declines=0)
    uncounted = cross_card_row(**WINDOWS)
    skipped = generic_plan(statement, params, run=True)
    # Where the window starts before the minutes still counted, they are read whatever
    # the counts say.
    MinuteCount.objects.create(scope=MinuteCount.Scope.PRUNED, key="", minute=minute_of(AT - 30 * MINUTE))
    pruned = cross_card_row(**WINDOWS)

    assert (
        counted["merchant_count_1h"],
        counted["merchant_declines_1h"],
        counted["merchant_cvv_mismatch_1h"],
    ) == (
        2,
        1,
        1,
    )
    assert (counted["bin_count_1h"], counted["bin_declines_1h"]) == (2, 1)
    assert uncounted == counted | dict.fromkeys(
        [f"{scope}_{value}" for scope in ("merchant", "bin") for value in ("declines_1h", "cvv_mismatch_1h")]
        + [f"{scope}_testing_{value}" for scope in ("merchant", "bin") for value in ("declines", "failures")],
        0,
    )
    assert pruned == counted
    if connection.vendor == "postgresql":  # whichever index the plan names, it is not read
        assert [line for line in _reads_of_transactions(read) if "never executed" not in line], read
        assert all("never executed" in line for line in _reads_of_transactions(skipped)), skipped
