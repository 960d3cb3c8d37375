"""A long backtest split across processes: the window cut into parts of about as many
decisions each, each part backtested by fraud/backtest.py in a process of its own (its own
database connection, its own core), the reports added up.

Worker processes are started afresh (spawn), not forked: a fork would share the parent's
database connection and, once LightGBM has run in the parent, its OpenMP threads, which
hang a forked child. So this module imports nothing of Django's at the top: a new process
unpickles these functions before Django is set up, then `_set_up` does it, on the
parent's very database (in a test, the test database).
"""

import datetime
import itertools
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

# Fewer decisions than this per worker: one process is quicker than starting another
# (a new process sets Django up in about a second).
MIN_PER_WORKER = 50_000


def parts(rows, since: datetime.datetime, until: datetime.datetime, workers: int) -> list[tuple]:
    """[since, until) cut at the transaction times that share `rows` (the window's
    decisions, a queryset) out about evenly: at most `workers` parts, one when there
    are too few decisions for more. Parts do not overlap: each is since-inclusive,
    until-exclusive."""
    count = rows.count()
    workers = max(1, min(workers, count // MIN_PER_WORKER))
    times = rows.order_by("transaction_time").values_list("transaction_time", flat=True)
    cuts = sorted({times[count * k // workers] for k in range(1, workers)} - {since})
    bounds = [since, *cuts, until]
    return list(itertools.pairwise(bounds))


def can_split(connection) -> bool:
    """Other processes see what this one does only outside a transaction (uncommitted
    rows are its own) and on a database they can open (not an in-memory SQLite)."""
    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()
    return not connection.in_atomic_block and not in_memory


def run(version_pk: int, windows: list[tuple]):
    """The reports of each window, backtested in as many new processes, each as soon as
    its process is done."""
    from django.conf import settings
    from django.db import connection

    with ProcessPoolExecutor(
        max_workers=len(windows),
        mp_context=get_context("spawn"),
        initializer=_set_up,
        initargs=(
            os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE,
            dict(connection.settings_dict),
        ),
    ) as pool:
        futures = [pool.submit(_part, version_pk, since, until) for since, until in windows]
        for future in as_completed(futures):
            yield future.result()


def _set_up(settings_module: str | None, database: dict) -> None:
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    from django.db import connection

    connection.settings_dict.update(database)


def _part(version_pk: int, since: datetime.datetime, until: datetime.datetime):
    from fraud.backtest import backtest
    from fraud.models import FraudConfigVersion

    return backtest(version=FraudConfigVersion.objects.get(pk=version_pk), since=since, until=until)
