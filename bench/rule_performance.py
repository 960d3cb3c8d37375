"""How long the rule performance page's figures take on a million stored decisions.

    .venv/bin/python bench/rule_performance.py [--rows 1000000] [--seed 1] [--repeat 3]
    DATABASE_URL=postgres://.../EMPTY_DB .venv/bin/python bench/rule_performance.py [--reuse]

Builds a fresh database (a throwaway SQLite file unless DATABASE_URL names an empty
one, which it migrates and fills) holding `--rows` decisions over the 30 days up to now,
bulk-inserted (executemany on SQLite, COPY on PostgreSQL): each with a risk score, level
and outcome, stored factors and features of a real decision's size, a rule summary
(risk_rules) of the engine's rules, each firing independently with odds 0.3 / rank (the
first in 3, the 22nd in 73), some marked decisive on reviews and declines, one of two
configuration versions (the second naming a model), and fraud reports on 1% of them.
Then, over the last 24 hours, 7 days and 30 days, times the page's figures
(fraud/performance_counts.py: every rule, every version, every model version): cold (the
daily rollup emptied first, so the page counts the period's complete days into it) and
warm (best and mean of `--repeat` views), and the same figures counted live from the
rows alone, as before the rollup (`--no-live` leaves that out: 30 days of a million rows
take long on SQLite). `--reuse` times the decisions an earlier run left in the database
DATABASE_URL names, without loading. Prints the load average at the start and the end:
other work on the machine skews every number.
"""

import argparse
import datetime
import json
import os
import random
import time
import uuid
from dataclasses import replace

from databases import django_in_process

django_in_process("bench-rule-performance-")

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.utils import timezone  # noqa: E402

from cardsystem.audit import Actor  # noqa: E402
from fraud import performance, performance_counts  # noqa: E402
from fraud.configuration import ModelChoice, read_config  # noqa: E402
from fraud.models import FraudModel, PerformanceCount, PerformanceDay, PerformanceMark, Rule  # noqa: E402
from fraud.versions import config_version_create  # noqa: E402
from transactions.models import FraudReport, Transaction  # noqa: E402

UTC = datetime.UTC
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


def rows(count: int, rng: random.Random, codes: list[str], sqlite: bool, end: datetime.datetime):
    features = json.dumps({f"feature_{i}": round(rng.random() * 100, 3) for i in range(60)})
    weights = [o[0] for o in OUTCOMES]
    odds = [0.3 / (rank + 1) for rank in range(len(codes))]
    for i in range(count):
        at = end - datetime.timedelta(seconds=DAYS * 86400 * (count - i) / count)
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


def load(count: int, seed: int, end: datetime.datetime) -> float:
    rng = random.Random(seed)
    codes = list(Rule.objects.values_list("code", flat=True))
    sqlite = connection.vendor == "sqlite"
    table = connection.ops.quote_name(Transaction._meta.db_table)
    columns = ", ".join(Transaction._meta.get_field(f).column for f in FIELDS)
    started = time.monotonic()
    generated = rows(count, rng, codes, sqlite, end)
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


def report_fraud(end: datetime.datetime) -> float:
    """Fraud reports on every 100th decision, unless some exist."""
    started = time.monotonic()
    if not FraudReport.objects.exists():
        fraud = Transaction.objects.order_by().values_list("pk", "transaction_time")
        picked = [(pk, at) for n, (pk, at) in enumerate(fraud.iterator(chunk_size=BATCH)) if n % 100 == 7]
        FraudReport.objects.bulk_create(
            [
                FraudReport(transaction_id=pk, reason="Dispute.", reported_at=end, transaction_time=at)
                for pk, at in picked
            ],
            batch_size=5000,
        )
    with connection.cursor() as cursor:
        # On PostgreSQL, VACUUM as autovacuum would have done on a table this size: the
        # visibility map lets the rollup's check COUNT read the transaction_time index only.
        cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM ANALYZE")
    return time.monotonic() - started


def timed(function, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times) * 1000, sum(times) / len(times) * 1000


def page(since: datetime.datetime, until: datetime.datetime) -> None:
    """The page's figures, as fraud/admin/performance.py counts them (at `until`)."""
    counted = performance_counts.period_tallies(since=since, until=until, now=until)
    performance.rules_from(counted.tallies)
    performance.model_performance(performance.versions_from(counted.tallies))


def live(since: datetime.datetime, until: datetime.datetime) -> None:
    """The same figures from the period's rows alone, as before the rollup."""
    tallies = performance_counts.live_tallies(performance_counts.decisions(since=since, until=until))
    performance.rules_from(tallies)
    performance.model_performance(performance.versions_from(tallies))


def empty_rollup() -> None:
    for model in (PerformanceMark, PerformanceCount, PerformanceDay):
        model.objects.all().delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--reuse", action="store_true", help="time the decisions an earlier run left in DATABASE_URL"
    )
    parser.add_argument("--no-live", action="store_true", help="leave out the figures counted live")
    args = parser.parse_args()
    load_average = os.getloadavg()[0]
    call_command("migrate", verbosity=0, interactive=False)
    if args.reuse:
        # The data's own "now": just after its latest decision, so that its last day is partial.
        end = Transaction.objects.aggregate(end=Max("transaction_time"))["end"] + datetime.timedelta(
            seconds=1
        )
        built = report_fraud(end)
    else:
        end = timezone.now()
        model = FraudModel.objects.create(version=1, created_by="bench", artifact="-")
        config = replace(read_config(), model=ModelChoice(model.pk, 1))
        config_version_create(actor=Actor.system("bench"), reason="With a model.", config=config)
        built = load(args.rows, args.seed, end) + report_fraud(end)
    args.rows = Transaction.objects.count()
    print(
        f"{connection.vendor}: {args.rows:,} decisions up to {end:%Y-%m-%d %H:%M} UTC, "
        f"built in {built:.0f} s "
        f"(load average {load_average:.1f} at the start)"
    )
    print(f"{'period':<8}{'figures':<44}{'best ms':>10}{'mean ms':>10}")
    for label, days in (("24h", 1), ("7d", 7), ("30d", 30)):
        since = end - datetime.timedelta(days=days)
        empty_rollup()
        cold, _ = timed(lambda s=since: page(s, end), 1)
        counted = performance_counts.period_tallies(since=since, until=end, now=end)
        warm = timed(lambda s=since: page(s, end), args.repeat)
        lines = [
            (
                f"page, cold ({len(counted.counted) or counted.rolled_up} days counted into the rollup)",
                (cold, cold),
            ),
            (f"page, warm ({counted.rolled_up} days from the rollup)", warm),
        ]
        if not args.no_live:
            lines.append(
                ("live from the rows alone (before the rollup)", timed(lambda s=since: live(s, end), 1))
            )
        for name, (best, mean) in lines:
            print(f"{label:<8}{name:<44}{best:>10.0f}{mean:>10.0f}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
