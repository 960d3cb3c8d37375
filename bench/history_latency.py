"""Authorization latency as history grows: the same decisions on a database holding 10
thousand stored transactions and on one holding 1 million.

    .venv/bin/python bench/history_latency.py [--database sqlite|postgres] [--small 10000]
                                              [--large 1000000] [--requests 400] [--seed 1]
                                              [--explain] [--back-office]

Two fresh databases (an SQLite file in a temporary directory, or a throwaway PostgreSQL
database `cardsystem_bench_<pid>`, as bench/authorizations.py makes them), migrated, with
the same shape scaled to their volume: 90 days of history up to the start of the run;
cards in four BINs, one card per ~99 transactions (about 1.1 a day); merchants, one per
100 transactions, picked with a Zipf popularity (the busiest takes ~10% of a million
rows) and each card's few favourites; channels, countries and MCCs mixed; ~97% approved,
declines N7/51/61, a few reversals; fraud reports on ~0.03% of the transactions (half at
a few compromised merchants) with merchant, card and time copied and reported days
later; every row carries risk factors and features of a real decision's size.

Cards and the API client come from the services: the cards authorized (100, or the
small database's card count if it has fewer) are issued to cardholders, active and funded,
their PAN and CVV kept in memory only, and they have an average card's history in
both databases; the history's other cards are bulk-issued stock (card_issue_bulk),
then marked active. Transactions and fraud reports are history, bulk-inserted in
time order (executemany on SQLite, COPY on PostgreSQL) with the secondary indexes
(and on PostgreSQL the keys) dropped during the load and re-created after it from
their own definitions, then ANALYZE (SQLite) or VACUUM ANALYZE (PostgreSQL).

Each database lives in its own process, which builds it and then serves in-process
WSGI calls of `cardsystem.wsgi:application` (POST /api/v1/authorizations/ with an API
key, as bench/profile_authorization.py does) on request through a pipe: a process has
one Django, one `default` database, its own keys and caches, and nothing is switched
under Django's feet. After a warm-up, this process asks for blocks of `BLOCK` requests
from each in turn (which one goes first alternates), so that the machine's load falls
on both alike. Timed requests go round-robin over the measured cards, at merchants
picked like the history's (busy ones included), with transaction_time at the end of
the history plus one minute per round over the cards (a card is used at most once a
minute, as real cards are). Prints the databases, their build times, mean/p50/p99 ms
per authorization, the ratio large/small, and the time of the two feature statements.
Exit status 1 if the large database's mean or p50 is above 1.5 times the small's, or a
request failed. `--explain` adds the two statements' plans at the busiest merchant;
`--back-office` then times, on both databases, a backtest of the history's last day
and the dashboard's figures and page (bench/backtest.py's and bench/dashboard.py's own
timing functions).
Databases and temporary files are removed, even on failure, SIGTERM or Ctrl-C.
"""

import argparse
import bisect
import contextlib
import datetime
import itertools
import json
import math
import os
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backtest
import dashboard
from authorizations import LOOPBACK, ROOT, Result, note, server_env
from databases import database
from profile_authorization import wsgi_call

DAYS = 90
PER_CARD_DAY = 1.1  # transactions a day of an average card
ROWS_PER_MERCHANT = 100
MEASURED_CARDS = 100
FAVOURITES = 6  # merchants a card returns to; half its transactions are at one of them
BLOCK = 20
WARM_UP = 40  # requests per database before the timed ones
ROUND_SECONDS = 61  # a measured card's timed requests are this far apart in transaction_time
FRAUD_SHARE = 0.0003  # of all transactions, later reported as fraud
LIMIT = 1.5
BALANCE_MINOR = 100_000_000
LOAD_BATCH = 50_000
UTC = datetime.UTC

# (prefix, network, share of the cards)
BINS = (
    ("453201", "visa", 4),
    ("476173", "visa", 3),
    ("539923", "mastercard", 2),
    ("552433", "mastercard", 1),
)
# (MCC, merchant name, channel, share of the merchants)
CATEGORIES = (
    ("5411", "Grocery", "pos", 18),
    ("5812", "Restaurant", "pos", 15),
    ("5814", "Fast Food", "pos", 10),
    ("5541", "Fuel", "pos", 8),
    ("5311", "Department Store", "pos", 5),
    ("5912", "Pharmacy", "pos", 5),
    ("7011", "Hotel", "pos", 2),
    ("6011", "ATM", "atm", 5),
    ("4121", "Rides", "ecommerce", 5),
    ("5999", "Online Shop", "ecommerce", 10),
    ("5732", "Electronics", "ecommerce", 4),
    ("5942", "Books", "ecommerce", 3),
    ("4899", "Streaming", "ecommerce", 4),
    ("4511", "Airline", "ecommerce", 2),
    ("5964", "Catalog Order", "moto", 2),
    ("5967", "Teleshopping", "ecommerce", 1),  # a high-risk MCC by the default lists
    ("7995", "Betting", "ecommerce", 1),  # likewise
)
ABROAD_PRESENT = ("CA", "MX", "GB", "FR", "DE", "IT", "ES", "JP")
ABROAD_ONLINE = ("GB", "IE", "NL", "DE", "CN", "SG", "CA")
# Share of a cardholder's transactions by hour of the day at home (US Eastern, UTC-5).
LOCAL_HOURS = (3, 2, 1, 1, 1, 2, 5, 10, 15, 18, 20, 22, 25, 23, 20, 20, 21, 23, 24, 22, 18, 14, 10, 6)
HOUR_CUMULATIVE = list(itertools.accumulate(LOCAL_HOURS[(hour - 5) % 24] for hour in range(24)))
# (response code, reason, share of all transactions)
DECLINES = (
    ("N7", "cvv_mismatch", 0.010),
    ("51", "insufficient_funds", 0.012),
    ("61", "exceeds_amount_limit", 0.008),
)
REVERSED_SHARE = 0.003
# Statement markers: the card's 30-day statement and the cross-card one (transactions/queries.py).
CARD_SQL_MARK = "(SELECT MAX(transaction_time) FROM"
CROSS_SQL_MARK = "WITH sample AS"
STATIC_STORAGE = "django.contrib.staticfiles.storage.StaticFilesStorage"
DASHBOARD_CHARTS = 7  # the page's charts without a live model (bench/dashboard.py has one: 8)


@dataclass(frozen=True)
class Shape:
    """How a database of `rows` transactions looks: the same per card and per merchant."""

    rows: int
    cards: int
    merchants: int

    @classmethod
    def of(cls, rows: int) -> "Shape":
        return cls(rows, max(1, round(rows / (DAYS * PER_CARD_DAY))), max(20, rows // ROWS_PER_MERCHANT))


@dataclass
class HistoryCard:
    pk: uuid.UUID
    masked_pan: str
    bin_prefix: str
    favourites: list[int]
    median_minor: int  # the card's typical amount
    pan: str = ""  # measured cards only, in memory only
    cvv: str = ""
    expiry: tuple[int, int] = (0, 0)


class Zipf:
    """Merchant ranks 0..n-1 with popularity 1 / (rank + 1)."""

    def __init__(self, n: int):
        self.cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(n)))

    def pick(self, rng: random.Random) -> int:
        return bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])

    def share(self, ranks) -> float:
        return sum(1 / (rank + 1) for rank in ranks) / self.cumulative[-1]


# --- The world of one database ------------------------------------------------------------------


def make_merchants(count: int, seed: int) -> list[tuple[str, str, str, str, str]]:
    """(merchant_id, name, mcc, country, channel), busiest first. A rank is the same
    merchant in every database of a seed: the busiest ones are alike in both."""
    merchants = []
    weights = [category[3] for category in CATEGORIES]
    for rank in range(count):
        rng = random.Random(f"{seed}-{rank}")
        mcc, label, channel, _ = rng.choices(CATEGORIES, weights)[0]
        present = channel in ("pos", "atm")
        abroad = rng.random() < (0.02 if present else 0.25)
        country = rng.choice(ABROAD_PRESENT if present else ABROAD_ONLINE) if abroad else "US"
        merchants.append((f"M{rank:07d}", f"{label} {rank}", mcc, country, channel))
    return merchants


def pick_merchant(card: HistoryCard, zipf: Zipf, rng: random.Random) -> int:
    return rng.choice(card.favourites) if rng.random() < 0.5 else zipf.pick(rng)


def pick_amount(card: HistoryCard, channel: str, rng: random.Random) -> int:
    if channel == "atm":
        return 2000 * rng.randint(1, 15)
    return max(100, min(500_000, int(card.median_minor * rng.lognormvariate(0, 0.8))))


def issue_cards(shape: Shape, measured: int, zipf: Zipf, rng: random.Random):
    """The BINs, the measured cards (issued, funded), the history's stock cards and an API
    client, through the services. Returns (cards, key); measured cards first."""
    from django.db import transaction

    from bins.services import bin_create
    from cards import pan as card_data
    from cards.models import Card
    from cards.services import card_issue, card_issue_bulk, card_top_up, cardholder_create
    from cardsystem.audit import Actor
    from cardsystem.services import api_client_create

    actor = Actor.system("bench/history_latency.py")
    cards: list[HistoryCard] = []

    def history_card(issued) -> HistoryCard:
        return HistoryCard(
            pk=issued.card.pk,
            masked_pan=issued.card.masked_pan,
            bin_prefix=card_data.bin_prefix(issued.pan),
            favourites=[zipf.pick(rng) for _ in range(FAVOURITES)],
            median_minor=int(3000 * rng.lognormvariate(0, 0.5)),
        )

    with transaction.atomic():
        bins = [
            bin_create(
                actor=actor,
                bin=prefix,
                network=network,
                issuer_name="Bench Bank",
                card_type="debit",
                country="US",
                currency="USD",
                pan_length=16,
            )
            for prefix, network, _ in BINS
        ]
        weights = [share for *_, share in BINS]
        for number in range(measured):
            born = datetime.date(rng.randint(1955, 2000), rng.randint(1, 12), rng.randint(1, 28))
            holder = cardholder_create(
                name=f"Bench Holder {number}", date_of_birth=born, country="US", actor=actor
            )
            issued = card_issue(bin=rng.choices(bins, weights)[0], cardholder=holder, actor=actor)
            card_top_up(card=issued.card, amount_minor=BALANCE_MINOR, actor=actor, reference="bench")
            card = history_card(issued)
            card.pan, card.cvv = issued.pan, issued.cvv
            card.expiry = (issued.card.expiry_month, issued.card.expiry_year)
            cards.append(card)
        stock = Counter(rng.choices(range(len(bins)), weights, k=shape.cards - measured))
        for index, count in sorted(stock.items()):
            card_issue_bulk(
                bin=bins[index],
                count=count,
                actor=actor,
                on_issued=lambda issued: cards.append(history_card(issued)),
            )
        # Stock cards stand for cards in use: the history's transactions are theirs.
        Card.objects.filter(status=Card.Status.INACTIVE).update(status=Card.Status.ACTIVE)
        _, key = api_client_create(name="bench", scopes=["authorize"], actor=actor)
    return cards, key


def transaction_times(shape: Shape, cards: list[HistoryCard], measured: int, end: float, rng: random.Random):
    """(epoch seconds, card index) of every history row, in time order. A measured card
    has an average card's count; the others share the rest unevenly."""
    average = min(round(DAYS * PER_CARD_DAY), shape.rows // len(cards))
    owners = [index for index in range(measured) for _ in range(average)]
    others = list(range(measured, len(cards))) or list(range(len(cards)))
    activity = [rng.gammavariate(2, 1) for _ in others]
    owners += rng.choices(others, activity, k=shape.rows - len(owners))
    start = end - DAYS * 86400
    midnight = datetime.datetime.fromtimestamp(start, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    base = midnight.timestamp()
    times = []
    for owner in owners:
        while True:
            hour = bisect.bisect(HOUR_CUMULATIVE, rng.random() * HOUR_CUMULATIVE[-1])
            at = base + rng.randrange(DAYS + 1) * 86400 + (hour + rng.random()) * 3600
            if start <= at < end:
                break
        times.append((at, owner))
    times.sort()
    return times


def history_rows(world, times, vendor: str, rng: random.Random, reports: list):
    """Each transaction as a row of `TRANSACTION_FIELDS` in the database's own format;
    rows to be reported as fraud are added to `reports`."""
    merchants, zipf, cards, end = world["merchants"], world["zipf"], world["cards"], world["end"]
    features = world["feature_pool"]
    if vendor == "sqlite":

        def ident(value):
            return value.hex

        def stamp(at):  # what Django stores for an aware datetime on SQLite: naive UTC, str()
            return str(datetime.datetime.fromtimestamp(at, UTC).replace(tzinfo=None))

    else:

        def ident(value):
            return value

        def stamp(at):
            return datetime.datetime.fromtimestamp(at, UTC)

    card_ids = [ident(card.pk) for card in cards]
    declines = list(itertools.accumulate(share for _, _, share in DECLINES))
    compromised = world["compromised"]
    # Half of the fraud at the compromised merchants, half anywhere.
    base_fraud = FRAUD_SHARE / 2
    compromised_fraud = min(0.5, base_fraud / max(zipf.share(compromised), 1e-9))
    foreign_factor, cvv_factor = FOREIGN_FACTOR, CVV_FACTOR
    reportable_before = end - 2 * 86400
    # As a real decision stores them: the live version's number and the rule summary the
    # scorer writes for these factors under its thresholds.
    version, summaries = world["version"], world["rule_summaries"]
    for at, owner in times:
        card = cards[owner]
        rank = pick_merchant(card, zipf, rng)
        merchant_id, name, mcc, country, channel = merchants[rank]
        amount = pick_amount(card, channel, rng)
        present = channel in ("pos", "atm")
        cvv = "absent" if present or rng.random() < 0.07 else "match"
        draw = rng.random()
        code, reason, status, reversed_at = "00", "approved", "approved", None
        for (decline_code, decline_reason, _), limit in zip(DECLINES, declines, strict=True):
            if draw < limit:
                if decline_code == "N7" and present:  # no CVV at a terminal: funds instead
                    decline_code, decline_reason = "51", "insufficient_funds"
                code, reason, status = decline_code, decline_reason, "declined"
                break
        if code == "N7":
            cvv = "mismatch"
            score, factors = 30, cvv_factor
        elif country != "US":
            score, factors = 10, foreign_factor
        else:
            score, factors = 0, "[]"
        if status == "approved" and draw > 1 - REVERSED_SHARE:
            status, reversed_at = "reversed", stamp(min(end - 60, at + rng.uniform(3600, 3 * 86400)))
        row_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        if status == "approved" and at < reportable_before:
            share = compromised_fraud if rank in compromised else base_fraud
            if rng.random() < share:
                reports.append((row_id, merchant_id, card.pk, at))
        # fmt: off
        yield (
            ident(row_id), card_ids[owner], card.masked_pan, card.bin_prefix, amount, "USD", merchant_id,
            name, mcc, country, channel, stamp(at), status, code, reason, cvv, "match", score, "low", factors,
            features[owner % len(features)], version, summaries[factors], False, None, reversed_at,
            stamp(at + rng.uniform(0.02, 0.4)),
        )
        # fmt: on


FOREIGN_FACTOR = json.dumps([{"code": "foreign_country", "score": 10, "detail": "Abroad."}])
CVV_FACTOR = json.dumps([{"code": "cvv_mismatch", "score": 30, "detail": "Wrong CVV."}])


def rule_summaries() -> tuple[int, dict[str, str]]:
    """The live configuration version's number, and the rule summary (risk_rules) the
    scorer writes under it for each of the history's stored factors."""
    from fraud.configuration import version_config
    from fraud.performance import rule_summary
    from fraud.versions import live_version
    from transactions.signals import RiskFactor

    live = live_version()
    config = version_config(live)
    return live.number, {
        factors: rule_summary([RiskFactor(**f) for f in json.loads(factors)], config)
        for factors in ("[]", FOREIGN_FACTOR, CVV_FACTOR)
    }


# The columns history_rows() fills, in its order: every column of the table.
# fmt: off
TRANSACTION_FIELDS = (
    "id", "card", "masked_pan", "bin_prefix", "amount_minor", "currency", "merchant_id", "merchant_name",
    "mcc", "merchant_country", "channel", "transaction_time", "status", "response_code", "reason",
    "cvv_result", "expiry_result", "risk_score", "risk_level", "risk_factors", "risk_features",
    "risk_config_version", "risk_rules", "flagged", "client", "reversed_at", "created_at",
)
# fmt: on


def feature_pool(rng: random.Random) -> list[str]:
    """Stored risk features of a real decision's size (every name of fraud/catalogue.py,
    plausible: bench/backtest.py's), with the rule inputs a quiet decision stores beside
    them (fraud/scoring.py rule_inputs), so that a backtest re-decides the history."""
    from fraud import catalogue

    pool = []
    for _ in range(64):
        values = backtest.features(rng)
        approvals = rng.randint(5, 60)
        inputs = {
            "card_count_1m": 0,
            "card_approved_count_30d": approvals,
            "card_approved_minor_30d": approvals * rng.randint(1500, 6000),
            "card_approved_minor_1h": 0,
            "card_approved_minor_24h": rng.choice([0, 0, 3000, 8000]),
            "previous_present_time": None,
            "previous_present_country": None,
            "merchant_recent_count": rng.randint(0, 200),
            "merchant_recent_fraud": 0,
            "home_country": "US",
            "card_check_streak": None,
            "card_check_streak_expiries": None,
        }
        if set(inputs) != set(catalogue.RULE_INPUT_NAMES):
            raise RuntimeError("fraud/catalogue.py's rule inputs changed: update feature_pool()")
        pool.append(json.dumps(values | inputs))
    return pool


def secondary_indexes(table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the table's indexes that back no constraint."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                [table],
            )
        else:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = %s AND indexname NOT IN (SELECT conname FROM pg_constraint)",
                [table],
            )
        return cursor.fetchall()


def key_constraints(table: str) -> list[tuple[str, str, str]]:
    """PostgreSQL: (table, name, definition) of the table's primary key, its foreign keys
    and the foreign keys that point at it, in the order they can be dropped (the
    reverse is the order they can be added back)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE (conrelid = %s::regclass AND contype IN ('p', 'f')) "
            "OR (confrelid = %s::regclass AND conrelid <> %s::regclass AND contype = 'f') "
            "ORDER BY confrelid = %s::regclass DESC, contype = 'p'",
            [table] * 4,
        )
        return cursor.fetchall()


def load(rows, vendor: str) -> float:
    """Bulk-insert the transactions with the secondary indexes dropped, then re-create
    them from their own definitions. On PostgreSQL the primary key and the foreign keys
    (the table's own and those pointing at it, whose tables are empty yet) are dropped
    too and added back after the load from their own definitions: one sort builds the
    key and one join checks each reference, where every row of the load would otherwise
    insert into a random place of a growing uuid index and queue two deferred checks.
    Returns the seconds spent re-creating them."""
    from django.db import connection, transaction

    from transactions.models import Transaction

    meta = Transaction._meta
    table = meta.db_table
    columns = [meta.get_field(name).column for name in TRANSACTION_FIELDS]
    unknown = {field.column for field in meta.concrete_fields} - set(columns)
    if unknown:
        raise RuntimeError(f"Transaction has columns this bench does not fill: {sorted(unknown)}")
    quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
    indexes = secondary_indexes(table)
    constraints = key_constraints(table) if vendor == "postgresql" else []
    quote = connection.ops.quote_name
    started = time.monotonic()
    with connection.cursor() as cursor:
        if vendor == "sqlite":
            # A throwaway database: no rollback journal while loading, WAL again afterwards.
            cursor.execute("PRAGMA journal_mode=OFF")
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-262144")
        else:
            # A throwaway database: a lost commit would lose a bench, not a payment.
            cursor.execute("SET synchronous_commit = off")
        for on_table, name, _ in constraints:
            cursor.execute(f"ALTER TABLE {quote(on_table)} DROP CONSTRAINT {quote(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {quote(name)}")
        placeholders = ", ".join(["%s"] * len(columns))
        insert = f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({placeholders})"  # noqa: S608
        loaded = 0
        while batch := list(itertools.islice(rows, LOAD_BATCH)):
            with transaction.atomic():
                if vendor == "sqlite":
                    cursor.executemany(insert, batch)
                else:
                    with cursor.cursor.copy(
                        f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN"
                    ) as copy:
                        for row in batch:
                            copy.write_row(row)
            loaded += len(batch)
            if loaded % 200_000 == 0:
                note(f"  {loaded:,} rows in {time.monotonic() - started:.0f} s")
        inserted = time.monotonic()
        if vendor == "postgresql":
            cursor.execute("SET maintenance_work_mem = '1GB'")
        for on_table, name, definition in reversed(constraints):
            cursor.execute(f"ALTER TABLE {quote(on_table)} ADD CONSTRAINT {quote(name)} {definition}")
        for _, create in indexes:
            cursor.execute(create)
        if vendor == "sqlite":
            cursor.execute("PRAGMA journal_mode=WAL")
    return time.monotonic() - inserted


def build(args) -> tuple[dict, dict]:
    """Fill this process's database. Returns (world, summary)."""
    from django.core.management import call_command
    from django.db import connection, connections

    from transactions.models import FraudReport

    vendor = connection.vendor
    rng = random.Random(args.seed)
    shape = Shape.of(args.rows)
    timings = {}
    started = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False, stdout=sys.stderr)
    timings["migrate"] = time.monotonic() - started
    zipf = Zipf(shape.merchants)
    merchants = make_merchants(shape.merchants, args.seed)
    mark = time.monotonic()
    cards, key = issue_cards(shape, args.measured, zipf, rng)
    timings["cards"] = time.monotonic() - mark
    note(f"{args.worker}: {len(cards):,} cards issued in {timings['cards']:.1f} s; {shape.rows:,} rows next")
    world = {
        "merchants": merchants,
        "zipf": zipf,
        "cards": cards,
        "end": args.end,
        "key": key,
        "feature_pool": feature_pool(rng),
        **dict(zip(("version", "rule_summaries"), rule_summaries(), strict=True)),
        # Compromised terminals: a few merchants of any size, most of them small.
        "compromised": set(rng.sample(range(shape.merchants), max(1, shape.merchants // 400))),
    }
    mark = time.monotonic()
    times = transaction_times(shape, cards, args.measured, args.end, rng)
    reports: list = []
    timings["indexes"] = load(history_rows(world, times, vendor, rng, reports), vendor)
    timings["rows"] = time.monotonic() - mark - timings["indexes"]  # generating and inserting
    del times
    note(f"{args.worker}: rows {timings['rows']:.1f} s, indexes {timings['indexes']:.1f} s")
    FraudReport.objects.bulk_create(
        [
            FraudReport(
                transaction_id=row_id,
                reason="Cardholder dispute: not recognised",
                reported_at=datetime.datetime.fromtimestamp(
                    min(args.end - 60, at + rng.uniform(86400, 30 * 86400)), UTC
                ),
                merchant_id=merchant_id,
                card_id=card_pk,
                transaction_time=datetime.datetime.fromtimestamp(at, UTC),
            )
            for row_id, merchant_id, card_pk, at in reports
        ],
        batch_size=500,
    )
    mark = time.monotonic()
    with connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            cursor.execute("VACUUM ANALYZE")
    timings["analyze"] = time.monotonic() - mark
    timings["total"] = time.monotonic() - started
    # The build's connection (its PRAGMAs and session settings) is not the one measured.
    connections.close_all()
    summary = {
        "rows": shape.rows,
        "cards": len(cards),
        "merchants": shape.merchants,
        "reports": len(reports),
        "analyze": "ANALYZE" if vendor == "sqlite" else "VACUUM ANALYZE",
        "busiest_merchant_rows": busiest_merchant_rows(merchants[0][0]),
        "timings": timings,
    }
    return world, summary


def busiest_merchant_rows(merchant_id: str) -> int:
    from transactions.models import Transaction

    return Transaction.objects.filter(merchant_id=merchant_id).count()


# --- Serving the measurement --------------------------------------------------------------------


def request_bodies(world, rng: random.Random, measured: int):
    """Authorizations for ever: round-robin over the measured cards, at merchants picked
    like the history's; one minute per round after the history's end (at most the 5
    minutes ahead of the clock that the API accepts)."""
    merchants, zipf, cards, end = world["merchants"], world["zipf"], world["cards"], world["end"]
    for index in itertools.count():
        card = cards[index % measured]
        at = min(end + index // measured * ROUND_SECONDS, time.time() + 240)
        yield authorization_body(card, merchants[pick_merchant(card, zipf, rng)], at, rng)


def authorization_body(card: HistoryCard, merchant, at: float, rng: random.Random) -> bytes:
    merchant_id, name, mcc, country, channel = merchant
    body = {
        "card_number": card.pan,
        "expiry_month": card.expiry[0],
        "expiry_year": card.expiry[1],
        "amount": f"{pick_amount(card, channel, rng) / 100:.2f}",
        "currency": "USD",
        "merchant_id": merchant_id,
        "merchant_name": name,
        "mcc": mcc,
        "merchant_country": country,
        "channel": channel,
        "transaction_time": datetime.datetime.fromtimestamp(at, UTC).isoformat(),
    }
    if channel in ("ecommerce", "moto"):
        body["cvv"] = card.cvv
    return json.dumps(body).encode()


def serve(world, args, reply) -> None:
    """Answer the parent's commands, one JSON line each, until "quit" or end of input."""
    from django.db import connection

    from cardsystem.wsgi import application

    statements = {"card": [0, 0.0], "cross": [0, 0.0]}

    def timed(execute, sql, params, many, context):
        kind = "card" if CARD_SQL_MARK in sql else "cross" if CROSS_SQL_MARK in sql else None
        if kind is None:
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements[kind][0] += 1
            statements[kind][1] += time.perf_counter() - started

    bodies = request_bodies(world, random.Random(args.seed + 1), args.measured)
    with connection.execute_wrapper(timed):
        for line in sys.stdin:
            command = json.loads(line)
            if command["do"] == "quit":
                break
            if command["do"] == "explain":
                answer = {"plans": explain(world, application)}
            elif command["do"] == "back office":
                answer = back_office(world, command["repeat"])
            else:
                for counts in statements.values():
                    counts[:] = [0, 0.0]
                latencies, outcomes, errors = [], Counter(), []
                for body in itertools.islice(bodies, command["count"]):
                    started = time.perf_counter()
                    status, data = wsgi_call(application, body, world["key"])
                    latencies.append((time.perf_counter() - started) * 1000)
                    if not status.startswith("201"):
                        errors.append(f"{status}: {data[:200].decode(errors='replace')}")
                        continue
                    decided = json.loads(data)
                    outcomes[decided["status"]] += 1
                    outcomes["flagged"] += decided["flagged"]
                    outcomes.update(f"factor {factor['code']}" for factor in decided["risk_factors"])
                answer = {"ms": latencies, "outcomes": outcomes, "errors": errors, "statements": statements}
            reply.write(json.dumps(answer) + "\n")
            reply.flush()


def explain(world, application) -> list[str]:
    """The plans of the two feature statements of one authorization by a measured card at
    the busiest merchant, with their mean time over 20 more runs."""
    from django.db import connection

    captured = {}

    def capture(execute, sql, params, many, context):
        for kind, mark in (("card", CARD_SQL_MARK), ("cross", CROSS_SQL_MARK)):
            if mark in sql:
                captured[kind] = (sql, params)
        return execute(sql, params, many, context)

    body = authorization_body(world["cards"][0], world["merchants"][0], time.time(), random.Random(0))
    with connection.execute_wrapper(capture):
        wsgi_call(application, body, world["key"])
    lines = []
    with connection.cursor() as cursor:
        for kind, (sql, params) in captured.items():
            started = time.perf_counter()
            for _ in range(20):
                cursor.execute(sql, params)
                cursor.fetchall()
            mean = (time.perf_counter() - started) / 20 * 1000
            lines.append(
                f"{kind} statement at merchant {world['merchants'][0][0]}: {mean:.3f} ms (mean of 20)"
            )
            if connection.vendor == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                depth = {0: -1}
                for node, parent, _, detail in cursor.fetchall():
                    depth[node] = depth.get(parent, -1) + 1
                    lines.append("    " + "  " * depth[node] + detail)
            else:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                lines += ["    " + row[0] for row in cursor.fetchall()]
    return lines


def back_office(world, repeat: int) -> dict:
    """The back office's reads on this database: a backtest of the history's last day by
    the live version (one process, then two: bench/backtest.py's `timed`) and the
    dashboard's figures and page for 24 hours, 7 and 30 days (bench/dashboard.py's
    `_timings`, best of `repeat`). The history is 90 days up to the run's start: every
    period is full. It has no alerts and no model: the page has 7 charts, not 8."""
    from django.conf import settings
    from django.db import connection
    from django.test import override_settings

    from fraud.backtest import version_to_backtest

    until = datetime.datetime.fromtimestamp(world["end"], UTC)
    live = version_to_backtest(None)
    label = f"live version {live.number}, the last day"
    backtests = [
        backtest.timed(connection.vendor, live, label, until - datetime.timedelta(days=1), until, workers)
        for workers in (1, 2)
    ]
    # The page as a logged-in staff member gets it (not the second factor's steps), and
    # its static URLs unhashed: no collectstatic ran for this throwaway process.
    storages = {**settings.STORAGES, "staticfiles": {"BACKEND": STATIC_STORAGE}}
    with override_settings(STAFF_MFA_REQUIRED=False, STORAGES=storages):
        figures = [
            [key, name, best, ratio]
            for key in dashboard.PERIODS
            for name, best, ratio in dashboard._timings(
                key, repeat, host="127.0.0.1", charts=DASHBOARD_CHARTS
            )
        ]
    return {"backtests": backtests, "figures": figures}


def worker(args) -> int:
    """One database's process: build it, say "ready" with its summary, serve, clean up."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # WhiteNoise's note that no collectstatic ran: the API serves no static files.
    warnings.filterwarnings("ignore", message="No directory at")
    # The pipe to the parent carries JSON lines only; anything else printed goes to stderr.
    reply = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    with (
        tempfile.TemporaryDirectory(prefix=f"bench-history-{args.worker}-") as tmp,
        database(args.database, Path(tmp), args.postgres_url) as url,
    ):
        (Path(tmp) / "logs").mkdir()
        os.environ.update(server_env(url, Path(tmp) / "logs"))
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.db import connections

        try:
            world, summary = build(args)
            reply.write(json.dumps({"ready": summary}) + "\n")
            reply.flush()
            serve(world, args, reply)
        finally:
            # Cleaning up from here on: a second signal must not cut the removal short.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            connections.close_all()
    return 0


# --- The parent ---------------------------------------------------------------------------------


class Worker:
    def __init__(self, name: str, rows: int, measured: int, end: float, args):
        self.name = name
        command = [sys.executable, __file__, "--worker", name, "--rows", str(rows)]
        command += ["--measured", str(measured), "--end", repr(end), "--seed", str(args.seed)]
        command += ["--database", args.database, "--postgres-url", args.postgres_url]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def ask(self, command: dict | None = None) -> dict:
        if command is not None:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} database's process ended (status {self.process.wait()})")
        return json.loads(line)

    def close(self, *, failed: bool) -> None:
        """End of input makes it remove its database and files. On failure (maybe in the
        middle of a build) it is also terminated at once: it cleans up on SIGTERM too."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        if failed and self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Measured:
    latencies: list
    outcomes: Counter
    errors: list
    statements: dict

    def result(self) -> Result:
        return Result(self.latencies, self.outcomes["declined"], len(self.errors), self.errors[:3], 1)

    def statement_ms(self, kind: str) -> str:
        count, seconds = self.statements[kind]
        return f"{seconds / count * 1000:.3f}" if count else "n/a"


def measure(workers: dict[str, Worker], requests: int) -> dict[str, Measured]:
    for worker in workers.values():
        worker.ask({"do": "run", "count": WARM_UP})
    measured = {name: Measured([], Counter(), [], {"card": [0, 0.0], "cross": [0, 0.0]}) for name in workers}
    names = list(workers)
    for block in range(math.ceil(requests / BLOCK)):
        count = min(BLOCK, requests - block * BLOCK)
        for name in names if block % 2 == 0 else reversed(names):
            answer = workers[name].ask({"do": "run", "count": count})
            into = measured[name]
            into.latencies += answer["ms"]
            into.outcomes.update(answer["outcomes"])
            into.errors += answer["errors"]
            for kind, (statements, seconds) in answer["statements"].items():
                into.statements[kind][0] += statements
                into.statements[kind][1] += seconds
    return measured


def report(command: str, args, summaries: dict, measured: dict, load_before: float) -> tuple[str, bool]:
    small, large = (measured[name].result() for name in ("small", "large"))
    lines = [
        f"$ {command}",
        "",
        f"settings: {args.database}, {args.requests} timed authorizations per database in alternating "
        f"blocks of {BLOCK} after {WARM_UP} warm-up, in process (WSGI), {os.cpu_count()} CPUs, "
        f"load average {load_before:.2f} at the start",
        f"history: {DAYS} days up to {datetime.datetime.fromtimestamp(args.end, UTC):%Y-%m-%d %H:%M} UTC; "
        f"{summaries['small']['analyze']} run on both databases after filling",
        "",
        f"{'database':<9}{'transactions':>13}{'cards':>8}{'merchants':>10}{'busiest':>9}{'reports':>8}"
        f"{'build s':>9}   (migrate, cards, rows, indexes, analyze s)",
    ]
    for name, summary in summaries.items():
        t = summary["timings"]
        lines.append(
            f"{name:<9}{summary['rows']:>13,}{summary['cards']:>8,}{summary['merchants']:>10,}"
            f"{summary['busiest_merchant_rows']:>9,}{summary['reports']:>8,}{t['total']:>9.1f}   "
            f"({t['migrate']:.1f}, {t['cards']:.1f}, {t['rows']:.1f}, {t['indexes']:.1f}, {t['analyze']:.1f})"
        )
    lines += [
        "",
        f"{'database':<9}{'requests':>9}{'mean ms':>9}{'p50 ms':>8}{'p99 ms':>8}{'approved':>9}"
        f"{'declined':>9}{'flagged':>8}{'errors':>7}   feature SQL ms: card 30 days, cross-card",
    ]
    for name, result in (("small", small), ("large", large)):
        m = measured[name]
        lines.append(
            f"{name:<9}{len(result.latencies_ms):>9}{mean(result):>9.2f}{result.percentile(0.5):>8.2f}"
            f"{result.percentile(0.99):>8.2f}{m.outcomes['approved']:>9}{m.outcomes['declined']:>9}"
            f"{m.outcomes['flagged']:>8}{result.errors:>7}   "
            f"{m.statement_ms('card')}, {m.statement_ms('cross')}"
        )
    for name in ("small", "large"):
        factors = sorted(
            (
                (count, key.removeprefix("factor "))
                for key, count in measured[name].outcomes.items()
                if key.startswith("factor ")
            ),
            reverse=True,
        )
        fired = ", ".join(f"{code} {count}" for count, code in factors) or "none"
        lines.append(f"{name:<9}risk factors fired: {fired}")
    mean_ratio = mean(large) / mean(small)
    p50_ratio = large.percentile(0.5) / small.percentile(0.5)
    within = mean_ratio <= LIMIT and p50_ratio <= LIMIT
    verdict = "within" if within else "NOT within"
    lines.append(f"ratio large/small: mean {mean_ratio:.2f}, p50 {p50_ratio:.2f} ({verdict} {LIMIT}x)")
    return "\n".join(lines), within and not small.errors and not large.errors


def back_office_report(answers: dict) -> str:
    lines = ["", f"back office (load average {os.getloadavg()[0]:.2f} at the end):"]
    for name, answer in answers.items():
        lines += [f"{name:<9}backtest: {line}" for line in answer["backtests"]]
    small, large = answers["small"]["figures"], answers["large"]["figures"]
    lines += [
        "",
        f"{'period':<7}{'dashboard figure (best of 3)':<52}{'small ms':>9}{'large ms':>9}{'x count(*)':>11}",
    ]
    for (key, name, small_ms, _), (_, _, large_ms, ratio) in zip(small, large, strict=True):
        lines.append(f"{key:<7}{name:<52}{small_ms:>9.1f}{large_ms:>9.1f}{ratio:>11.1f}")
    return "\n".join(lines)


def mean(result: Result) -> float:
    return sum(result.latencies_ms) / len(result.latencies_ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--small", type=int, default=10_000, help="stored transactions of the small database")
    parser.add_argument(
        "--large", type=int, default=1_000_000, help="stored transactions of the large database"
    )
    parser.add_argument("--requests", type=int, default=400, help="timed authorizations per database")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--explain", action="store_true", help="print the feature statements' plans")
    parser.add_argument(
        "--back-office",
        action="store_true",
        help="then time a backtest of the last day and the dashboard's figures on both databases",
    )
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measured", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--end", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if urlsplit(args.postgres_url).hostname not in LOOPBACK:
        parser.error("--postgres-url must point at 127.0.0.1")
    if not 0 < args.small <= args.large or args.requests < 1:
        parser.error("give 0 < --small <= --large and a positive --requests")
    args.end = float(int(time.time()))
    command = shlex.join(
        [os.path.relpath(sys.executable, ROOT), os.path.relpath(__file__, ROOT), *sys.argv[1:]]
    )
    load_before = os.getloadavg()[0]
    if load_before > 0.5 * (os.cpu_count() or 1):
        note(f"load average {load_before:.2f}: other work on this machine will skew the numbers")
    measured_cards = min(MEASURED_CARDS, Shape.of(args.small).cards)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workers: dict[str, Worker] = {}
    failed = True
    try:
        summaries = {}
        for name, rows in (("small", args.small), ("large", args.large)):
            note(f"{name}: building {rows:,} transactions on {args.database} ...")
            workers[name] = Worker(name, rows, measured_cards, args.end, args)
            summaries[name] = workers[name].ask()["ready"]
            note(f"{name}: built in {summaries[name]['timings']['total']:.1f} s")
        measured = measure(workers, args.requests)
        text, passed = report(command, args, summaries, measured, load_before)
        print(text)
        for name in workers:
            for error in measured[name].errors[:3]:
                print(f"{name} error: {error}")
        if args.explain:
            for name, worker_process in workers.items():
                print(f"\n{name}:")
                print("\n".join(worker_process.ask({"do": "explain"})["plans"]))
        if args.back_office:
            print(
                back_office_report(
                    {name: w.ask({"do": "back office", "repeat": 3}) for name, w in workers.items()}
                )
            )
        failed = False
        return 0 if passed else 1
    finally:
        if failed:  # a second Ctrl-C (a terminal's reaches every process) must not stop the wait
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        for worker_process in workers.values():
            worker_process.close(failed=failed)


if __name__ == "__main__":
    sys.exit(main())
