"""How long a merchant's page and the busiest merchants' list take on a million stored
decisions.

    .venv/bin/python bench/merchant_page.py [--rows 1000000] [--seed 1] [--repeat 3]
    DATABASE_URL=postgres://.../EMPTY_DB .venv/bin/python bench/merchant_page.py [--reuse]

Loads `--rows` decisions over the 30 days up to now as bench/rule_performance.py does
(its `load`: merchants M-1..M-10000 picked evenly, about 100 rows each), then gives one
merchant in ten of the rows, M-BUSY (about 100,000 rows: a marketplace), and fraud
reports on 1% of the decisions with their merchant copied, as the service copies it.
Then times, best and mean of `--repeat`, what the merchant's page reads
(transactions/admin_merchants.py, fraud/page_sections.py) for M-BUSY and for an
ordinary merchant, over 24 hours, 7 and 30 days, and the busiest merchants' list of each
period. `--reuse` times what an earlier run left in the database DATABASE_URL names.
Prints the load average at the start: other work on the machine skews every number.
"""

import argparse
import datetime
import os

from databases import django_in_process
from rule_performance import load, report_fraud, timed

django_in_process("bench-merchant-page-")

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.utils import timezone  # noqa: E402

from fraud.page_sections import merchant_alerts  # noqa: E402
from transactions import admin_merchants  # noqa: E402
from transactions.models import FraudReport, Transaction  # noqa: E402

BUSY = "M-BUSY"
ORDINARY = "M-42"
PERIODS = {"24h": 1, "7d": 7, "30d": 30}


def make_one_merchant_busy() -> None:
    """One row in ten (by the first hex digits of its random id) goes to BUSY."""
    table = connection.ops.quote_name(Transaction._meta.db_table)
    key = "id" if connection.vendor == "sqlite" else "id::text"
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET merchant_id = %s WHERE {key} < %s", [BUSY, "1a"])  # noqa: S608


def copy_merchants_to_reports() -> None:
    merchants = dict(
        Transaction.objects.filter(fraud_report__isnull=False).values_list("pk", "merchant_id").iterator()
    )
    reports = list(FraudReport.objects.all())
    for report in reports:
        report.merchant_id = merchants[report.transaction_id]
    FraudReport.objects.bulk_update(reports, ["merchant_id"], batch_size=5000)


def parts(merchant_id: str, since: datetime.datetime) -> dict:
    """What the merchant's page reads, each part with its table of rows rendered."""
    return {
        "latest transactions": lambda: admin_merchants._latest_transactions(merchant_id),
        "figures": lambda: admin_merchants.merchant_figures(merchant_id, since),
        "by response code": lambda: admin_merchants._codes_table(merchant_id, since),
        "fraud reports": lambda: admin_merchants._reports_table(merchant_id),
        "alerts (none in this data)": lambda: merchant_alerts(merchant_id, since=since),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="time what an earlier run left in DATABASE_URL")
    args = parser.parse_args()
    load_average = os.getloadavg()[0]
    call_command("migrate", verbosity=0, interactive=False)
    if args.reuse:
        end = Transaction.objects.aggregate(end=Max("transaction_time"))["end"]
        built = 0.0
    else:
        end = timezone.now()
        built = load(args.rows, args.seed, end)
        make_one_merchant_busy()
        built += report_fraud(end)
        copy_merchants_to_reports()
    rows = {m: Transaction.objects.filter(merchant_id=m).count() for m in (BUSY, ORDINARY)}
    print(
        f"{connection.vendor}: {Transaction.objects.count():,} decisions up to {end:%Y-%m-%d %H:%M} UTC, "
        f"built in {built:.0f} s (load average {load_average:.1f} at the start); "
        f"{BUSY} {rows[BUSY]:,} rows, {ORDINARY} {rows[ORDINARY]:,}"
    )
    print(f"{'period':<8}{'what':<40}{'best ms':>10}{'mean ms':>10}")
    for label, days in PERIODS.items():
        since = end - datetime.timedelta(days=days)
        measured = [
            *[(f"{BUSY}: {part}", read) for part, read in parts(BUSY, since).items()],
            *[(f"{ORDINARY}: {part}", read) for part, read in parts(ORDINARY, since).items()],
            ("busiest merchants", lambda s=since: admin_merchants.top_merchants(s)),
        ]
        for what, function in measured:
            best, mean = timed(function, args.repeat)
            print(f"{label:<8}{what:<40}{best:>10.1f}{mean:>10.1f}")


if __name__ == "__main__":
    main()
