"""Where an authorization's time goes: one process, no HTTP server, no concurrency.

    .venv/bin/python bench/profile_authorization.py [--requests 500] [--database sqlite|postgres]
                                                    [--what-if persistent-connection,quiet-console,...]
                                                    [--idempotency-keys] [--cprofile 30] [--files]
                                                    [--cprofile-sort cumulative] [--explain]
                                                    [--busy-hour N]

Sets up a fresh database the way bench/authorizations.py does (same environment:
DEBUG=false, LOG_LEVEL=WARNING, a temporary LOG_DIR), then calls the WSGI callables
directly with a prepared environ, so the numbers are the application's alone. Prints:

1. the SQL statements of one authorization through `cardsystem.wsgi:application`,
   with each statement's mean time over all the timed requests;
2. the mean time per request of the framework, of the naive floor (`bench/floor_wsgi.py`)
   and of `bench/baseline_wsgi.py`: wall, CPU of this process and, on PostgreSQL, CPU of
   the server process serving it (on two cores the sum bounds the throughput), timed in
   turns of 25 requests of each, so that the machine's drift in speed falls on all three;
   their wall time's p50, p99 and maximum, and the garbage collector's longest pause and
   full collections during each app's requests;
3. the framework's time by phase (wrappers timed around the project's functions);
4. with `--cprofile N`, the top N functions of a cProfile run, by CPU time (own, or with
   their callees: `--cprofile-sort cumulative`), not wall time: the wait for the database
   would otherwise land on whatever psycopg call was running when the process slept;
5. with `--explain` (PostgreSQL), the prepared statements and each statement's planning
   and execution time;
6. with `--files`, the project's files one authorization runs code of (after the warm-up,
   so nothing is imported or cached on the way): what a reader follows.

`--idempotency-keys` sends every framework request with a fresh `Idempotency-Key`
(the baseline has no such thing), to time the claim of the key and the stored answer.

`--what-if` changes this process only (never the project's files), to size a
suggestion: `persistent-connection` keeps the database connection between requests
(CONN_MAX_AGE=None, as settings.py already does for PostgreSQL), `quiet-console` stops
the decision log line from also going to the console handler, `unprepared` sends the
statements of `cardsystem.sql.prepared_cursor` unprepared, as Django's cursors do,
`windows-off` reads one decline of each window across cards (the merchant's and the
BIN's) instead of up to `WINDOW_CAP`: what reading the declines costs a decision under
card testing, when there are many (the windows' counts come from MinuteCount either way),
`gc-unfrozen` puts back into the garbage collector's care what the process loaded before
its first request, which cardsystem/wsgi.py freezes.

`--busy-hour N` gives the last hour N approved purchases over the cards before the
measurement (20 merchants, one BIN, as authorizations.py's traffic): the windows a
decision reads after rounds of authorizations.py, where they are full, rather than the
near-empty ones of a fresh world.
"""

import argparse
import contextlib
import cProfile
import gc
import importlib
import io
import itertools
import json
import os
import pstats
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from authorizations import ROOT, bodies_for, server_env
from databases import database, settle

WARM_UP = 50
BATCH = 25
WHAT_IFS = ("persistent-connection", "quiet-console", "unprepared", "windows-off", "gc-unfrozen")

# (label, module, attribute): the phases timed by wrapping the project's functions.
# Nested phases are included in their parents' time.
PHASES = [
    ("whole request (Django WSGI handler)", "django.core.handlers.wsgi", "WSGIHandler.__call__"),
    ("  open database connection", "django.db.backends.base.base", "BaseDatabaseWrapper.connect"),
    ("  close database connection", "django.db.backends.base.base", "BaseDatabaseWrapper.close"),
    ("  commit", "django.db.backends.base.base", "BaseDatabaseWrapper.commit"),
    ("  DRF dispatch", "rest_framework.views", "APIView.dispatch"),
    ("    authenticate (api_client_for_key)", "cardsystem.authentication", "api_client_for_key"),
    ("    view: parse, validate, serialize", "transactions.api", "AuthorizationApi.post"),
    ("      input: serializer is_valid", "rest_framework.serializers", "BaseSerializer.is_valid"),
    ("      authorization_decide", "transactions.api", "authorization_decide"),
    ("        card_get_by_pan", "transactions.services.authorizations", "card_get_by_pan"),
    ("        risk: scoring.assess", "fraud.scoring", "assess"),
    ("          features.card_history", "fraud.features", "card_history"),
    ("          features.cross_card_activity", "fraud.features", "cross_card_activity"),
    ("          features.behaviour", "fraud.features", "behaviour"),
    ("          inference.predict (the active model)", "fraud.inference", "predict"),
    ("        _approve (debit, transaction, ledger)", "transactions.services.authorizations", "_approve"),
    ("        _log_decision (file + console)", "transactions.services.authorizations", "_log_decision"),
    ("          metrics: count and time it", "cardsystem.metrics", "decision_recorded"),
    ("      AuthorizationOutput(...).data", "rest_framework.serializers", "Serializer.data"),
    ("      Idempotency-Key: claim", "cardsystem.idempotency", "_claim"),
]


def wsgi_call(
    app, body: bytes, key: str, path: str = "/api/v1/authorizations/", idempotency_key: str | None = None
) -> tuple[str, bytes]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if idempotency_key is not None:
        environ["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    status = []

    def start_response(line, headers, exc_info=None):
        status.append(line)

    chunks = app(environ, start_response)
    data = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return status[0], data


class Phases:
    """Accumulates wall time spent inside wrapped functions (reentrant calls count once)."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.depth = defaultdict(int)
        self.missing = set()  # phases whose function is gone (renamed): shown as such, not fatal

    def wrap(self, label, function):
        def timed(*args, **kwargs):
            self.depth[label] += 1
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.depth[label] -= 1
                if not self.depth[label]:
                    self.seconds[label] += time.perf_counter() - started

        return timed

    @contextlib.contextmanager
    def installed(self):
        undo = []
        for label, module_name, attribute in PHASES:
            owner = importlib.import_module(module_name)
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part)
            original = owner.__dict__.get(name)
            if original is None:
                self.missing.add(label)
                continue
            if isinstance(original, property):
                replacement = property(self.wrap(label, original.fget))
            else:
                replacement = self.wrap(label, original)
            setattr(owner, name, replacement)
            undo.append((owner, name, original))
        try:
            yield
        finally:
            for owner, name, original in reversed(undo):
                setattr(owner, name, original)


def statement_shape(sql: str) -> str:
    """A statement without its literal values, cut to a readable length."""
    sql = re.sub(r"'[^']*'", "?", sql.replace("%s", "?"))
    sql = re.sub(r'"[a-z_]+"\."([a-z_]+)"', r"\1", sql)
    sql = re.sub(r'"s\d+_x\d+"', "?", sql)  # savepoint names
    return sql[:140]


def server_seconds() -> float:
    """CPU seconds (user and system) the PostgreSQL backend of this process's connection
    has used so far, from /proc (0 on SQLite, which runs inside this process). On two
    cores shared by clients, app and database, a decision's throughput is bounded by the
    CPU all of them spend on it, the database's included."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def apply_what_ifs(what_ifs: list[str]) -> None:
    import logging

    from django.db import connection

    if "persistent-connection" in what_ifs:
        connection.settings_dict["CONN_MAX_AGE"] = None
    if "quiet-console" in what_ifs:
        logging.getLogger("cardsystem.authorizations").propagate = False
    if "unprepared" in what_ifs:
        from cardsystem import sql

        sql.prepared_cursor = connection.cursor
    if "windows-off" in what_ifs:
        from transactions import cross_card_queries

        cross_card_queries.cross_card_statement.__kwdefaults__["cap"] = 1


def print_files(authorize) -> None:
    """The project's modules (not bench/, tests/ or installed packages) whose code runs
    during one authorization, in the order they are first entered."""
    seen: dict[str, None] = {}
    elsewhere = ("bench", "tests", ".venv")

    def note(frame, event, arg):
        if event == "call":
            path = Path(frame.f_code.co_filename)
            if path.is_relative_to(ROOT) and path.relative_to(ROOT).parts[0] not in elsewhere:
                seen.setdefault(str(path.relative_to(ROOT)))

    sys.setprofile(note)
    try:
        authorize()
    finally:
        sys.setprofile(None)
    print(f"{len(seen)} project files run by one authorization, in the order first entered:")
    for name in seen:
        print(f"  {name}")


def profile(args, world: dict) -> None:
    import django

    django.setup()
    from django.db import connection

    apply_what_ifs(args.what_if)
    from cardsystem.wsgi import application as framework

    if "gc-unfrozen" in args.what_if:
        gc.unfreeze()  # as before the server froze what its warm-up loaded (cardsystem/wsgi.py)

    baseline = importlib.import_module("baseline_wsgi").application
    floor = importlib.import_module("floor_wsgi").application
    bodies = bodies_for(world["cards"], random.Random(2))
    key = world["key"]
    fresh_keys = (f"profile-{number}" for number in itertools.count())

    def call(app, body: bytes) -> tuple[str, bytes]:
        idempotency_key = next(fresh_keys) if args.idempotency_keys and app is framework else None
        return wsgi_call(app, body, key, idempotency_key=idempotency_key)

    for body in bodies[:WARM_UP]:
        status, data = call(framework, body)
        if not status.startswith("201"):
            raise RuntimeError(f"The framework answered {status}: {data[:300]!r}")
    if args.files:
        print_files(lambda: call(framework, bodies[WARM_UP]))
        return
    for body in bodies[:WARM_UP]:
        call(floor, body)
        call(baseline, body)
    timed = bodies[WARM_UP : WARM_UP + args.requests]

    # In turns of BATCH requests, the order rotating: this machine's speed drifts by a
    # quarter within a minute, which timing each app's requests in one stretch would put
    # into the comparison.
    apps = [("framework", framework), ("floor", floor), ("baseline", baseline)]
    means, cpu, server_cpu = defaultdict(float), defaultdict(float), defaultdict(float)
    walls, pauses = defaultdict(list), GcPauses()
    for _, app in apps:
        call(app, timed[0])  # the connection this app's requests use is open
    for turn, start in enumerate(range(0, len(timed), BATCH)):
        for name, app in apps[turn % 3 :] + apps[: turn % 3]:
            pauses.app = name
            started, started_cpu, started_server = time.perf_counter(), time.process_time(), server_seconds()
            for body in timed[start : start + BATCH]:
                began = time.perf_counter()
                call(app, body)
                walls[name].append((time.perf_counter() - began) * 1000)
            means[name] += (time.perf_counter() - started) / len(timed) * 1000
            cpu[name] += (time.process_time() - started_cpu) / len(timed) * 1000
            server_cpu[name] += (server_seconds() - started_server) / len(timed) * 1000
    pauses.app = None

    phases = Phases()
    decisions = defaultdict(int)
    with phases.installed():
        for body in timed:
            _, data = call(framework, body)
            decisions[json.loads(data)["status"]] += 1

    executed = []

    def timed_sql(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            executed.append((sql, time.perf_counter() - started))

    with connection.execute_wrapper(timed_sql):
        for body in timed:
            call(framework, body)
    statements = defaultdict(lambda: [0, 0.0])
    for sql, seconds in executed:
        statements[statement_shape(sql)][0] += 1
        statements[statement_shape(sql)][1] += seconds

    n = len(timed)
    what_if = f" (what-if: {', '.join(args.what_if)})" if args.what_if else ""
    what_if += ", each with a fresh Idempotency-Key" if args.idempotency_keys else ""
    print(f"{args.database}, {n} requests each, in process{what_if}; decisions: {dict(decisions)}\n")
    names = ("framework", "floor", "baseline")
    print("Mean per request (ms):  " + "  ".join(f"{name:>9}" for name in names))
    print("  wall                  " + "  ".join(f"{means[name]:9.2f}" for name in names))
    print("  CPU of this process   " + "  ".join(f"{cpu[name]:9.2f}" for name in names))
    if args.database == "postgres":
        print("  CPU of its PostgreSQL " + "  ".join(f"{server_cpu[name]:9.2f}" for name in names))
        total = {name: cpu[name] + server_cpu[name] for name in names}
        print("  CPU, both             " + "  ".join(f"{total[name]:9.2f}" for name in names))
        print(f"  floor/framework, CPU of both: {total['floor'] / total['framework']:.2f}")
    for label, fraction in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
        values = [sorted(walls[name])[int(fraction * (len(walls[name]) - 1))] for name in names]
        print(f"  wall {label}               " + "  ".join(f"{value:9.2f}" for value in values))
    print("  GC pauses, longest     " + "  ".join(f"{pauses.longest(name):9.2f}" for name in names))
    print("  full collections       " + "  ".join(f"{pauses.full[name]:9d}" for name in names))
    print()
    print(f"SQL per authorization ({sum(c for c, _ in statements.values()) / n:.1f} statements):")
    for shape, (count, seconds) in statements.items():
        print(f"  {count / n:4.1f} x {seconds / count * 1e6:7.0f} us  {shape}")
    sql_ms = sum(seconds for _, seconds in statements.values()) / n * 1000
    print(f"  SQL total {sql_ms:.2f} ms per request (execution incl. driver, not query building)\n")
    print("Framework time by phase, mean ms per request (wrapped; nested phases included in parents):")
    for label, module_name, attribute in PHASES:
        if label in phases.missing:
            print(f"      n/a  {label} (no {module_name}.{attribute} any more)")
        else:
            print(f"  {phases.seconds[label] / n * 1000:7.2f}  {label}")

    if args.explain:
        explain(lambda: call(framework, timed[-1]))
    if args.cprofile:
        profiler = cProfile.Profile(time.process_time)  # CPU, not the wait for the database
        profiler.enable()
        for body in timed:
            call(framework, body)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.cprofile_sort).print_stats(args.cprofile)
        by = "own CPU time" if args.cprofile_sort == "tottime" else "CPU time with callees"
        print(f"\ncProfile of the framework over {n} requests, by {by}:")
        print(out.getvalue())


def explain(authorize) -> None:
    """The statements prepared on this connection (how often PostgreSQL ran their generic
    plan, how often it planned them anew), then each statement of one more authorization,
    planned and run again by EXPLAIN ANALYZE with its values inline (in a transaction
    rolled back): what the server spends planning a statement sent unprepared, and running
    it. Writes are planned only (EXPLAIN without ANALYZE): run again, they would insert
    the same primary keys. The rollback makes psycopg forget its prepared statements."""
    from django.db import connection, transaction

    captured = []

    def capture(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        authorize()
    print("PostgreSQL's planning and execution of each statement (EXPLAIN ANALYZE, rolled back):")
    with connection.cursor() as cursor:
        cursor.execute("SELECT generic_plans, custom_plans, left(statement, 60) FROM pg_prepared_statements")
        for generic, custom, statement in cursor.fetchall():
            print(f"  prepared on this connection: {generic} generic plans, {custom} custom  {statement}")
    with contextlib.suppress(_RolledBack), transaction.atomic():
        with connection.cursor() as cursor:
            for sql, params in captured:
                run = "ANALYZE, " if sql.lstrip().upper().startswith("SELECT") else ""
                cursor.execute(f"EXPLAIN ({run}SUMMARY) {sql}", params)
                lines = [line for (line,) in cursor.fetchall()]
                times = [line for line in lines if line.startswith(("Planning Time", "Execution Time"))]
                print(f"  {', '.join(times):60}  {statement_shape(sql)[:70]}")
        raise _RolledBack
    print()


class GcPauses:
    """The garbage collector's pauses during the timed requests, by the app whose request
    was running (`app`): the longest, and how many were full (generation 2) collections."""

    def __init__(self):
        self.app, self.started = None, 0.0
        self.pauses, self.full = defaultdict(list), defaultdict(int)
        gc.callbacks.append(self.observe)

    def observe(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        elif self.app is not None:
            self.pauses[self.app].append((time.perf_counter() - self.started) * 1000)
            self.full[self.app] += info["generation"] == 2

    def longest(self, app: str) -> float:
        return max(self.pauses[app], default=0.0)


class _RolledBack(Exception):
    """Leaves explain()'s transaction, undoing what its statements wrote."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--what-if",
        default="",
        type=lambda text: [item for item in text.split(",") if item],
        help=f"comma-separated, in this process only: {', '.join(WHAT_IFS)}",
    )
    parser.add_argument(
        "--idempotency-keys", action="store_true", help="a fresh Idempotency-Key on each framework request"
    )
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="print the top N functions")
    parser.add_argument("--cprofile-sort", choices=["tottime", "cumulative"], default="tottime")
    parser.add_argument("--files", action="store_true", help="list the project files one authorization runs")
    parser.add_argument(
        "--explain", action="store_true", help="PostgreSQL's planning and execution time of each statement"
    )
    parser.add_argument(
        "--busy-hour", type=int, default=0, metavar="N", help="N purchases in the last hour before measuring"
    )
    args = parser.parse_args()
    if set(args.what_if) - set(WHAT_IFS):
        parser.error(f"--what-if takes {', '.join(WHAT_IFS)}")
    if args.requests < 1:
        parser.error("--requests must be positive")
    if args.busy_hour < 0:
        parser.error("--busy-hour must not be negative")
    if args.explain and args.database != "postgres":
        parser.error("--explain needs --database postgres")
    cards = (args.requests + WARM_UP) // 3 + 1
    with (
        tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp,
        database(args.database, Path(tmp), args.postgres_url) as url,
    ):
        (Path(tmp) / "logs").mkdir()
        env = server_env(url, Path(tmp) / "logs")
        prepared = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "authorizations.py"),
                *("--prepare", str(cards), "--busy-hour", str(args.busy_hour)),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        world = json.loads(prepared.stdout.strip().splitlines()[-1])
        settle(url)
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        # The decision log's console copy goes to stderr, like gunicorn's; keep it off the report.
        with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
            try:
                profile(args, world)
            finally:
                from django.db import connections

                connections.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
