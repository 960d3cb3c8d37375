"""The bench scripts' databases: fresh ones for a run, removed afterwards.

Scripts that start servers or child processes take a DATABASE_URL from `database()`
(a SQLite file in their working directory, or a throwaway PostgreSQL database
`cardsystem_bench_<pid>` created beside the one `--postgres-url` names, dropped at the
end). Scripts that measure in their own process call `django_in_process()` before
importing models: Django then runs on the database DATABASE_URL names (PostgreSQL: an
empty one, or one an earlier run filled for a `--reuse`), or on a throwaway SQLite file
removed when the process ends.
"""

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
_KEPT = []  # the throwaway directories, removed when the process ends


@contextlib.contextmanager
def database(kind: str, workdir: Path, postgres_url: str):
    """A DATABASE_URL for a fresh, empty database, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.sqlite3'}"
        return
    import psycopg

    name = f"cardsystem_bench_{os.getpid()}"
    admin = urlsplit(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settle(url: str) -> None:
    """Leave the database as a quiet production one would be before a measurement: on
    PostgreSQL vacuumed, analysed and checkpointed, so that the autovacuum and the
    checkpoint the writes before it call for do not land on the next measurement (they
    had cost the first of three servers measured one after the other 60 % more of
    PostgreSQL's CPU per request); on SQLite its write-ahead log checkpointed."""
    if url.startswith("sqlite:///"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")


def django_in_process(prefix: str) -> None:
    """Set Django up in this process, on DATABASE_URL or a throwaway SQLite file."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")
    os.environ.setdefault("LOG_DIR", "/tmp/cardsystem-bench-logs")  # noqa: S108 (a bench's throwaway logs)
    if "DATABASE_URL" not in os.environ:
        _KEPT.append(tempfile.TemporaryDirectory(prefix=prefix))
        os.environ["DATABASE_URL"] = f"sqlite:///{_KEPT[-1].name}/bench.sqlite3"
    import django

    django.setup()
