"""How long an exact backtest takes on a million stored decisions, on each database.

    .venv/bin/python bench/backtest.py [--rows 1000000] [--seed 1] [--databases sqlite,postgres]
        [--workers 1,2] [--postgres postgres://postgres@127.0.0.1:5432/postgres]

For each database, a throwaway one (a temporary SQLite file; a PostgreSQL database
created beside the one `--postgres` names), migrated, filled and removed at the end
whatever happens, by a child process of this script. The fill: `--rows` synthetic
decisions on known cards, facts mixed over channels, countries, MCCs, CVV results and how
the card was read and its holder verified (entry mode, PIN, signature, 3-D Secure, device),
every catalogue feature and rule input with plausible values, each decided by the live
version through fraud/rules.py `evaluate` as the live path does (details formatted,
factors stored with them), its response code in the contract's order; fraud reports on
0.5% of them. Loaded by COPY on PostgreSQL and executemany in transactions of 50,000
rows on SQLite, the table's secondary indexes built after the load. No model scores
(the fresh database has none).

Then times `fraud.backtest.backtest` of the live version over all of them with each
`--workers` count, and of a draft with a lower decline threshold, and prints decisions,
changed, seconds and decisions/s with the load average at the start of each timing, and
whether the live version changed none (`changed == 0`: the decisions it made are
reproduced exactly).
"""

import argparse
import datetime
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import databases

ROOT = Path(__file__).resolve().parent.parent
SEP = "BENCH-RESULT "


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to time")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(f"load average at start: {_load()}", flush=True)
    for database in args.databases.split(","):
        if database not in ("sqlite", "postgres"):
            raise SystemExit(f"--databases: unknown {database!r} (sqlite, postgres)")
        with (
            tempfile.TemporaryDirectory(prefix="bench-backtest-") as workdir,
            databases.database(database, Path(workdir), args.postgres) as url,
        ):
            command = [sys.executable, __file__, "--child", "--rows", str(args.rows)]
            command += ["--seed", str(args.seed), "--workers", args.workers]
            env = {**os.environ, "DATABASE_URL": url, "LOG_DIR": "/tmp/cardsystem-bench-logs"}  # noqa: S108
            subprocess.run(command, env=env, check=True)


def _load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


# --- In the child: one database ---------------------------------------------------------------

START = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
MERCHANT = "BENCH-BT-"
LOAD_BATCH = 50_000
FEATURE_POOL = 2000


def child(args) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")
    import django

    django.setup()
    from dataclasses import replace

    from django.core.management import call_command
    from django.db import connection

    from cardsystem.audit import Actor
    from fraud.backtest import version_to_backtest
    from fraud.configuration import version_config
    from fraud.versions import config_version_create

    vendor = connection.vendor
    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    generating = fill(args.rows, args.seed)
    print(
        f"{vendor}: {args.rows:,} decisions generated and decided in {generating:.0f} s, "
        f"loaded with their indexes in {time.perf_counter() - started - generating:.0f} s",
        flush=True,
    )
    until = START + datetime.timedelta(seconds=3 * args.rows)
    live = version_to_backtest(None)
    workers = [int(n) for n in args.workers.split(",")]
    for count in workers:
        print(timed(vendor, live, f"live version {live.number}", START, until, count), flush=True)
    config = replace(version_config(live), decline_threshold=40, version=None)
    draft = config_version_create(
        actor=Actor.system("bench/backtest.py"), reason="bench: a lower decline threshold", config=config
    )
    label = f"draft version {draft.number} (decline from 40)"
    print(timed(vendor, draft, label, START, until, max(workers)), flush=True)


def timed(
    vendor: str, version, label: str, since: datetime.datetime, until: datetime.datetime, workers: int
) -> str:
    """One backtest of [since, until) under `version`, timed: its line of the report."""
    from fraud.backtest import backtest

    load = _load()
    started, cpu = time.perf_counter(), _cpu()
    report = backtest(version=version, since=since, until=until, workers=workers)
    elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
    line = (
        f"{vendor}: {label}, {report.workers} process(es): {report.decisions:,} decisions, "
        f"{report.changed:,} changed, {elapsed:.1f} s ({cpu:.1f} s of CPU), "
        f"{report.decisions / elapsed:,.0f} decisions/s (load average at start {load})"
        + (f"; {report.not_redecidable:,} not re-decidable" if report.not_redecidable else "")
    )
    if version.state == version.State.LIVE:
        line += f"; changed == 0: {report.changed == 0}"
    return line


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def features(rng: random.Random) -> dict:
    """Every catalogue feature, plausible: a pool of these is shared out to the rows."""
    from fraud import catalogue

    values = {}
    for feature in catalogue.FEATURES:
        if feature.unit == "flag":
            values[feature.name] = rng.random() < 0.2
        elif feature.unit and rng.random() < 0.05:  # nothing to compare with (counts never)
            values[feature.name] = None
        elif feature.unit in ("usd", "km", "km/h", "hours"):
            values[feature.name] = round(rng.lognormvariate(3, 1.2), 2)
        elif feature.unit in ("share", "times", "sd"):
            values[feature.name] = round(rng.random() * 3, 3)
        else:
            values[feature.name] = rng.randint(0, 12)
    values["cardholder_age"] = rng.randint(18, 90)
    values["home_country"] = "US"
    values["merchant_failures_long"] = values["merchant_attempts_long"] = None
    for window in ("merchant", "bin"):  # a window's failed checks and declines are among its transactions
        failures, declines = values[f"{window}_testing_failures"], values[f"{window}_testing_declines"]
        values[f"{window}_testing_attempts"] = failures + declines + rng.randint(0, 40)
    return values


def read_and_verified(rng: random.Random, channel: str) -> tuple[str, str, str, str]:
    """How the card was read and its holder verified (transactions/authentication_facts.py),
    plausible for the channel: entry mode, cardholder verification, 3-D Secure, device."""
    if channel == "ecommerce":
        three_ds = rng.choices(["authenticated", "not_performed", "attempted", "failed"], [56, 38, 4, 2])[0]
        device = f"device-{rng.randint(1, 500)}" if rng.random() < 0.9 else ""
        return rng.choice(["ecommerce", "ecommerce", "credential_on_file"]), "no_cvm", three_ds, device
    if channel == "atm":
        return "chip", rng.choices(["pin_verified", "pin_failed"], [98, 2])[0], "", ""
    entry = rng.choices(["chip", "contactless", "magstripe", "keyed"], [40, 56, 3, 1])[0]
    if entry == "contactless":
        cvm = rng.choices(["no_cvm", "consumer_device"], [85, 15])[0]
    elif entry == "keyed":
        cvm = "signature"
    else:
        cvm = rng.choices(["pin_verified", "signature", "pin_failed"], [88, 10, 2])[0]
    return entry, cvm, "", ""


def rule_inputs(rng: random.Random, cvv: str, at: datetime.datetime) -> dict:
    """The values the rules read, drawn afresh for each row."""
    count = rng.randint(0, 60)
    return {
        "card_count_1m": rng.choice([0, 0, 0, 1, 4]),
        "card_count_1h": rng.choice([0, 1, 2, 5, 12]),
        "card_count_24h": rng.randint(0, 35),
        "card_approved_count_30d": count,
        "card_approved_minor_30d": count * rng.randint(500, 9000),
        "card_approved_minor_1h": rng.choice([0, 0, 5000, 250_000]),
        "card_approved_minor_24h": rng.choice([0, 20_000, 600_000]),
        "previous_present_time": (at - datetime.timedelta(minutes=rng.randint(5, 5000))).isoformat(),
        "previous_present_country": rng.choice(["US", "GB", "JP", "BR"]),
        "merchant_recent_count": rng.randint(0, 200),
        "merchant_recent_fraud": rng.choice([0, 0, 0, 3]),
        "merchant_fraud_cards_90d": rng.choice([0, 0, 0, 1, 2, 4]),
        "card_check_streak": rng.choice([0, 1, 2]) if cvv == "mismatch" else None,
        "card_check_streak_expiries": 0 if cvv == "mismatch" else None,
        "card_verified_cvm_1h": rng.choice([0, 0, 0, 1]),
        "card_unverified_present_mccs_1h": rng.choice(["", "", "", "5311", "5732,5921"]),
    }


def decided_rows(count: int, seed: int, cards: list, config, sqlite: bool):
    """(transaction row, reported as fraud) for each decision, decided by the live version."""
    from fraud import rules
    from fraud.scoring import config_features

    rng = random.Random(seed)
    pool = [features(rng) for _ in range(FEATURE_POOL)]
    for i in range(count):
        at = START + datetime.timedelta(seconds=3 * i)
        card, masked = rng.choice(cards)
        cvv = rng.choices(["match", "mismatch", "absent", "unchecked"], [85, 3, 7, 5])[0]
        channel = rng.choice(["pos", "ecommerce", "ecommerce", "atm"])
        entry_mode, verification, three_ds, device = read_and_verified(rng, channel)
        facts = rules.Facts(
            amount_minor=int(rng.lognormvariate(8, 1.5)) + 100,
            currency="USD",
            merchant_id=f"{MERCHANT}{rng.randint(1, 5000)}",
            mcc=rng.choice(["5411", "5812", "5999", "7995", "4829", "5311", "5732", "5944"]),
            merchant_country=rng.choice(["US", "US", "US", "GB", "NG", "BR"]),
            channel=channel,
            transaction_time=at,
            cvv_result=cvv,
            expiry_result="match",
            bin_prefix="499977",
            entry_mode=entry_mode,
            cardholder_verification=verification,
            three_ds=three_ds,
        )
        values = {**rng.choice(pool), **rule_inputs(rng, cvv, at)}
        values.update(config_features(config, facts))
        verdict = rules.evaluate(facts, values, config, None)  # as the live path: details formatted
        # The contract's order: the CVV, the PIN, then a blocked country or category, then
        # the balance (some declined for funds), then risk.
        if cvv == "mismatch":
            code, status = "N7", "declined"
        elif verification == "pin_failed":
            code, status = "55", "declined"
        elif verdict.restriction:
            code, status = "57", "declined"
        elif rng.random() < 0.01:
            code, status = "51", "declined"
        elif verdict.decline:
            code, status = "59", "declined"
        elif verdict.verification:
            code, status = "1A", "declined"
        else:
            code, status = "00", "approved"
        ident = uuid.UUID(int=rng.getrandbits(128))
        factors = json.dumps([f.as_dict() for f in verdict.factors])
        yield (
            ident.hex if sqlite else ident, card, masked, facts.bin_prefix, facts.amount_minor,
            facts.currency, facts.merchant_id, facts.mcc, facts.merchant_country, facts.channel,
            str(at.replace(tzinfo=None)) if sqlite else at, status, code, "bench", cvv,
            facts.expiry_result, verdict.score, verdict.level, factors, json.dumps(values),
            config.version, bool(verdict.review or verdict.block_card), entry_mode, verification, three_ds,
            device,
        ), rng.random() < 0.005  # fmt: skip


FIELDS = (
    "id", "card", "masked_pan", "bin_prefix", "amount_minor", "currency", "merchant_id", "mcc",
    "merchant_country", "channel", "transaction_time", "status", "response_code", "reason", "cvv_result",
    "expiry_result", "risk_score", "risk_level", "risk_factors", "risk_features", "risk_config_version",
    "flagged", "entry_mode", "cardholder_verification", "three_ds", "device_hash",
)  # fmt: skip


def fill(rows: int, seed: int) -> float:
    """Generate, decide and load `rows` decisions; returns the seconds spent generating and deciding."""
    from django.db import connection, transaction
    from django.utils import timezone

    from bins.services import bin_create
    from cards.models import Card
    from cards.services import card_issue_bulk
    from cardsystem.audit import Actor
    from fraud.backtest import version_to_backtest
    from fraud.configuration import version_config
    from transactions.models import FraudReport, Transaction

    actor = Actor.system("bench/backtest.py")
    with transaction.atomic():
        bin_row = bin_create(
            actor=actor, bin="499977", network="visa", issuer_name="Bench Bank", card_type="debit",
            country="US", currency="USD", pan_length=16,
        )  # fmt: skip
        card_issue_bulk(bin=bin_row, count=200, actor=actor, on_issued=lambda issued: None)
    sqlite = connection.vendor == "sqlite"
    cards = [
        (pk.hex if sqlite else pk, masked)
        for pk, masked in Card.objects.filter(bin=bin_row).values_list("pk", "masked_pan")
    ]
    config = version_config(version_to_backtest(None))
    meta = Transaction._meta
    table = connection.ops.quote_name(meta.db_table)
    now = timezone.now()
    # The columns the rows leave out, at their defaults, for COPY (which knows none).
    constants = {
        "merchant_name": "", "risk_rules": "", "client": None, "reversed_at": None,
        "created_at": str(now.replace(tzinfo=None)) if sqlite else now,
    }  # fmt: skip
    names = [*FIELDS, *constants]
    missing = {f.name for f in meta.concrete_fields} - set(names)
    if missing:
        raise SystemExit(f"bench/backtest.py: give the new Transaction fields a value: {sorted(missing)}")
    columns = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in names)
    tail = tuple(constants.values())
    generating = 0.0
    reported = []
    with connection.schema_editor() as editor:  # indexes after the load: one sort each, not a million updates
        for index in meta.indexes:
            editor.remove_index(Transaction, index)
    rows = decided_rows(rows, seed, cards, config, sqlite)
    with connection.cursor() as cursor:
        while True:
            started = time.perf_counter()
            batch = []
            for row, is_fraud in rows:
                batch.append(row + tail)
                if is_fraud:
                    reported.append(row)
                if len(batch) == LOAD_BATCH:
                    break
            generating += time.perf_counter() - started
            if not batch:
                break
            with transaction.atomic():
                if sqlite:
                    marks = ", ".join(["%s"] * len(names))
                    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)  # noqa: S608
                else:
                    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
    with connection.schema_editor() as editor:
        for index in meta.indexes:
            editor.add_index(Transaction, index)
    FraudReport.objects.bulk_create(
        [
            FraudReport(
                transaction_id=uuid.UUID(str(row[0])),
                card_id=uuid.UUID(str(row[1])),
                reason="bench",
                reported_at=START,
                merchant_id=row[6],
                transaction_time=datetime.datetime.fromisoformat(str(row[10])).replace(tzinfo=datetime.UTC),
            )
            for row in reported
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return generating


if __name__ == "__main__":
    main()
