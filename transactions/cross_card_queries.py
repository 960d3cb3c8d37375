"""The written-out statement across cards, for the authorization path: a merchant's and
a BIN's latest transactions (card testing spread over many cards) and a merchant's
reported fraud. Apart from transactions/queries.py (the card's own history, the
insert) for its size; the same rules hold: its ORM twin is in its docstring and
tests/query_twins.py, tests/test_queries.py and tests/transactions/
test_card_testing_windows.py compare them on SQLite and PostgreSQL.
"""

import datetime
import functools
import re

from django.db import connection

from cardsystem import sql
from transactions.models import FraudReport, Transaction
from transactions.queries import (
    CARD_HISTORY,
    HOUR,
    _columns,
    card_history_params,
    card_history_sql,
    card_history_values,
)

# Bounds on the work across cards, whatever the volume of a merchant or a BIN: a
# window reads at most this many of the latest index entries. Card testing is plain
# long before a thousand attempts an hour, and the share of fraud at a busy merchant
# is measured over its latest transactions.
WINDOW_CAP = 1000
MERCHANT_SAMPLE = 5000

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

# The latest `cap` transactions of the longest window, the hour's values and the card
# testing windows' values from them: the hour's rows are the latest, so they are the
# same rows the hour alone would read. A window as long as the one read needs no
# condition on the time (the usual case, the hour): on SQLite a comparison of times
# per row and value costs more than reading the rows.
_WINDOW_SQL = """(SELECT {n} AS n, {cvv} AS cvv, {declined} AS declined,
        {test_n} AS test_n, {test_failures} AS test_failures, {test_declined} AS test_declined,
        {long_failures} AS long_failures, {long_n} AS long_n
    FROM (SELECT {t.transaction_time}, {t.status}, {t.cvv_result}, {t.expiry_result}, {t.card_id}
        FROM {transactions} WHERE {column} = %({name})s
        AND {t.transaction_time} >= %({name}_span)s AND {t.transaction_time} <= %(at)s
        ORDER BY {t.transaction_time} DESC LIMIT {cap}) latest)"""


def _count_if(*conditions: str) -> str:
    conditions = tuple(c for c in conditions if c)
    if not conditions:
        return "COUNT(*)"
    return f"COUNT(*) FILTER (WHERE {' AND '.join(conditions)})"


def _failures_if(since: str, t) -> str:
    """Distinct cards with a failed check, plus attempts on no card. FILTER rather than
    a CASE inside COUNT(DISTINCT ...): only the failures reach the sort that DISTINCT
    needs, not every row of the window (a BIN's window is a thousand rows)."""
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
WITH reported AS (
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
def _cross_card_sql(
    vendor: str, cap: int, sample: int, spans: tuple[tuple[bool, bool, bool | None], ...]
) -> str:
    """Cached per `vendor`, whose quoting it uses, per bound, and per shape of the
    windows: for the merchant and the BIN, whether the hour, the card-testing window
    and the tested-card window (None: not read) are the whole span read."""
    t, quote = _columns(Transaction), connection.ops.quote_name
    transactions = quote(Transaction._meta.db_table)

    def since(param: str, whole: bool) -> str:
        return "" if whole else f"{t.transaction_time} >= %({param})s"

    def window(name: str, hour_whole: bool, test_whole: bool, long_whole: bool | None) -> str:
        hour, test = since("h1", hour_whole), since(f"{name}_since", test_whole)
        return _WINDOW_SQL.format(
            t=t,
            transactions=transactions,
            column=getattr(t, name),
            name=name,
            cap=cap,
            n=_count_if(hour),
            cvv=_count_if(hour, f"{t.cvv_result} = %(mismatch)s"),
            declined=_count_if(hour, f"{t.status} = %(no)s"),
            test_n=_count_if(test),
            test_failures=_failures_if(test, t),
            test_declined=_count_if(test, f"{t.status} = %(no)s"),
            long_failures="NULL"
            if long_whole is None
            else _failures_if(since("tested_since", long_whole), t),
            long_n="NULL" if long_whole is None else _count_if(since("tested_since", long_whole)),
        )

    merchant, bin = spans
    return _CROSS_CARD_SQL.format(
        t=t,
        r=_columns(FraudReport),
        transactions=transactions,
        reports=quote(FraudReport._meta.db_table),
        merchant_window=window("merchant_id", *merchant),
        bin_window=window("bin_prefix", *bin),
        sample=sample,
    )


def cross_card_row(**arguments) -> dict:
    """Across all cards, by the names of CROSS_CARD: of the latest `cap` transactions at
    the merchant (and, apart, with the BIN prefix) with a `transaction_time` in
    [at - the longest of its windows, at]: in the last hour how many, with a CVV
    mismatch, declined; in the last `merchant_window` (`bin_window`) how many, the
    failed card checks (distinct cards with a CVV or an expiry mismatch, plus the
    transactions without a card) and the declines; at the merchant, the failed card
    checks of the last `tested_window` too, and its transactions there. The distinct
    cards of the merchant's reports filed before `at` on transactions in [at -
    fraud_window, at); only if it has such reports (else both nought): of its latest
    `sample` transactions in that window, how many, and how many reports filed before
    `at` are on transactions there since the earliest of them.

    The ORM twin of a window is `Transaction.objects.filter(merchant_id=merchant_id,
    transaction_time__gte=at - span, transaction_time__lte=at).order_by(
    "-transaction_time")[:cap].aggregate(n=Count("pk", filter=Q(transaction_time__gte=
    at - HOUR)), ..., failures=Count("card_id", distinct=True, filter=since &
    (Q(cvv_result=MISMATCH) | Q(expiry_result=MISMATCH))) + Count("pk", filter=since &
    Q(card_id=None)), ...)`; of the cards `FraudReport.objects.filter(..., transaction_time
    __gte=at - fraud_window).aggregate(Count("card_id", distinct=True))`; if any, of the
    sample `...[:sample].aggregate(n=Count("pk"), since=Min("transaction_time"))` and then
    `FraudReport.objects.filter(merchant_id=merchant_id, transaction_time__gte=since,
    transaction_time__lt=at, reported_at__lt=at).count()`. tests/query_twins.py writes
    it out.
    """
    statement, params = cross_card_statement(**arguments)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cross_card_values(cursor.fetchone(), tested_window=arguments.get("tested_window"))


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
    merchant_span = max(HOUR, merchant_window, tested_window or HOUR)
    bin_span = max(HOUR, bin_window)
    params = {
        "merchant_id": merchant_id,
        "bin_prefix": bin_prefix,
        "mismatch": Transaction.CvvResult.MISMATCH.value,  # ExpiryResult spells it alike
        "no": Transaction.Status.DECLINED.value,
        "at": adapt(at),
        "h1": adapt(at - HOUR),
        "d90": adapt(at - fraud_window),
        "merchant_id_since": adapt(at - merchant_window),
        "merchant_id_span": adapt(at - merchant_span),
        "tested_since": adapt(at - (tested_window or HOUR)),
        "bin_prefix_since": adapt(at - bin_window),
        "bin_prefix_span": adapt(at - bin_span),
    }
    spans = (
        (
            merchant_span == HOUR,
            merchant_window == merchant_span,
            None if tested_window is None else tested_window == merchant_span,
        ),
        (bin_span == HOUR, bin_window == bin_span, None),
    )
    return _cross_card_sql(connection.vendor, cap, sample, spans), params


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
