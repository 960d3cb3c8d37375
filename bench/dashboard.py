"""How long the dashboard's figures (the admin's front page) take on a million transactions.

    .venv/bin/python bench/dashboard.py [--rows 1000000] [--seed 1] [--repeat 3]
        [--databases sqlite,postgres] [--postgres postgres://postgres@127.0.0.1:5432/postgres]

For each database, a throwaway one (a temporary SQLite file; a PostgreSQL database
created beside the one `--postgres` names), migrated, filled and removed at the end
whatever happens, by a child process of this script. The fill is bench/rule_performance.py's:
`--rows` decisions over the 30 days up to now, bulk-inserted, fraud reports on 1 %, two
configuration versions, the second naming a model (here promoted, so that the model's
panel has figures); then an alert on every flagged decision (about 8 %): those of the
last 3 days open, the others resolved. Then ANALYZE (VACUUM ANALYZE on PostgreSQL).

For the last 24 hours, 7 and 30 days it times, best of `--repeat`, each figure's query
(transactions/dashboard.py, fraud/dashboard.py), the whole page as a staff member gets
it (GET /admin/?period=..., rendered: once cold, the performance rollup emptied first,
then warm), and a baseline in the same process: `SELECT count(*)` of the period's
transactions, read by the transaction_time index. Prints milliseconds and the ratio to
that baseline, and the load average: other work on the machine skews every number.
"""

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import databases

ROOT = Path(__file__).resolve().parent.parent
PERIODS = ("24h", "7d", "30d")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    for database in args.databases.split(","):
        if database not in ("sqlite", "postgres"):
            raise SystemExit(f"--databases: unknown {database!r} (sqlite, postgres)")
        with (
            tempfile.TemporaryDirectory(prefix="bench-dashboard-") as workdir,
            databases.database(database, Path(workdir), args.postgres) as url,
        ):
            command = [sys.executable, __file__, "--child", "--rows", str(args.rows)]
            command += ["--seed", str(args.seed), "--repeat", str(args.repeat)]
            env = {**os.environ, "DATABASE_URL": url, "LOG_DIR": "/tmp/cardsystem-bench-logs"}  # noqa: S108
            subprocess.run(command, env=env, check=True)


def _load() -> str:
    return " ".join(f"{n:.1f}" for n in os.getloadavg())


# --- In the child: one database ---------------------------------------------------------------


def child(args) -> None:
    databases.django_in_process("bench-dashboard-")
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0, interactive=False)
    import rule_performance  # its fill, on this process's database

    end = timezone.now()
    started = time.monotonic()
    _live_model()
    rule_performance.load(args.rows, args.seed, end)
    rule_performance.report_fraud(end)  # ends with ANALYZE
    alerts = _alerts(end)
    print(
        f"{connection.vendor}: {args.rows:,} transactions over 30 days up to {end:%Y-%m-%d %H:%M} UTC, "
        f"{alerts:,} alerts, built in {time.monotonic() - started:.0f} s (load average {_load()})",
        flush=True,
    )
    print(f"{'period':<7}{'figure':<52}{'best ms':>9}{'x count(*)':>12}")
    for key in PERIODS:
        for name, best, ratio in _timings(key, args.repeat):
            print(f"{key:<7}{name:<52}{best:>9.0f}{ratio:>12.1f}", flush=True)
    print(f"load average at the end: {_load()}")


def _live_model() -> None:
    """Version 2 names a model and is live: rule_performance's rows are of versions 1 and 2."""
    from dataclasses import replace

    from cardsystem.audit import Actor
    from fraud.configuration import ModelChoice, RuleConfig, read_config
    from fraud.models import FraudModel
    from fraud.versions import config_version_create, config_version_promote

    actor = Actor.system("bench/dashboard.py")
    model = FraudModel.objects.create(version=1, created_by="bench", artifact="-")
    config = read_config()
    rules = {**config.rules, "model": RuleConfig(20, {}, True)}
    version = config_version_create(
        actor=actor,
        reason="With a model.",
        config=replace(config, model=ModelChoice(model.pk, 1), rules=rules),
    )
    config_version_promote(version=version, actor=actor, reason="With a model.")


def _alerts(end: datetime.datetime) -> int:
    """An alert on every flagged decision, opened at its time: open for the last 3 days."""
    from django.db import connection
    from django.db.models import OuterRef, Subquery

    from bins.services import bin_create
    from cards.models import Card
    from cards.services import card_issue_bulk
    from cardsystem.audit import Actor
    from fraud.models import FraudAlert
    from transactions.models import Transaction

    actor = Actor.system("bench/dashboard.py")
    bin_row = bin_create(
        actor=actor, bin="499988", network="visa", issuer_name="Bench Bank", card_type="debit",
        country="US", currency="USD", pan_length=16,
    )  # fmt: skip
    card_issue_bulk(bin=bin_row, count=1, actor=actor, on_issued=lambda issued: None)
    card = Card.objects.get(bin=bin_row)
    flagged = Transaction.objects.filter(flagged=True).order_by().values_list("pk", "transaction_time")
    recent = end - datetime.timedelta(days=3)
    batch = []
    for pk, at in flagged.iterator(chunk_size=20_000):
        unresolved = at >= recent
        batch.append(
            FraudAlert(
                transaction_id=pk,
                card=card,
                risk_score=60,
                reason="bench",
                status=FraudAlert.Status.OPEN if unresolved else FraudAlert.Status.FALSE_POSITIVE,
                resolved_at=None if unresolved else at,
            )
        )
        if len(batch) == 20_000:
            FraudAlert.objects.bulk_create(batch)
            batch = []
    FraudAlert.objects.bulk_create(batch)
    # auto_now_add stamped them now: each was opened at its decision.
    FraudAlert.objects.update(
        created_at=Subquery(
            Transaction.objects.filter(pk=OuterRef("transaction_id")).values("transaction_time")
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return FraudAlert.objects.count()


def _best(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def _timings(key: str, repeat: int, *, host: str = "localhost", charts: int = 8):
    """(figure, best ms, ratio to the period's count(*)) for one period. The page must
    answer 200 with `charts` charts (8 with alerts and a live model)."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from cardsystem.dashboard import period_from
    from fraud import dashboard as fraud_panels
    from fraud.models import PerformanceCount, PerformanceDay, PerformanceMark
    from transactions import dashboard as transaction_panels
    from transactions.models import DecisionDay

    def period():
        return period_from(key)[0]

    def count():
        transaction_panels.in_period(period()).count()

    def every_row():
        p = period()
        transaction_panels.count_rows(
            transaction_panels.Figures.empty(), p.since, p.until, p.trunc("transaction_time")
        )

    figures = [
        ("decisions: every row, 1 GROUP BY", every_row),
        (
            "decisions: daily rollup, edges live",
            lambda: transaction_panels.period_figures(period()),
        ),
        (
            "fraud reported by transaction date, per currency",
            lambda: transaction_panels.fraud_reports_panel(period()),
        ),
        ("open alerts by age (now)", lambda: fraud_panels.backlog(timezone.now())),
        ("rule and model tallies, warm (rollup)", lambda: fraud_panels.tallies(period())),
    ]
    baseline = _best(count, repeat)
    yield "baseline: count(*) of the period's transactions", baseline, 1.0
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST=host)
    client.force_login(user)

    def page():
        response = client.get("/admin/", {"period": key})
        drawn = response.content.count(b"data-chart=")
        if response.status_code != 200 or drawn != charts:
            raise SystemExit(f"the page answered {response.status_code} with {drawn} charts, not {charts}")

    for model in (PerformanceMark, PerformanceCount, PerformanceDay, DecisionDay):
        model.objects.all().delete()
    cold = _best(page, 1)
    for name, function in figures:
        best = _best(function, repeat)
        yield name, best, best / baseline
    warm = _best(page, repeat)
    yield "whole page, cold (the rollups empty)", cold, cold / baseline
    yield "whole page, warm (rendered, as GET /admin/)", warm, warm / baseline


if __name__ == "__main__":
    main()
