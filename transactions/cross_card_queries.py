"""The written-out statement across cards, for the authorization path: a merchant's and
a BIN's activity in the windows (card testing spread over many cards) and a merchant's
reported fraud. Apart from transactions/queries.py (the card's own history, the
insert) for its size; the same rules hold: its ORM twin is in its docstring and
tests/query_twins.py, tests/test_queries.py and tests/transactions/
test_card_testing_windows.py compare them on SQLite and PostgreSQL.

A window across cards is whole minutes of `transaction_time`: the attempt's minute and
the ones before it, as many as the window is long. Its transactions are counted by
adding up the minutes of MinuteCount (at most one row per minute and slot, however busy
the merchant or BIN), not by reading them; its declines are read row by row (a partial
index holds them alone), only where the minutes count some (or are pruned), and the
failed card checks among them: every failed check is declined.
"""

import datetime
import functools
import re

from django.db import connection

from cardsystem import sql
from transactions.models import FraudReport, MinuteCount, Transaction
from transactions.queries import (
    CARD_HISTORY,
    HOUR,
    MINUTE,
    _columns,
    card_history_params,
    card_history_sql,
    card_history_values,
)

# Bounds on the rows read across cards, whatever the volume of a merchant or a BIN: a
# window reads at most this many of its latest declines (card testing is plain long
# before a thousand failed checks), and the share of fraud at a busy merchant is
# measured over its latest transactions.
WINDOW_CAP = 1000
MERCHANT_SAMPLE = 5000
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

# The names of the cross-card values, in the statement's order.
CROSS_CARD = (
    "merchant_count_1h",
    "merchant_cvv_mismatch_1h",
    "merchant_declines_1h",
    "merchant_testing_attempts",
    "merchant_testing_failures",
    "merchant_testing_declines",
    "merchant_failures_long",
    "merchant_attempts_long",
    "bin_count_1h",
    "bin_cvv_mismatch_1h",
    "bin_declines_1h",
    "bin_testing_attempts",
    "bin_testing_failures",
    "bin_testing_declines",
    "merchant_recent_count",
    "merchant_recent_fraud",
    "merchant_fraud_cards_90d",
)

# A failed card check: a wrong CVV or a wrong expiry date on a known card (each card
# counted once), or any attempt on a card number no card has.
_FAILED = "({t.cvv_result} = %(mismatch)s OR {t.expiry_result} = %(mismatch)s)"

# A window's counts: its transactions in the hour, the card testing window and the
# tested-card window, and its declines in its longest window, added up from the minutes'
# counts.
_COUNTS_SQL = """SELECT {n} AS n, {test_n} AS test_n, {long_n} AS long_n, SUM({c.declines}) AS declines
    FROM {counts} WHERE {c.scope} = '{scope}' AND {c.key} = %({name})s
    AND {c.minute} >= %({name}_first)s AND {c.minute} <= %(minute)s"""

# A window's values: its counts, and the latest `cap` of its declines since the first
# minute of the longest window, and the failed checks among them. The declines are read
# only where the counts have some, or where the window starts before the minutes still
# counted (`pruned`, read once for both windows): else the limit is nought, which both
# databases know before the read (an uncorrelated subquery, evaluated once), and the
# read is never executed, whichever index a plan would have read. The status is a
# literal, as the partial index's condition, so that PostgreSQL's generic plan of the
# prepared statement can use the index.
_WINDOW_SQL = """(SELECT c.n, d.cvv, d.declined, c.test_n, d.test_failures, d.test_declined,
        d.long_failures, c.long_n
    FROM {counted} c,
    (SELECT {cvv} AS cvv, {declined} AS declined, {test_failures} AS test_failures,
        {test_declined} AS test_declined, {long_failures} AS long_failures
    FROM (SELECT {t.transaction_time}, {t.cvv_result}, {t.expiry_result}, {t.card_id}
        FROM {transactions} WHERE {column} = %({name})s AND {t.status} = '{declined_status}'
        AND {t.transaction_time} >= %({name}_from)s AND {t.transaction_time} < %(until)s
        ORDER BY {t.transaction_time} DESC
        LIMIT (SELECT CASE WHEN c.declines > 0 OR %({name}_first)s < pruned.before THEN {cap} ELSE 0 END
            FROM {counted} c, pruned)) latest) d)"""


def _count_if(*conditions: str) -> str:
    conditions = tuple(c for c in conditions if c)
    if not conditions:
        return "COUNT(*)"
    return f"COUNT(*) FILTER (WHERE {' AND '.join(conditions)})"


def _failures_if(since: str, t) -> str:
    """Distinct cards with a failed check, plus attempts on no card. FILTER rather than
    a CASE inside COUNT(DISTINCT ...): only the failures reach the sort that DISTINCT
    needs, not every decline of the window."""
    failed = " AND ".join(c for c in (since, _FAILED.format(t=t)) if c)
    on_no_card = _count_if(since, f"{t.card_id} IS NULL")
    return f"(COUNT(DISTINCT {t.card_id}) FILTER (WHERE {failed}) + {on_no_card})"


# The distinct cards of the merchant's reports in the fraud window; only where it has
# reports, the merchant's latest transactions in the window (at most `sample`, read from the
# index alone) and the reports on transactions since the earliest of them. Where there
# are none, the share is nought whatever the count, and the sample is not read: the
# condition on `reported` depends on no row, so both databases test it once, before the
# scan (PostgreSQL's one-time filter), and a busy merchant without reported fraud costs
# no read of thousands of index entries. The reports are few, and read by their own
# (merchant_id, transaction_time) index.
_CROSS_CARD_SQL = """
WITH merchant_counts AS ({merchant_counts}), bin_counts AS ({bin_counts}), pruned AS (
    SELECT MAX({c.minute}) AS before FROM {counts} WHERE {c.scope} = '{pruned}' AND {c.key} = ''
), reported AS (
    SELECT COUNT(*) AS n, COUNT(DISTINCT {r.card_id}) AS cards FROM {reports} WHERE {r.merchant_id} = %(merchant_id)s
        AND {r.transaction_time} >= %(d90)s AND {r.transaction_time} < %(at)s AND {r.reported_at} < %(at)s
), sample AS (
    SELECT COUNT(*) AS n, MIN({t.transaction_time}) AS since
    FROM (SELECT {t.transaction_time} FROM {transactions} WHERE {t.merchant_id} = %(merchant_id)s
        AND {t.transaction_time} >= %(d90)s AND {t.transaction_time} < %(at)s
        ORDER BY {t.transaction_time} DESC
        LIMIT (SELECT CASE WHEN n > 0 THEN {sample} ELSE 0 END FROM reported)) latest
)
SELECT m.n, m.cvv, m.declined, m.test_n, m.test_failures, m.test_declined, m.long_failures, m.long_n,
    b.n, b.cvv, b.declined, b.test_n, b.test_failures, b.test_declined, sample.n,
    (SELECT COUNT(*) FROM {reports} WHERE {r.merchant_id} = %(merchant_id)s
        AND {r.transaction_time} >= sample.since AND {r.transaction_time} < %(at)s AND {r.reported_at} < %(at)s),
    reported.cards
FROM {merchant_window} m, {bin_window} b, sample, reported
"""  # noqa: E501


@functools.cache
def _cross_card_sql(vendor: str, cap: int, sample: int, tested: bool) -> str:
    """Cached per `vendor`, whose quoting it uses, per bound, and whether the merchant's
    tested-card window is read."""
    t, c, quote = _columns(Transaction), _columns(MinuteCount), connection.ops.quote_name
    transactions, counts_table = quote(Transaction._meta.db_table), quote(MinuteCount._meta.db_table)
    long = "tested" if tested else None

    def counts(name: str, scope: str, long: str | None) -> str:
        return _COUNTS_SQL.format(
            c=c,
            counts=counts_table,
            name=name,
            scope=scope,
            n=f"SUM({c.attempts}) FILTER (WHERE {c.minute} >= %(h1_first)s)",
            test_n=f"SUM({c.attempts}) FILTER (WHERE {c.minute} >= %({name}_test_first)s)",
            long_n=f"SUM({c.attempts}) FILTER (WHERE {c.minute} >= %({long}_first)s)" if long else "NULL",
        )

    def window(name: str, counted: str, long: str | None) -> str:
        hour, test = f"{t.transaction_time} >= %(h1_from)s", f"{t.transaction_time} >= %({name}_test_from)s"
        declined = f"{t.transaction_time} >= %({long}_from)s" if long else ""
        return _WINDOW_SQL.format(
            t=t,
            counted=counted,
            transactions=transactions,
            column=getattr(t, name),
            name=name,
            declined_status=Transaction.Status.DECLINED.value,
            cap=cap,
            cvv=_count_if(hour, f"{t.cvv_result} = %(mismatch)s"),
            declined=_count_if(hour),
            test_failures=_failures_if(test, t),
            test_declined=_count_if(test),
            long_failures=_failures_if(declined, t) if long else "NULL",
        )

    return _CROSS_CARD_SQL.format(
        t=t,
        c=c,
        counts=counts_table,
        pruned=MinuteCount.Scope.PRUNED,
        r=_columns(FraudReport),
        transactions=transactions,
        reports=quote(FraudReport._meta.db_table),
        merchant_counts=counts("merchant_id", MinuteCount.Scope.MERCHANT, long),
        bin_counts=counts("bin_prefix", MinuteCount.Scope.BIN, None),
        merchant_window=window("merchant_id", "merchant_counts", long),
        bin_window=window("bin_prefix", "bin_counts", None),
        sample=sample,
    )


def cross_card_row(**arguments) -> dict:
    """Across all cards, by the names of CROSS_CARD: at the merchant (and, apart, with the
    BIN prefix), in the window of the last hour how many transactions, of them how many
    with a CVV mismatch and how many declined; in the window of `merchant_window`
    (`bin_window`) how many, the failed card checks (distinct cards with a CVV or an
    expiry mismatch, plus the transactions without a card) and the declines; at the
    merchant, the failed card checks of the `tested_window` too, and its transactions
    there. A window of a span is the minutes of `transaction_time` from the one `span`
    before the end of `at`'s minute to `at`'s minute (`window_bounds`); its declines
    are the latest `cap` in its longest window. The distinct cards of the merchant's
    reports filed before `at` on transactions in [at - fraud_window, at); only if it has
    such reports (else both nought): of its latest `sample` transactions in that window,
    how many, and how many reports filed before `at` are on transactions there since the
    earliest of them.

    The ORM twin of a window, with `since, until = window_bounds(at, span)`:
    `Transaction.objects.filter(merchant_id=merchant_id, transaction_time__gte=since,
    transaction_time__lt=until).count()` for each count, and for the declines
    `Transaction.objects.filter(merchant_id=merchant_id, status="declined", transaction_time
    __gte=longest_since, transaction_time__lt=until).order_by("-transaction_time")[:cap]
    .aggregate(cvv=Count("pk", filter=Q(transaction_time__gte=hour_since, cvv_result=
    MISMATCH)), ..., failures=Count("card_id", distinct=True, filter=since & (Q(cvv_result=
    MISMATCH) | Q(expiry_result=MISMATCH))) + Count("pk", filter=since & Q(card_id=None)),
    ...)`; of the cards `FraudReport.objects.filter(..., transaction_time__gte=at -
    fraud_window).aggregate(Count("card_id", distinct=True))`; if any, of the sample
    `...[:sample].aggregate(n=Count("pk"), since=Min("transaction_time"))` and then
    `FraudReport.objects.filter(merchant_id=merchant_id, transaction_time__gte=since,
    transaction_time__lt=at, reported_at__lt=at).count()`. tests/query_twins.py writes
    it out.
    """
    statement, params = cross_card_statement(**arguments)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cross_card_values(cursor.fetchone(), tested_window=arguments.get("tested_window"))


def minute_of(at: datetime.datetime) -> int:
    """`at`'s minute as MinuteCount counts it: whole minutes since 1970-01-01 00:00 UTC."""
    return (at - EPOCH) // MINUTE


def window_bounds(
    at: datetime.datetime, span: datetime.timedelta
) -> tuple[datetime.datetime, datetime.datetime]:
    """The window of `span` (whole minutes; a part of one counts as one) at `at`: from
    the start of the minute `span` before the end of `at`'s minute, to the end of `at`'s
    minute (excluded)."""
    until = EPOCH + (minute_of(at) + 1) * MINUTE
    return until - -(-span // MINUTE) * MINUTE, until


def cross_card_statement(
    *,
    merchant_id: str,
    bin_prefix: str,
    at: datetime.datetime,
    fraud_window: datetime.timedelta,
    merchant_window: datetime.timedelta = HOUR,
    bin_window: datetime.timedelta = HOUR,
    tested_window: datetime.timedelta | None = None,
    cap: int = WINDOW_CAP,
    sample: int = MERCHANT_SAMPLE,
) -> tuple[str, dict]:
    """cross_card_row's statement and its parameters, from cross_card_row's arguments
    (named here, with their types and defaults)."""
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "merchant_id": merchant_id,
        "bin_prefix": bin_prefix,
        "mismatch": Transaction.CvvResult.MISMATCH.value,  # ExpiryResult spells it alike
        "at": adapt(at),
        "d90": adapt(at - fraud_window),
        "minute": minute_of(at),
        "until": adapt(window_bounds(at, HOUR)[1]),
    }
    windows = {
        "h1": HOUR,
        "merchant_id_test": merchant_window,
        "bin_prefix_test": bin_window,
        "merchant_id": max(HOUR, merchant_window, tested_window or HOUR),
        "bin_prefix": max(HOUR, bin_window),
        "tested": tested_window or HOUR,
    }
    for name, span in windows.items():
        since, _ = window_bounds(at, span)
        params[f"{name}_first"], params[f"{name}_from"] = minute_of(since), adapt(since)
    return _cross_card_sql(connection.vendor, cap, sample, tested_window is not None), params


def cross_card_values(row, *, tested_window: datetime.timedelta | None) -> dict:
    """cross_card_row's values from its statement's row."""
    # PostgreSQL sums integers as numerics.
    values = dict(zip(CROSS_CARD, (int(n or 0) for n in row), strict=True))
    if tested_window is None:
        values["merchant_failures_long"] = values["merchant_attempts_long"] = None
    return values


# --- Both reads in one statement --------------------------------------------------------------


def card_and_cross_card_rows(
    *, history: dict, cross: dict, also: tuple[str, ...] = ()
) -> tuple[dict, dict, tuple]:
    """`card_history_row(**history)` and `cross_card_row(**cross)` in one statement (their
    two subqueries side by side, one row each): one round trip where there were two, the
    same values (tests/test_queries.py). `also`: scalar subqueries without parameters
    that a caller reads in the same round trip (the fraud engine: which configuration
    version is live), their values returned third, in order."""
    history_params = card_history_params(**history)
    statement, cross_params = cross_card_statement(**cross)
    params = history_params | {f"x_{name}": value for name, value in cross_params.items()}
    with sql.prepared_cursor() as cursor:
        cursor.execute(_both_sql(card_history_sql(connection.vendor), statement, also), params)
        row = cursor.fetchone()
    split, extra = len(CARD_HISTORY), len(row) - len(also)
    tested_window = cross.get("tested_window")
    return (
        card_history_values(row[:split]),
        cross_card_values(row[split:extra], tested_window=tested_window),
        tuple(row[extra:]),
    )


@functools.cache
def _both_sql(history: str, cross: str, also: tuple[str, ...]) -> str:
    """The cross-card statement's parameters renamed x_<name>, apart from the history's."""
    cross = re.sub(r"%\((\w+)\)s", r"%(x_\1)s", cross)
    extra = "".join(f", {subquery}" for subquery in also)
    return f"SELECT h.*, x.*{extra} FROM ({history}) h CROSS JOIN ({cross}) x"  # noqa: S608
