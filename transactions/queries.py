"""Written-out statements over the transactions app's tables, for the authorization path.

Each one gives what its ORM twin (named in its docstring) gives: the decision runs
them on every request, where building the ORM's statement costs more Python than the
database takes to run it. The feature windows read only a bounded window of an index
each, never a card's whole history nor a busy merchant's. tests/test_queries.py runs
each statement beside its twin on SQLite and on PostgreSQL and compares the values.
What the values mean (the fraud features) is fraud/features.py's.
"""

import datetime
import functools
import uuid
from types import SimpleNamespace

from django.db import connection

from cardsystem import sql
from transactions.codes import Decision
from transactions.models import FraudReport, Transaction

MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
HISTORY = datetime.timedelta(days=30)

# Where the card itself was: the channels whose merchant country says where the card is.
CARD_PRESENT = (Transaction.Channel.POS, Transaction.Channel.ATM)

# Bounds on the work across cards, whatever the volume of a merchant or a BIN: a
# window reads at most this many of the latest index entries. Card testing is plain
# long before a thousand attempts an hour, and the share of fraud at a busy merchant
# is measured over its latest transactions.
WINDOW_CAP = 1000
MERCHANT_SAMPLE = 5000


def transaction_insert(**values) -> Transaction:
    """`Transaction.objects.create(**values)` as one written-out INSERT: the same row is
    stored (see cardsystem/sql.py `insert`)."""
    return sql.insert(Transaction, **values)


def _columns(model) -> SimpleNamespace:
    """The model's column names by attname, from `_meta`. Bare, as the statements spell
    them: each must be a plain lower-case identifier, which needs no quoting."""
    columns = {f.attname: f.column for f in model._meta.concrete_fields}
    for column in columns.values():
        if not (column.isidentifier() and column.islower()):
            raise TypeError(f"{model.__name__}.{column}: a column the statements would have to quote.")
    return SimpleNamespace(**columns)


# --- The card's history --------------------------------------------------------------------

# The names of the card history's values, in the statement's order.
CARD_HISTORY = (
    "count_1m",
    "count_10m",
    "count_1h",
    "count_24h",
    "count_7d",
    "count_30d",
    "approved_amount_10m",
    "approved_amount_1h",
    "approved_amount_24h",
    "approved_amount_7d",
    "approved_amount_30d",
    "approved_count_30d",
    "approved_square_sum_30d",
    "approved_at_night_30d",
    "declines_24h",
    "declines_cvv_24h",
    "declines_funds_24h",
    "declines_limit_24h",
    "failures_at_merchant",
    "seen_merchant",
    "seen_country",
    "seen_mcc",
    "seen_channel",
    "previous_time",
    "previous_present_time",
    "previous_present_country",
)

# The minute of the day (0-1439, UTC) of a transaction's time, the one part SQL does
# not spell alike.
_UTC_MINUTE = {
    "sqlite": "(CAST(strftime('%%H', {t.transaction_time}) AS INTEGER) * 60"
    " + CAST(strftime('%%M', {t.transaction_time}) AS INTEGER))",
    "postgresql": "CAST(EXTRACT(HOUR FROM {t.transaction_time} AT TIME ZONE 'UTC') * 60"
    " + EXTRACT(MINUTE FROM {t.transaction_time} AT TIME ZONE 'UTC') AS INTEGER)",
}

_CARD_HISTORY_SQL = """
SELECT
    COALESCE(SUM(CASE WHEN {t.transaction_time} >= %(m1)s THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.transaction_time} >= %(m10)s THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.transaction_time} >= %(h1)s THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.transaction_time} >= %(d1)s THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.transaction_time} >= %(d7)s THEN 1 ELSE 0 END), 0),
    COUNT(*),
    COALESCE(SUM(CASE WHEN {t.status} = %(ok)s AND {t.transaction_time} >= %(m10)s THEN {t.amount_minor} ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.status} = %(ok)s AND {t.transaction_time} >= %(h1)s THEN {t.amount_minor} ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.status} = %(ok)s AND {t.transaction_time} >= %(d1)s THEN {t.amount_minor} ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.status} = %(ok)s AND {t.transaction_time} >= %(d7)s THEN {t.amount_minor} ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.status} = %(ok)s THEN {t.amount_minor} ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.status} = %(ok)s THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.status} = %(ok)s
        THEN CAST({t.amount_minor} AS DOUBLE PRECISION) * {t.amount_minor} ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.status} = %(ok)s AND ({minute} + %(offset)s) %% 1440 < %(night)s
        THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.status} = %(no)s AND {t.transaction_time} >= %(d1)s THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.response_code} = %(cvv)s AND {t.transaction_time} >= %(d1)s THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.response_code} = %(funds)s AND {t.transaction_time} >= %(d1)s THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.response_code} = %(limit)s AND {t.transaction_time} >= %(d1)s THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN {t.merchant_id} = %(merchant_id)s AND {t.transaction_time} >= %(tested)s
        AND ({t.cvv_result} = %(mismatch)s OR {t.expiry_result} = %(mismatch)s) THEN 1 ELSE 0 END), 0),
    {seen},
    (SELECT MAX({t.transaction_time}) FROM {table}
        WHERE {t.card_id} = %(card)s AND {t.transaction_time} <= %(at)s),
    (SELECT MAX({t.transaction_time}) FROM {table}
        WHERE {t.card_id} = %(card)s AND {t.channel} IN (%(pos)s, %(atm)s)
        AND {t.transaction_time} <= %(at)s AND {t.transaction_time} >= %(d30)s),
    (SELECT {t.merchant_country} FROM {table}
        WHERE {t.card_id} = %(card)s AND {t.channel} IN (%(pos)s, %(atm)s)
        AND {t.transaction_time} <= %(at)s AND {t.transaction_time} >= %(d30)s
        ORDER BY {t.transaction_time} DESC, {t.created_at} DESC LIMIT 1)
FROM {table}
WHERE {t.card_id} = %(card)s AND {t.transaction_time} <= %(at)s AND {t.transaction_time} >= %(d30)s
"""  # noqa: E501

# "Has the card been used here before": an index seek each, on (card, column, time),
# over the card's whole past but reading one row. Declines are not uses.
_SEEN_SQL = """EXISTS (SELECT 1 FROM {table} WHERE {t.card_id} = %(card)s AND {column} = %({name})s
        AND {t.transaction_time} <= %(at)s AND {t.status} <> %(no)s)"""
SEEN_COLUMNS = ("merchant_id", "merchant_country", "mcc", "channel")


@functools.cache
def _card_history_sql(vendor: str) -> str:
    """Cached per `vendor`, whose quoting and minute of the day it uses."""
    t = _columns(Transaction)
    table = connection.ops.quote_name(Transaction._meta.db_table)
    return _CARD_HISTORY_SQL.format(
        t=t,
        table=table,
        minute=_UTC_MINUTE[vendor].format(t=t),
        seen=",\n    ".join(
            _SEEN_SQL.format(t=t, table=table, column=getattr(t, name), name=name) for name in SEEN_COLUMNS
        ),
    )


def card_history_row(
    *,
    card_id: uuid.UUID,
    at: datetime.datetime,
    merchant_id: str,
    merchant_country: str,
    mcc: str,
    channel: str,
    utc_offset_minutes: int,
    night_ends_minute: int,
    tested_window: datetime.timedelta = HOUR,
) -> dict:
    """The card's transactions with a `transaction_time` in [at - 30 days, at], by the
    names of CARD_HISTORY: counts in the windows ending at `at` and starting 1 minute,
    10 minutes, 1 hour, 24 hours, 7 days back (inclusive at both ends) and in all 30
    days; the sums of the approvals' amounts (and their squares, and their count) in
    those windows; the approvals whose UTC time plus `utc_offset_minutes` falls before
    `night_ends_minute` of the day; the last 24 hours' declines, by response code; the
    CVV or expiry mismatches at `merchant_id` in the last `tested_window` (at most the
    30 days); each of `merchant_id`, `merchant_country`, `mcc` and `channel` seen before
    on a transaction not declined, at or before `at`, however long ago; the latest time
    up to `at`, and the latest card-present time and country in the 30 days.

    The ORM twin is `Transaction.objects.filter(card_id=card_id, transaction_time__gte=
    at - HISTORY, transaction_time__lte=at).aggregate(count_1m=Count("pk",
    filter=Q(transaction_time__gte=at - MINUTE)), ..., approved_amount_10m=Sum(
    "amount_minor", filter=Q(status=APPROVED, transaction_time__gte=at - 10 * MINUTE)),
    ..., failures_at_merchant=Count("pk", filter=Q(merchant_id=merchant_id,
    transaction_time__gte=at - tested_window) & (Q(cvv_result=MISMATCH) |
    Q(expiry_result=MISMATCH))))` with `.exclude(status=DECLINED).filter(merchant_id=
    merchant_id).exists()` and the like for the first uses and `Max("transaction_time")`
    / `.order_by("-transaction_time", "-created_at").values_list("merchant_country")[:1]`
    for the latest; tests/query_twins.py writes it out whole. Sums are 0, not None, over no
    rows; the square sum is a float.
    """
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "card": Transaction._meta.get_field("card").get_db_prep_value(card_id, connection),
        "ok": Transaction.Status.APPROVED.value,
        "no": Transaction.Status.DECLINED.value,
        "cvv": Decision.CVV_MISMATCH.code,
        "funds": Decision.INSUFFICIENT_FUNDS.code,
        "limit": Decision.EXCEEDS_LIMIT.code,
        "mismatch": Transaction.CvvResult.MISMATCH.value,  # ExpiryResult spells it alike
        "pos": CARD_PRESENT[0].value,
        "atm": CARD_PRESENT[1].value,
        # + 1440 keeps the minute positive before the modulo (SQLite's % keeps the sign).
        "offset": utc_offset_minutes + 1440,
        "night": night_ends_minute,
        "merchant_id": merchant_id,
        "merchant_country": merchant_country,
        "mcc": mcc,
        "channel": channel,
        "at": adapt(at),
        "m1": adapt(at - MINUTE),
        "m10": adapt(at - 10 * MINUTE),
        "h1": adapt(at - HOUR),
        "d1": adapt(at - DAY),
        "d7": adapt(at - 7 * DAY),
        "d30": adapt(at - HISTORY),
        "tested": adapt(at - min(tested_window, HISTORY)),
    }
    with connection.cursor() as cursor:
        cursor.execute(_card_history_sql(connection.vendor), params)
        row = cursor.fetchone()
    numbers, seen, (previous, present, present_country) = row[:19], row[19:23], row[23:]
    # PostgreSQL sums integers as numerics and SQLite gives its booleans as 0 and 1.
    values = (
        *(int(n) for n in numbers[:12]),
        float(numbers[12]),
        *(int(n) for n in numbers[13:]),
        *(bool(s) for s in seen),
        _aware(previous),
        _aware(present),
        present_country,
    )
    return dict(zip(CARD_HISTORY, values, strict=True))


def _aware(value) -> datetime.datetime | None:
    """A timestamp from raw SQL: PostgreSQL gives it aware; SQLite gives the text Django
    stored (UTC), which a subquery's result carries no declared type to convert."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(value).replace(tzinfo=datetime.UTC)


# --- Across cards ----------------------------------------------------------------------------

# The names of the cross-card values, in the statement's order.
CROSS_CARD = (
    "merchant_count_1h",
    "merchant_cvv_mismatch_1h",
    "merchant_declines_1h",
    "merchant_testing_attempts",
    "merchant_testing_failures",
    "merchant_testing_declines",
    "merchant_failures_long",
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
_FAILURES_SQL = """(COUNT(DISTINCT CASE WHEN {t.transaction_time} >= %({since})s
            AND ({t.cvv_result} = %(mismatch)s OR {t.expiry_result} = %(mismatch)s) THEN {t.card_id} END)
        + COALESCE(SUM(CASE WHEN {t.transaction_time} >= %({since})s AND {t.card_id} IS NULL
            THEN 1 ELSE 0 END), 0))"""

# The latest `cap` transactions of the longest window, the hour's values and the card
# testing windows' values from them: the hour's rows are the latest, so they are the
# same rows the hour alone would read.
_WINDOW_SQL = """(SELECT
        COALESCE(SUM(CASE WHEN {t.transaction_time} >= %(h1)s THEN 1 ELSE 0 END), 0) AS n,
        COALESCE(SUM(CASE WHEN {t.transaction_time} >= %(h1)s AND {t.cvv_result} = %(mismatch)s
            THEN 1 ELSE 0 END), 0) AS cvv,
        COALESCE(SUM(CASE WHEN {t.transaction_time} >= %(h1)s AND {t.status} = %(no)s THEN 1 ELSE 0 END), 0)
            AS declined,
        COALESCE(SUM(CASE WHEN {t.transaction_time} >= %({name}_since)s THEN 1 ELSE 0 END), 0) AS test_n,
        {failures} AS test_failures,
        COALESCE(SUM(CASE WHEN {t.transaction_time} >= %({name}_since)s AND {t.status} = %(no)s
            THEN 1 ELSE 0 END), 0) AS test_declined,
        {long_failures} AS long_failures
    FROM (SELECT {t.transaction_time}, {t.status}, {t.cvv_result}, {t.expiry_result}, {t.card_id}
        FROM {transactions} WHERE {column} = %({name})s
        AND {t.transaction_time} >= %({name}_span)s AND {t.transaction_time} <= %(at)s
        ORDER BY {t.transaction_time} DESC LIMIT {cap}) latest)"""

# The merchant's latest transactions in the window (at most `sample`, read from the
# index alone) and the reports on transactions since the earliest of them; the reports
# are few, and read by their own (merchant_id, transaction_time) index.
_CROSS_CARD_SQL = """
WITH sample AS (
    SELECT COUNT(*) AS n, MIN({t.transaction_time}) AS since
    FROM (SELECT {t.transaction_time} FROM {transactions} WHERE {t.merchant_id} = %(merchant_id)s
        AND {t.transaction_time} >= %(d90)s AND {t.transaction_time} < %(at)s
        ORDER BY {t.transaction_time} DESC LIMIT {sample}) latest
)
SELECT m.n, m.cvv, m.declined, m.test_n, m.test_failures, m.test_declined, m.long_failures,
    b.n, b.cvv, b.declined, b.test_n, b.test_failures, b.test_declined, sample.n,
    (SELECT COUNT(*) FROM {reports} WHERE {r.merchant_id} = %(merchant_id)s
        AND {r.transaction_time} >= sample.since AND {r.transaction_time} < %(at)s AND {r.reported_at} < %(at)s),
    (SELECT COUNT(DISTINCT {r.card_id}) FROM {reports} WHERE {r.merchant_id} = %(merchant_id)s
        AND {r.transaction_time} >= %(d90)s AND {r.transaction_time} < %(at)s AND {r.reported_at} < %(at)s)
FROM {merchant_window} m, {bin_window} b, sample
"""  # noqa: E501


@functools.cache
def _cross_card_sql(vendor: str, cap: int, sample: int) -> str:
    """Cached per `vendor`, whose quoting it uses, and per bound."""
    t, quote = _columns(Transaction), connection.ops.quote_name
    transactions = quote(Transaction._meta.db_table)

    def failures(since: str) -> str:
        return _FAILURES_SQL.format(t=t, since=since)

    def window(name: str, long_failures: str) -> str:
        return _WINDOW_SQL.format(
            t=t,
            transactions=transactions,
            column=getattr(t, name),
            name=name,
            cap=cap,
            failures=failures(f"{name}_since"),
            long_failures=long_failures,
        )

    return _CROSS_CARD_SQL.format(
        t=t,
        r=_columns(FraudReport),
        transactions=transactions,
        reports=quote(FraudReport._meta.db_table),
        merchant_window=window("merchant_id", failures("tested_since")),
        bin_window=window("bin_prefix", "0"),
        sample=sample,
    )


def cross_card_row(
    *,
    merchant_id: str,
    bin_prefix: str,
    at: datetime.datetime,
    fraud_window: datetime.timedelta,
    merchant_window: datetime.timedelta = HOUR,
    bin_window: datetime.timedelta = HOUR,
    tested_window: datetime.timedelta = HOUR,
    cap: int = WINDOW_CAP,
    sample: int = MERCHANT_SAMPLE,
) -> dict:
    """Across all cards, by the names of CROSS_CARD: of the latest `cap` transactions at
    the merchant (and, apart, with the BIN prefix) with a `transaction_time` in
    [at - the longest of its windows, at]: in the last hour how many, with a CVV
    mismatch, declined; in the last `merchant_window` (`bin_window`) how many, the
    failed card checks (distinct cards with a CVV or an expiry mismatch, plus the
    transactions without a card) and the declines; at the merchant, the failed card
    checks of the last `tested_window` too. Of the merchant's latest `sample`
    transactions in [at - fraud_window, at), how many, and how many fraud reports filed
    before `at` are on transactions there since the earliest of them; the distinct
    cards of the merchant's reports filed before `at` on transactions in
    [at - fraud_window, at).

    The ORM twin of a window is `Transaction.objects.filter(merchant_id=merchant_id,
    transaction_time__gte=at - span, transaction_time__lte=at).order_by(
    "-transaction_time")[:cap].aggregate(n=Count("pk", filter=Q(transaction_time__gte=
    at - HOUR)), ..., failures=Count("card_id", distinct=True, filter=since &
    (Q(cvv_result=MISMATCH) | Q(expiry_result=MISMATCH))) + Count("pk", filter=since &
    Q(card_id=None)), ...)`; of the sample `...[:sample].aggregate(n=Count("pk"),
    since=Min("transaction_time"))` and then `FraudReport.objects.filter(merchant_id=
    merchant_id, transaction_time__gte=since, transaction_time__lt=at, reported_at__lt=
    at).count()`; of the cards `FraudReport.objects.filter(..., transaction_time__gte=at
    - fraud_window).aggregate(Count("card_id", distinct=True))`. tests/query_twins.py
    writes it out.
    """
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "merchant_id": merchant_id,
        "bin_prefix": bin_prefix,
        "mismatch": Transaction.CvvResult.MISMATCH.value,  # ExpiryResult spells it alike
        "no": Transaction.Status.DECLINED.value,
        "at": adapt(at),
        "h1": adapt(at - HOUR),
        "d90": adapt(at - fraud_window),
        "merchant_id_since": adapt(at - merchant_window),
        "merchant_id_span": adapt(at - max(HOUR, merchant_window, tested_window)),
        "tested_since": adapt(at - tested_window),
        "bin_prefix_since": adapt(at - bin_window),
        "bin_prefix_span": adapt(at - max(HOUR, bin_window)),
    }
    with connection.cursor() as cursor:
        cursor.execute(_cross_card_sql(connection.vendor, cap, sample), params)
        row = cursor.fetchone()
    # PostgreSQL sums integers as numerics.
    return dict(zip(CROSS_CARD, (int(n or 0) for n in row), strict=True))
