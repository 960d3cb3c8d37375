"""What a CSV export of the transactions list holds in memory, and how long it takes, as
the list grows: the export streamed as the back office serves it, against merely reading
the same rows, and against writing the whole file in one piece.

    .venv/bin/python bench/export.py [--rows 100000,200000] [--database sqlite|postgres]

A fresh database (a throwaway SQLite file, or a throwaway PostgreSQL database
`cardsystem_bench_<pid>` on 127.0.0.1:5432, as bench/databases.py makes them), migrated,
then filled with transactions of unknown cards (masked numbers, no card row: the export
reads the stored masked number and joins nothing), bulk-inserted up to each size of
`--rows` in turn, secondary indexes dropped during the load and re-created after it.
At each size, in this process, one after the other:

- read: `values_list(<the export's fields>).iterator(chunk_size=2000)` over the list's
  queryset, each row dropped: the floor of any export;
- export: the admin's export view (cardsystem/exports.py) called with a superuser's
  request, its streamed body read piece by piece and dropped, as a server sends it;
- one piece: the same CSV text joined into one string, as an HttpResponse would hold it.

Each is run twice: once timed, once under tracemalloc for its peak of Python memory
(tracemalloc slows Python down, so the two are apart). Prints rows, bytes, seconds and
peak MiB of each. The database is removed at the end, even on failure or Ctrl-C.
"""

import argparse
import datetime
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from authorizations import server_env
from databases import ROOT, database, django_in_process

LOAD_BATCH = 5000
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def fill(upto: int, have: int) -> None:
    """Insert transactions `have`..`upto`, one a second from START."""
    from django.db import connection, transaction

    from transactions.models import Transaction

    with connection.schema_editor() as editor:  # indexes after the load: one sort each
        for index in Transaction._meta.indexes:
            editor.remove_index(Transaction, index)
    for first in range(have, upto, LOAD_BATCH):
        with transaction.atomic():
            Transaction.objects.bulk_create(
                [_transaction(n) for n in range(first, min(first + LOAD_BATCH, upto))]
            )
    with connection.schema_editor() as editor:
        for index in Transaction._meta.indexes:
            editor.add_index(Transaction, index)


def _transaction(n: int):
    from transactions.models import Transaction

    at = START + datetime.timedelta(seconds=n)
    declined = n % 20 == 0
    return Transaction(
        id=uuid.UUID(int=n + 1),
        masked_pan=f"400000******{n % 10_000:04d}",
        bin_prefix="400000",
        amount_minor=100 + n % 50_000,
        currency="USD",
        merchant_id=f"M-{n % 997}",
        merchant_name=f"Merchant {n % 997} & Sons, Ltd.",
        mcc="5411",
        merchant_country="US",
        channel="pos",
        transaction_time=at,
        status="declined" if declined else "approved",
        response_code="51" if declined else "00",
        reason="insufficient_funds" if declined else "approved",
        risk_score=n % 100,
        risk_level="low",
        risk_factors=[{"code": "velocity_1h", "score": 5, "detail": "3 in the last hour"}],
    )


def _request():
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    user, _ = get_user_model().objects.get_or_create(
        username="bench-export", defaults={"is_staff": True, "is_superuser": True}
    )
    request = RequestFactory().get("/admin/transactions/transaction/export/")
    request.user = user
    return request


def read(model_admin) -> int:
    from cardsystem.exports import Columns

    request = _request()
    fields = Columns(model_admin.export_columns).fields
    queryset = model_admin.get_changelist_instance(request).queryset
    size = 0
    for _ in queryset.values_list(*fields).iterator(chunk_size=2000):
        size += 1
    return size


def export(model_admin) -> int:
    response = model_admin.export_view(_request())
    return sum(len(piece) for piece in response.streaming_content)


def one_piece(model_admin) -> int:
    response = model_admin.export_view(_request())
    return len(b"".join(response.streaming_content))


WAYS = {"read": read, "export": export, "one piece": one_piece}


def measure(model_admin, way) -> tuple[int, float, float]:
    started = time.perf_counter()
    size = way(model_admin)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    way(model_admin)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size, seconds, peak / 2**20


def run(sizes: list[int]) -> None:
    from django.contrib import admin
    from django.core.management import call_command
    from django.db import connection

    from transactions.models import Transaction

    call_command("migrate", verbosity=0)
    model_admin = admin.site._registry[Transaction]
    print(f"{connection.vendor}; load average {os.getloadavg()[0]:.2f} at the start")
    print(f"{'rows':>9} {'way':<10} {'rows or bytes':>14} {'seconds':>8} {'peak MiB':>9}")
    have = 0
    for size in sizes:
        started = time.perf_counter()
        fill(size, have)
        have = size
        print(f"{size:>9} (loaded in {time.perf_counter() - started:.0f} s)")
        for name, way in WAYS.items():
            count, seconds, peak = measure(model_admin, way)
            print(f"{size:>9} {name:<10} {count:>14} {seconds:>8.2f} {peak:>9.1f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="100000,200000", help="sizes, ascending, comma-separated")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.rows.split(","))
    with (
        tempfile.TemporaryDirectory(prefix="bench-export-") as tmp,
        database(args.database, Path(tmp), args.postgres_url) as url,
    ):
        (Path(tmp) / "logs").mkdir()
        os.environ.update(server_env(url, Path(tmp) / "logs"))
        os.environ["ALLOWED_HOSTS"] = "testserver"
        django_in_process("bench-export-")
        run(sizes)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
