"""Slow clients: a normal authorization's latency while other clients send their request
bodies a byte a second, straight to gunicorn and through nginx.

    .venv/bin/python bench/slow_clients.py [--slow 2,8,32] [--requests 200] [--phase-seconds 35]
                                           [--paths nginx,gunicorn] [--trickle body|headers]
                                           [--workers 2] [--database sqlite|postgres]

A fresh database (an SQLite file in a temporary directory, or a throwaway PostgreSQL
database `cardsystem_bench_<pid>`, as bench/authorizations.py makes them), migrated, with
one API client (scope authorize) and a few funded cards issued through the services.
One gunicorn serves `cardsystem.wsgi:application` with production's settings
(gunicorn.conf.py: sync workers, its timeout and logger) and `--workers` workers on
127.0.0.1; one nginx runs in front of it with the repository's deploy/nginx.conf, the
same file compose.yaml mounts, changed only where it must be on this machine: the
upstream is that gunicorn, it listens on 127.0.0.1, and its files (pid, temporary
directories) are in a temporary directory. nginx is a child process (`daemon off`), and
must be installed (`apt-get install nginx`).

Each phase sends up to `--requests` authorizations one after the other, each on a new
connection (as sync workers close every connection), for at most `--phase-seconds`, and
records each one's latency; a request still waiting when the phase ends counts with the
time it waited. The phases: no slow client through nginx and straight to gunicorn,
then for each count in `--slow` that many slow clients in place before the first
request, through nginx, and then the same straight to gunicorn. A slow client opens a
connection, sends the headers of an authorization (its API key, a Content-Length of
4096) and then one byte of the body a second (`--trickle headers`: the request line and
headers themselves a byte a second); if the server answers or closes, it records what
it got and connects again at once. Between phases the slow clients are gone, the server
has recovered and answered a warm-up.

The table gives per phase the authorizations answered 201, p50/p95/p99 latency, their
ratio to the same path's phase without slow clients, errors, how many gunicorn workers
were killed for the worker timeout, and what the slow clients got. Exit status 1 if a
phase through nginx had an error, a request still waiting, or a p99 above 5 times its
baseline's. Everything talks
to 127.0.0.1 only; gunicorn, nginx and the slow clients are stopped and the temporary
directory and the PostgreSQL database removed, even on failure, SIGTERM or Ctrl-C.
"""

import argparse
import asyncio
import contextlib
import http.client
import itertools
import multiprocessing
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from authorizations import (
    AUTHORIZATIONS,
    BIN,
    LOOPBACK,
    ROOT,
    bodies_for,
    free_port,
    note,
    prepared_database,
    stop,
    wait_until_serving,
)

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
CARDS = 20
SLOW_BODY_BYTES = 4096  # at a byte a second, longer than any run
SETTLE_SECONDS = 2.0  # slow clients connected and holding what they hold before a phase
WARM_UP_REQUESTS = 40
NGINX_LIMIT = 5.0  # through nginx, a phase's p99 within 5 times the baseline's (far above noise)
# What deploy/nginx.conf says for compose, and what it says here instead.
LOCAL_CHANGES = (
    ("server app:8000 resolve;", "server 127.0.0.1:{upstream};"),
    ("listen 80 default_server;", "listen 127.0.0.1:{listen} default_server;"),
    ("http {", "http {{\n{temp_paths}"),
)
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


# --- The slow clients (a child process, one asyncio loop) --------------------------------------


def trickle(key: str, part: str):
    """What a slow client sends: a first piece at once, then one byte a second. `body`: the
    headers of an authorization with its API key, then its body; `headers`: the request
    line and headers themselves (no key needed to hold a connection)."""
    head = (
        f"POST {AUTHORIZATIONS} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {SLOW_BODY_BYTES}\r\n\r\n"
    ).encode()
    first, rest = (head + b"{", b"") if part == "body" else (head[:1], head[1:])
    return first, itertools.chain((bytes([byte]) for byte in rest), itertools.repeat(b" "))


async def slow_client(port: int, key: str, part: str, outcomes: Counter, stop_at) -> None:
    while not stop_at.is_set():
        outcomes["connections"] += 1
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            outcomes["refused"] += 1
            await asyncio.sleep(0.1)
            continue
        answer = asyncio.ensure_future(reader.read(64))
        first, rest = trickle(key, part)
        try:
            writer.write(first)
            while not stop_at.is_set():
                done, _ = await asyncio.wait([answer], timeout=1.0)
                if done:
                    break
                writer.write(next(rest))
                await writer.drain()
            if answer.done():
                first_line = answer.result().split(b"\r\n", 1)[0].decode(errors="replace")
                outcomes[" ".join(first_line.split()[:2]) if first_line else "closed, no answer"] += 1
        except OSError:
            outcomes["reset"] += 1
        finally:
            answer.cancel()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def slow_clients(port: int, key: str, part: str, count: int, stop_at, reply) -> None:
    """Run `count` slow clients until `stop_at` is set; send back their outcomes."""

    async def run() -> Counter:
        outcomes = Counter()
        await asyncio.gather(*(slow_client(port, key, part, outcomes, stop_at) for _ in range(count)))
        return outcomes

    reply.send(asyncio.run(run()))


@contextlib.contextmanager
def slow(port: int, key: str, part: str, count: int):
    """`count` slow clients against `port` for the duration; yields a dict that holds what
    they got ("outcomes") once they are stopped."""
    context = multiprocessing.get_context("fork")
    stop_at = context.Event()
    receive, reply = context.Pipe(duplex=False)
    process = context.Process(target=slow_clients, args=(port, key, part, count, stop_at, reply), daemon=True)
    report = {"outcomes": Counter()}
    if count:
        process.start()
        time.sleep(SETTLE_SECONDS)
    try:
        yield report
    finally:
        if count:
            stop_at.set()
            if receive.poll(5):
                report["outcomes"] = receive.recv()
            process.join(5)
            if process.is_alive():
                process.kill()


# --- Normal authorizations ------------------------------------------------------------------------


@dataclass
class Phase:
    path: str
    slow: int
    latencies_ms: list[float] = field(default_factory=list)
    waiting_ms: float | None = None  # the request still unanswered when the phase ended
    answered: int = 0
    errors: Counter = field(default_factory=Counter)
    worker_timeouts: int = 0
    slow_outcomes: Counter = field(default_factory=Counter)

    def at(self, fraction: float) -> tuple[float, bool]:
        """The latency at `fraction` (nan without requests), and whether it falls on a
        request still waiting (the latency then only a lower bound)."""
        values = sorted([(ms, False) for ms in self.latencies_ms] + self.waiting())
        if not values:
            return float("nan"), False
        return values[min(len(values) - 1, int(fraction * len(values)))]

    def waiting(self) -> list[tuple[float, bool]]:
        return [] if self.waiting_ms is None else [(self.waiting_ms, True)]

    def percentile(self, fraction: float) -> str:
        ms, waiting = self.at(fraction)
        return f"{'>' if waiting else ''}{ms:.1f}"


def authorize(port: int, key: str, body: bytes, timeout: float) -> tuple[int | str, float]:
    """One authorization on a new connection: its status (or what went wrong) and ms."""
    began = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            AUTHORIZATIONS,
            body,
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        response.read()
        outcome = response.status
    except TimeoutError:
        outcome = "waiting"
    except (OSError, http.client.HTTPException) as error:
        outcome = type(error).__name__
    finally:
        conn.close()
    return outcome, (time.monotonic() - began) * 1000


def measure(phase: Phase, port: int, key: str, bodies: list[bytes], args) -> None:
    stop_at = time.monotonic() + args.phase_seconds
    for index in range(args.requests):
        left = stop_at - time.monotonic()
        if left <= 0:
            break
        # A second's grace: a request sent just before the end is not cut off as waiting.
        outcome, ms = authorize(port, key, bodies[index % len(bodies)], timeout=left + 1)
        if outcome == "waiting":
            phase.waiting_ms = ms
            break
        phase.latencies_ms.append(ms)
        if outcome == 201:
            phase.answered += 1
        else:
            phase.errors[str(outcome)] += 1


def recover(port: int, key: str, bodies: list[bytes], log: Path) -> None:
    """Wait until the server answers again (workers killed by a phase are restarted),
    then warm it up: a new worker's first requests load what later ones reuse."""
    deadline = time.monotonic() + 90
    answered = 0
    while answered < WARM_UP_REQUESTS:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not recover:\n{log.read_text(errors='replace')[-3000:]}")
        outcome, _ = authorize(port, key, random.choice(bodies), timeout=5)
        if outcome == 201:
            answered += 1
        else:
            time.sleep(0.2)


# --- gunicorn and nginx ---------------------------------------------------------------------------


@contextlib.contextmanager
def gunicorn(env: dict, workers: int, log: Path):
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "--config",
        str(GUNICORN_CONF),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until_serving(process, port, log)
        yield port
    finally:
        stop(process)


def local_nginx_conf(upstream: int, listen: int, directory: Path) -> str:
    """deploy/nginx.conf with the upstream, the address and the files of this machine.
    Each change must find what it replaces, so that the file and this script agree."""
    text = NGINX_CONF.read_text()
    temp_paths = "".join(
        f"    {name}_temp_path {directory / name};\n" for name in TEMP_PATHS
    )  # nginx's compiled-in ones are the system's
    for before, after in LOCAL_CHANGES:
        if text.count(before) != 1:
            raise RuntimeError(f"{NGINX_CONF} no longer has exactly one {before!r}")
        text = text.replace(before, after.format(upstream=upstream, listen=listen, temp_paths=temp_paths))
    return text


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).exists()), None
    )
    if found is None:
        sys.exit("nginx is not installed: this bench runs deploy/nginx.conf locally (apt-get install nginx).")
    return found


@contextlib.contextmanager
def nginx(binary: str, upstream: int, directory: Path, log: Path):
    directory.mkdir()
    listen = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(local_nginx_conf(upstream, listen, directory))
    command = [binary, "-p", str(directory), "-c", str(conf), "-e", "stderr"]
    command += ["-g", f"daemon off; pid {directory / 'nginx.pid'};"]
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_serving(process, listen, log, timeout=15)
        yield listen
    finally:
        stop(process)


# --- The run --------------------------------------------------------------------------------------


def worker_timeouts(log: Path, since: int) -> int:
    with log.open("rb") as output:
        output.seek(since)
        return output.read().count(b"WORKER TIMEOUT")


def run(args) -> list[Phase]:
    binary = nginx_binary()
    with prepared_database(
        args.database, args.postgres_url, str(ROOT / "bench" / "authorizations.py"), CARDS
    ) as (workdir, env, world, seconds):
        key = world["key"]
        bodies = bodies_for(world["cards"], random.Random(1))
        note(f"{args.database}: migrated, {CARDS} cards issued in {seconds:.1f} s")
        log = workdir / "gunicorn.log"
        with (
            gunicorn(env, args.workers, log) as direct,
            nginx(binary, direct, workdir / "nginx", workdir / "nginx.log") as front,
        ):
            ports = {"nginx": front, "gunicorn": direct}
            plan = [(path, 0) for path in args.paths]
            # Every phase through nginx before the first straight to gunicorn: those kill
            # workers, and freshly started ones are slower for a while.
            plan += [(path, count) for path in args.paths for count in args.slow]
            phases = []
            for path, count in plan:
                recover(ports[path], key, bodies, log)
                phase = Phase(path=path, slow=count)
                note(f"{path}, {count} slow clients: up to {args.requests} authorizations ...")
                since = log.stat().st_size
                with slow(ports[path], key, args.trickle, count) as report:
                    measure(phase, ports[path], key, bodies, args)
                phase.slow_outcomes = report["outcomes"]
                phase.worker_timeouts = worker_timeouts(log, since)
                phases.append(phase)
        return phases


def table(command: str, args, phases: list[Phase], load: float) -> tuple[str, bool]:
    baselines = {phase.path: phase for phase in phases if not phase.slow}
    lines = [
        f"command: {command}",
        f"settings: {args.database}, one gunicorn of {args.workers} sync workers (gunicorn.conf.py), "
        f"nginx with deploy/nginx.conf; up to {args.requests} authorizations per phase, one after the "
        f"other on new connections, for at most {args.phase_seconds:g} s; slow clients send their "
        f"{args.trickle} a byte a second; {os.cpu_count()} CPUs, load average {load:.2f} at the start",
        "",
        f"{'path':<9} {'slow':>4} {'201s':>5} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} "
        f"{'p50 x':>6} {'p99 x':>6} {'errors':<14} {'killed':>6}  slow clients got",
    ]
    within = True
    for phase in phases:
        base = baselines[phase.path]
        ratios = [phase.at(q)[0] / base.at(q)[0] for q in (0.50, 0.99)]
        errors = ",".join(f"{name}:{count}" for name, count in sorted(phase.errors.items())) or "0"
        if phase.waiting_ms is not None:
            errors += " +1 waiting"
        got = ", ".join(
            f"{count} {name}" for name, count in phase.slow_outcomes.most_common() if name != "connections"
        )
        lines.append(
            f"{phase.path:<9} {phase.slow:>4} {phase.answered:>5} {phase.percentile(0.50):>9} "
            f"{phase.percentile(0.95):>9} {phase.percentile(0.99):>9} {ratios[0]:>6.2f} {ratios[1]:>6.2f} "
            f"{errors:<14} {phase.worker_timeouts:>6}  "
            f"{phase.slow_outcomes['connections']} connections{': ' + got if got else ''}"
        )
        if phase.path == "nginx" and (
            phase.errors or phase.waiting_ms is not None or ratios[1] > NGINX_LIMIT
        ):
            within = False
    lines += [
        "",
        "201s: authorizations answered 201 in the phase; p50/p95/p99 of every request sent, answered or "
        "not ('>' a request still waiting at the end); x: ratio to the same path without slow "
        "clients; killed: gunicorn workers killed for the worker timeout.",
        f"through nginx: {'latency unchanged' if within else 'NOT within'} (every phase answered, "
        f"no error, p99 within {NGINX_LIMIT:g}x the baseline's)",
    ]
    return "\n".join(lines), within


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--slow", default="2,8,32", help="comma-separated counts of slow clients (default 2,8,32)"
    )
    parser.add_argument(
        "--requests", type=int, default=200, help="authorizations per phase at most (default 200)"
    )
    parser.add_argument(
        "--phase-seconds",
        type=float,
        default=35,
        help="a phase's longest duration (default 35: past gunicorn's 30 s worker timeout)",
    )
    parser.add_argument(
        "--paths",
        default="nginx,gunicorn",
        help="comma-separated: nginx (through it), gunicorn (straight to it); default both",
    )
    parser.add_argument(
        "--trickle",
        choices=("body", "headers"),
        default="body",
        help="what slow clients send a byte a second (default body, after the headers with the key)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="a loopback PostgreSQL server, to create and drop the throwaway database",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    try:
        args.slow = [int(count) for count in args.slow.split(",") if count.strip()]
    except ValueError:
        parser.error("--slow takes comma-separated whole numbers")
    args.paths = [path.strip() for path in args.paths.split(",") if path.strip()]
    if not args.paths or set(args.paths) - {"nginx", "gunicorn"}:
        parser.error("--paths takes nginx and/or gunicorn")
    if not args.slow or min(args.slow) < 1:
        parser.error("--slow takes counts of at least 1")
    if args.requests < 1 or args.workers < 1 or args.phase_seconds <= 0:
        parser.error("--requests, --workers and --phase-seconds must be positive")
    if urlsplit(args.postgres_url).hostname not in LOOPBACK:
        parser.error("--postgres-url must point at 127.0.0.1")
    command = shlex.join(
        [os.path.relpath(sys.executable, ROOT), os.path.relpath(__file__, ROOT), *sys.argv[1:]]
    )
    load_before = os.getloadavg()[0]
    if load_before > 0.5 * (os.cpu_count() or 1):
        note(f"load average {load_before:.2f}: other work on this machine will skew the numbers")
    text, within = table(command, args, run(args), load_before)
    print(text)
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
