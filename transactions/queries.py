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

from cards.models import LedgerEntry
from cards.queries import card_debit, card_debit_params, card_debit_sql, ledger_entry_insert
from cardsystem import sql
from transactions.authentication_facts import CardholderVerification, EntryMode
from transactions.codes import Decision
from transactions.models import Transaction

MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
HISTORY = datetime.timedelta(days=30)

# Where the card itself was: the channels whose merchant country says where the card is.
CARD_PRESENT = (Transaction.Channel.POS, Transaction.Channel.ATM)


def transaction_insert(**values) -> Transaction:
    """`Transaction.objects.create(**values)` as one written-out INSERT: the same row is
    stored (see cardsystem/sql.py `insert`)."""
    return sql.insert(Transaction, **values)


def approval_insert(
    *, card_id: uuid.UUID, amount_minor: int, now: datetime.datetime, transaction: dict, ledger: dict
) -> Transaction | None:
    """An approval's debit, its transaction and its ledger entry, all or nothing: the
    stored Transaction, or None, nothing written, when the card holds less than
    `amount_minor`. What its ORM twin does: `Card.objects.filter(pk=card_id,
    balance_minor__gte=amount_minor).update(balance_minor=F("balance_minor") -
    amount_minor, updated_at=now)` and, only if that updated the card,
    `Transaction.objects.create(**transaction)` and `LedgerEntry.objects.create(**ledger)`.

    On PostgreSQL it is one statement: the UPDATE and both INSERTs as data-modifying
    CTEs, each INSERT selecting from the row the UPDATE returned (none: no row inserted),
    one round trip where there were three. On SQLite, which runs in the process and has
    no round trip to save (nor data-modifying CTEs), the three statements."""
    if connection.vendor != "postgresql":
        if not card_debit(card_id=card_id, amount_minor=amount_minor, now=now):
            return None
        recorded = transaction_insert(**transaction)
        ledger_entry_insert(**ledger)
        return recorded
    recorded, transaction_params = sql.prepared(Transaction, **transaction)
    _, ledger_params = sql.prepared(LedgerEntry, **ledger)
    debited = sql.execute(
        _approval_insert_sql(connection.vendor),
        [*card_debit_params(card_id, amount_minor, now), *transaction_params, *ledger_params],
        prepare=True,  # every value is cast to its column's type or compared with a column
    )
    return sql.saved(recorded) if debited else None


@functools.cache
def _approval_insert_sql(vendor: str) -> str:
    """Each value cast to its column's type: selected rather than VALUES, the parameters
    would otherwise be read as text. Cached per `vendor`, whose quoting and types it uses."""

    def insert(model) -> str:
        into, fields = sql.insert_parts(model)
        values = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
        return f"INSERT INTO {into} SELECT {values} FROM debit"  # noqa: S608

    return (
        f"WITH debit AS ({card_debit_sql(vendor)} RETURNING 1), "
        f"recorded AS ({insert(Transaction)}) "
        f"{insert(LedgerEntry)}"
    )


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
    # How the card was read and its holder verified (transactions/authentication_facts.py).
    "magstripe_24h",
    "chip_reads_30d",
    "pin_failures_24h",
    "no_cvm_contactless_1h",
    "device_approvals_30d",
    "approvals_with_device_30d",
    "last_pin_failure_24h",
    "last_pin_verified_24h",
    "verified_cvm_1h",
    "unverified_present_mccs_1h",
)

# The minute of the day (0-1439, UTC) of a transaction's time, the one part SQL does
# not spell alike. PostgreSQL's date_part() gives a double; EXTRACT gives a numeric (since
# PostgreSQL 14), whose arithmetic took twice as long a row (0.27 against 0.12 µs).
_UTC_MINUTE = {
    "sqlite": "(CAST(strftime('%%H', {t.transaction_time}) AS INTEGER) * 60"
    " + CAST(strftime('%%M', {t.transaction_time}) AS INTEGER))",
    "postgresql": "CAST(date_part('hour', {t.transaction_time} AT TIME ZONE 'UTC') * 60"
    " + date_part('minute', {t.transaction_time} AT TIME ZONE 'UTC') AS INTEGER)",
}
# The distinct values of an expression over the rows a condition keeps, joined by commas
# in no particular order: the other part SQL does not spell alike.
_DISTINCT_LIST = {
    "sqlite": "GROUP_CONCAT(DISTINCT {expression}) FILTER (WHERE {condition})",
    "postgresql": "STRING_AGG(DISTINCT {expression}, ',') FILTER (WHERE {condition})",
}

# Each window's count or sum is an aggregate with a FILTER: a row outside the window
# costs its condition only, not a call of the aggregate on a nought.
_CARD_HISTORY_SQL = """
SELECT
    COUNT(*) FILTER (WHERE {t.transaction_time} >= %(m1)s),
    COUNT(*) FILTER (WHERE {t.transaction_time} >= %(m10)s),
    COUNT(*) FILTER (WHERE {t.transaction_time} >= %(h1)s),
    COUNT(*) FILTER (WHERE {t.transaction_time} >= %(d1)s),
    COUNT(*) FILTER (WHERE {t.transaction_time} >= %(d7)s),
    COUNT(*),
    COALESCE(SUM({t.amount_minor}) FILTER (WHERE {t.status} = %(ok)s AND {t.transaction_time} >= %(m10)s), 0),
    COALESCE(SUM({t.amount_minor}) FILTER (WHERE {t.status} = %(ok)s AND {t.transaction_time} >= %(h1)s), 0),
    COALESCE(SUM({t.amount_minor}) FILTER (WHERE {t.status} = %(ok)s AND {t.transaction_time} >= %(d1)s), 0),
    COALESCE(SUM({t.amount_minor}) FILTER (WHERE {t.status} = %(ok)s AND {t.transaction_time} >= %(d7)s), 0),
    COALESCE(SUM({t.amount_minor}) FILTER (WHERE {t.status} = %(ok)s), 0),
    COUNT(*) FILTER (WHERE {t.status} = %(ok)s),
    COALESCE(SUM(CAST({t.amount_minor} AS DOUBLE PRECISION) * {t.amount_minor}) FILTER (WHERE {t.status} = %(ok)s), 0),
    COUNT(*) FILTER (WHERE {t.status} = %(ok)s AND ({minute} + %(offset)s) %% 1440 < %(night)s),
    COUNT(*) FILTER (WHERE {t.status} = %(no)s AND {t.transaction_time} >= %(d1)s),
    COUNT(*) FILTER (WHERE {t.response_code} = %(cvv)s AND {t.transaction_time} >= %(d1)s),
    COUNT(*) FILTER (WHERE {t.response_code} = %(funds)s AND {t.transaction_time} >= %(d1)s),
    COUNT(*) FILTER (WHERE {t.response_code} = %(limit)s AND {t.transaction_time} >= %(d1)s),
    COUNT(*) FILTER (WHERE {t.merchant_id} = %(merchant_id)s AND {t.transaction_time} >= %(tested)s
        AND ({t.cvv_result} = %(mismatch)s OR {t.expiry_result} = %(mismatch)s)),
    {seen},
    (SELECT MAX({t.transaction_time}) FROM {table}
        WHERE {t.card_id} = %(card)s AND {t.transaction_time} <= %(at)s),
    {present_time},
    (SELECT {t.merchant_country} FROM {table}
        WHERE {t.card_id} = %(card)s AND {t.channel} IN (%(pos)s, %(atm)s)
        AND {t.transaction_time} = {present_time}
        ORDER BY {t.created_at} DESC LIMIT 1),
    COUNT(*) FILTER (WHERE {t.entry_mode} = %(magstripe)s AND {t.transaction_time} >= %(d1)s),
    COUNT(*) FILTER (WHERE {t.entry_mode} IN (%(chip)s, %(contactless)s)),
    COUNT(*) FILTER (WHERE {t.cardholder_verification} = %(pin_failed)s AND {t.transaction_time} >= %(d1)s),
    COUNT(*) FILTER (WHERE {t.entry_mode} = %(contactless)s AND {t.cardholder_verification} = %(no_cvm)s
        AND {t.transaction_time} >= %(h1)s),
    COUNT(*) FILTER (WHERE {t.status} = %(ok)s AND {t.device_hash} = %(device)s AND {t.device_hash} <> ''),
    COUNT(*) FILTER (WHERE {t.status} = %(ok)s AND {t.device_hash} <> ''),
    MAX({t.transaction_time}) FILTER (WHERE {t.cardholder_verification} = %(pin_failed)s AND {t.transaction_time} >= %(d1)s),
    MAX({t.transaction_time}) FILTER (WHERE {t.cardholder_verification} = %(pin_verified)s AND {t.transaction_time} >= %(d1)s),
    COUNT(*) FILTER (WHERE {t.cardholder_verification} IN (%(pin_verified)s, %(consumer_device)s)
        AND {t.transaction_time} >= %(h1)s),
    {unverified_present_mccs}
FROM {table}
WHERE {t.card_id} = %(card)s AND {t.transaction_time} <= %(at)s AND {t.transaction_time} >= %(d30)s
"""  # noqa: E501

# The card's latest card-present time in the 30 days: the later of two seeks, one per
# channel, on (card, channel, time), each reading one entry however long the card's
# history. Its country is then read at exactly that time (the latest created first, if
# two share it), not by reading the card's whole month again.
_PRESENT_TIME_SQL = """(SELECT MAX(latest) FROM (
        SELECT ({pos}) AS latest UNION ALL SELECT ({atm})
    ) present)"""
_LATEST_AT_SQL = """SELECT {t.transaction_time} FROM {table} WHERE {t.card_id} = %(card)s
        AND {t.channel} = %({channel})s AND {t.transaction_time} <= %(at)s AND {t.transaction_time} >= %(d30)s
        ORDER BY {t.transaction_time} DESC LIMIT 1"""

# "Has the card been used here before": an index seek each, on (card, column, time),
# over the card's whole past but reading one row. Declines are not uses.
_SEEN_SQL = """EXISTS (SELECT 1 FROM {table} WHERE {t.card_id} = %(card)s AND {column} = %({name})s
        AND {t.transaction_time} <= %(at)s AND {t.status} <> %(no)s)"""
SEEN_COLUMNS = ("merchant_id", "merchant_country", "mcc", "channel")


@functools.cache
def card_history_sql(vendor: str) -> str:
    """Cached per `vendor`, whose quoting, minute of the day and list of values it uses."""
    t = _columns(Transaction)
    table = connection.ops.quote_name(Transaction._meta.db_table)
    return _CARD_HISTORY_SQL.format(
        t=t,
        table=table,
        minute=_UTC_MINUTE[vendor].format(t=t),
        unverified_present_mccs=_DISTINCT_LIST[vendor].format(
            expression=t.mcc,
            condition=f"{t.channel} IN (%(pos)s, %(atm)s) AND {t.cardholder_verification} IN "
            f"(%(pin_failed)s, %(signature)s, %(no_cvm)s) AND {t.transaction_time} >= %(h1)s",
        ),
        present_time=_PRESENT_TIME_SQL.format(
            **{
                channel: _LATEST_AT_SQL.format(t=t, table=table, channel=channel)
                for channel in ("pos", "atm")
            }
        ),
        seen=",\n    ".join(
            _SEEN_SQL.format(t=t, table=table, column=getattr(t, name), name=name) for name in SEEN_COLUMNS
        ),
    )


def card_history_row(**arguments) -> dict:
    """The card's transactions with a `transaction_time` in [at - 30 days, at], by the
    names of CARD_HISTORY: counts in the windows ending at `at` and starting 1 minute,
    10 minutes, 1 hour, 24 hours, 7 days back (inclusive at both ends) and in all 30
    days; the sums of the approvals' amounts (and their squares, and their count) in
    those windows; the approvals whose UTC time plus `utc_offset_minutes` falls before
    `night_ends_minute` of the day; the last 24 hours' declines, by response code; the
    CVV or expiry mismatches at `merchant_id` in the last `tested_window` (at most the
    30 days); each of `merchant_id`, `merchant_country`, `mcc` and `channel` seen before
    on a transaction not declined, at or before `at`, however long ago; the latest time
    up to `at`, and the latest card-present time and country in the 30 days. Then how
    the card was read and verified (transactions/authentication_facts.py): magnetic-stripe
    reads in the 24 hours, chip or contactless reads in the 30 days, PIN failures in the
    24 hours, contactless reads without cardholder verification in the hour, approvals in
    the 30 days with `device_hash` (none when it is "") and with any device, and the
    latest PIN failure and verified PIN in the 24 hours (None if none); attempts in the
    hour with the cardholder verified (a PIN, or the shopper's device); the merchant
    category codes of the hour's card-present attempts without a verified cardholder (PIN
    failed, signature, none), distinct, sorted and joined by commas ("" if none).

    The ORM twin is `Transaction.objects.filter(card_id=card_id, transaction_time__gte=
    at - HISTORY, transaction_time__lte=at).aggregate(count_1m=Count("pk",
    filter=Q(transaction_time__gte=at - MINUTE)), ..., approved_amount_10m=Sum(
    "amount_minor", filter=Q(status=APPROVED, transaction_time__gte=at - 10 * MINUTE)),
    ..., failures_at_merchant=Count("pk", filter=Q(merchant_id=merchant_id,
    transaction_time__gte=at - tested_window) & (Q(cvv_result=MISMATCH) |
    Q(expiry_result=MISMATCH))))` with `.exclude(status=DECLINED).filter(merchant_id=
    merchant_id).exists()` and the like for the first uses and `Max("transaction_time")`
    / `.order_by("-transaction_time", "-created_at").values_list("merchant_country")[:1]`
    for the latest (the PIN times: `Max("transaction_time", filter=...)`; the categories:
    the sorted distinct `values_list("mcc", flat=True)` of the hour's unverified
    card-present attempts);
    tests/query_twins.py writes it out whole. Sums are 0, not None, over no
    rows; the square sum is a float.
    """
    with connection.cursor() as cursor:
        cursor.execute(card_history_sql(connection.vendor), card_history_params(**arguments))
        return card_history_values(cursor.fetchone())


def card_history_params(
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
    device_hash: str = "",
) -> dict:
    """The parameters of card_history_row's statement, from card_history_row's arguments
    (named here, with their types and defaults), in the statement's terms."""
    adapt = connection.ops.adapt_datetimefield_value
    return {
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
        "magstripe": EntryMode.MAGSTRIPE.value,
        "chip": EntryMode.CHIP.value,
        "contactless": EntryMode.CONTACTLESS.value,
        "pin_failed": CardholderVerification.PIN_FAILED.value,
        "pin_verified": CardholderVerification.PIN_VERIFIED.value,
        "consumer_device": CardholderVerification.CONSUMER_DEVICE.value,
        "signature": CardholderVerification.SIGNATURE.value,
        "no_cvm": CardholderVerification.NO_CVM.value,
        "device": device_hash,
    }


def card_history_values(row) -> dict:
    """card_history_row's values from its statement's row."""
    numbers, seen, (previous, present, present_country) = row[:19], row[19:23], row[23:26]
    authentication, (last_failure, last_verified) = row[26:32], row[32:34]
    verified_cvm, unverified_mccs = row[34:]
    # PostgreSQL sums integers as numerics and SQLite gives its booleans as 0 and 1.
    values = (
        *(int(n) for n in numbers[:12]),
        float(numbers[12]),
        *(int(n) for n in numbers[13:]),
        *(bool(s) for s in seen),
        _aware(previous),
        _aware(present),
        present_country,
        *(int(n) for n in authentication),
        _aware(last_failure),
        _aware(last_verified),
        int(verified_cvm),
        ",".join(sorted(unverified_mccs.split(","))) if unverified_mccs else "",
    )
    return dict(zip(CARD_HISTORY, values, strict=True))


def _aware(value) -> datetime.datetime | None:
    """A timestamp from raw SQL: PostgreSQL gives it aware; SQLite gives the text Django
    stored (UTC), which a subquery's result carries no declared type to convert."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(value).replace(tzinfo=datetime.UTC)
