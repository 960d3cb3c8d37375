"""How long the rule performance page's figures take on a million stored decisions.

    .venv/bin/python bench/rule_performance.py [--rows 1000000] [--seed 1] [--repeat 3]
    DATABASE_URL=postgres://.../EMPTY_DB .venv/bin/python bench/rule_performance.py [--reuse]

Builds a fresh database (a throwaway SQLite file unless DATABASE_URL names an empty
one, which it migrates and fills) holding `--rows` decisions over 30 days, bulk-inserted
(executemany on SQLite, COPY on PostgreSQL): each with a risk score, level and outcome,
stored factors and features of a real decision's size, a rule summary (risk_rules) of
the engine's rules, each firing independently with odds 0.3 / rank (the first in 3, the
22nd in 73), some marked decisive on reviews and declines, one of two configuration versions
(the second naming a model), and fraud reports on 1% of them. Then times each figure
of fraud/performance.py (best and mean of `--repeat` runs) over the last 24 hours, 7
days and the whole 30 days, and, for comparison, one rule's hits counted from the
stored factors' JSON (PostgreSQL only: `risk_factors @> ...`). `--reuse` times the
decisions an earlier run left in the database DATABASE_URL names, without loading. Prints the load average
it started with: other work on the machine skews every number.
"""

import argparse
import datetime
import json
import os
import random
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")
os.environ.setdefault("LOG_DIR", "/tmp/cardsystem-bench-logs")  # noqa: S108 (a bench's throwaway logs)
_TMP = tempfile.TemporaryDirectory(prefix="bench-rule-performance-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_TMP.name}/bench.sqlite3")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from cardsystem.audit import Actor  # noqa: E402
from fraud import performance  # noqa: E402
from fraud.configuration import ModelChoice, read_config  # noqa: E402
from fraud.models import FraudModel, Rule  # noqa: E402
from fraud.versions import config_version_create  # noqa: E402
from transactions.models import FraudReport, Transaction  # noqa: E402

UTC = datetime.UTC
END = datetime.datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 30
BATCH = 20_000
OUTCOMES = [  # weight, status, response code, reason, level, flagged
    (90, "approved", "00", "approved", "low", False),
    (5, "approved", "00", "approved", "medium", True),
    (3, "declined", "59", "suspected_fraud", "high", True),
    (2, "declined", "51", "insufficient_funds", "low", False),
]
FIELDS = (
    "id", "masked_pan", "bin_prefix", "amount_minor", "currency", "merchant_id", "merchant_name", "mcc",
    "merchant_country", "channel", "transaction_time", "status", "response_code", "reason", "cvv_result",
    "expiry_result", "risk_score", "risk_level", "risk_factors", "risk_features", "risk_config_version",
    "risk_rules", "flagged", "created_at",
)  # fmt: skip


def rows(count: int, rng: random.Random, codes: list[str], sqlite: bool):
    features = json.dumps({f"feature_{i}": round(rng.random() * 100, 3) for i in range(60)})
    weights = [o[0] for o in OUTCOMES]
    odds = [0.3 / (rank + 1) for rank in range(len(codes))]
    for i in range(count):
        at = END - datetime.timedelta(seconds=DAYS * 86400 * (count - i) / count)
        _, status, code, reason, level, flagged = rng.choices(OUTCOMES, weights)[0]
        # The engine's rules fire unevenly: the first few often, most rarely.
        fired = [c for c, p in zip(codes, odds, strict=True) if rng.random() < p]
        tokens = [f"{c}!" if level != "low" and rng.random() < 0.3 else c for c in fired]
        factors = json.dumps(
            [{"code": c, "score": 10, "detail": f"The rule {c} fired on this."} for c in fired]
        )
        stamp = str(at.replace(tzinfo=None)) if sqlite else at
        ident = uuid.UUID(int=rng.getrandbits(128))
        yield (
            ident.hex if sqlite else ident, "400000******0002", "400000", rng.randint(100, 100_000), "USD",
            f"M-{rng.randint(1, 10_000)}", "Shop", "5999", "US", "pos", stamp, status, code, reason,
            "match", "match", {"low": 10, "medium": 50, "high": 80}[level], level, factors, features,
            1 if i < count // 2 else 2, f",{','.join(tokens)}," if tokens else "", flagged, stamp,
        )  # fmt: skip


def load(count: int, seed: int) -> float:
    rng = random.Random(seed)
    codes = list(Rule.objects.values_list("code", flat=True))
    sqlite = connection.vendor == "sqlite"
    table = connection.ops.quote_name(Transaction._meta.db_table)
    columns = ", ".join(Transaction._meta.get_field(f).column for f in FIELDS)
    started = time.monotonic()
    generated = rows(count, rng, codes, sqlite)
    with connection.cursor() as cursor:
        while True:
            batch = [row for _, row in zip(range(BATCH), generated, strict=False)]
            if not batch:
                break
            with transaction.atomic():
                if sqlite:
                    marks = ", ".join(["%s"] * len(FIELDS))
                    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)  # noqa: S608
                else:
                    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
    return time.monotonic() - started


def report_fraud() -> float:
    """Fraud reports on every 100th decision, unless some exist."""
    started = time.monotonic()
    if not FraudReport.objects.exists():
        fraud = Transaction.objects.order_by().values_list("pk", "transaction_time")
        picked = [(pk, at) for n, (pk, at) in enumerate(fraud.iterator(chunk_size=BATCH)) if n % 100 == 7]
        FraudReport.objects.bulk_create(
            [
                FraudReport(transaction_id=pk, reason="Dispute.", reported_at=END, transaction_time=at)
                for pk, at in picked
            ],
            batch_size=5000,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.monotonic() - started


def timed(function, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times) * 1000, sum(times) / len(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--reuse", action="store_true", help="time the decisions an earlier run left in DATABASE_URL"
    )
    args = parser.parse_args()
    load_average = os.getloadavg()[0]
    if not args.reuse:
        call_command("migrate", verbosity=0, interactive=False)
        model = FraudModel.objects.create(version=1, created_by="bench", artifact="-")
        config = replace(read_config(), model=ModelChoice(model.pk, 1))
        config_version_create(actor=Actor.system("bench"), reason="With a model.", config=config)
    built = (0 if args.reuse else load(args.rows, args.seed)) + report_fraud()
    args.rows = Transaction.objects.count()
    print(
        f"{connection.vendor}: {args.rows:,} decisions, built in {built:.0f} s "
        f"(load average {load_average:.1f})"
    )
    print(f"{'figure':<34}{'period':>8}{'best ms':>10}{'mean ms':>10}")
    for label, days in (("24h", 1), ("7d", 7), ("30d", DAYS)):
        since = END - datetime.timedelta(days=days)
        versions = performance.version_performance(since=since, until=END)
        figures = {
            "per rule (all rules, one query)": lambda s=since: performance.rule_performance(
                since=s, until=END
            ),
            "per rule, version 2 only": lambda s=since: performance.rule_performance(
                since=s, until=END, version=2
            ),
            "per version (one query)": lambda s=since: performance.version_performance(since=s, until=END),
            "per model version (from versions)": lambda v=versions: performance.model_performance(v),
        }
        if connection.vendor == "postgresql":
            figures["one rule from factors JSON (@>)"] = lambda s=since: (
                performance.decisions(since=s, until=END)
                .filter(risk_factors__contains=[{"code": "amount_large"}])
                .count()
            )
        for name, function in figures.items():
            best, mean = timed(function, args.repeat)
            print(f"{name:<34}{label:>8}{best:>10.0f}{mean:>10.0f}")


if __name__ == "__main__":
    main()
