"""Authorization throughput: the real API beside the floor of its work, on SQLite and PostgreSQL.

    .venv/bin/python bench/authorizations.py [--seconds 20] [--clients 8] [--workers 2]
                                             [--threads 1] [--cards 1000] [--rounds 1]
                                             [--databases sqlite,postgres]

For each database: a fresh database (an SQLite file in a temporary directory, or a
throwaway PostgreSQL database `cardsystem_bench_<pid>`), migrated, with one API client
(scope authorize) and `--cards` cards with large balances, issued through the services;
their numbers and CVVs pass to this process through a pipe and stay in memory. Then,
one after the other and with the same gunicorn settings:

- framework: `cardsystem.wsgi:application`, `POST /api/v1/authorizations/` (middleware,
  DRF, validation, the card lock, risk scoring, the debit, the ledger entry, the
  decision log line);
- floor: `bench/floor_wsgi.py`, the naive floor of issue 15: the same work written as a
  plain Django view (lock the card by its fingerprint, read today's approved sum and the
  last hour's count, debit conditionally, insert the transaction);
- baseline: `bench/baseline_wsgi.py`, the floor of the same work without the framework
  (one indexed card read, one conditional balance update, one insert).

Each server runs `--workers` gunicorn gthread workers (one single-worker gunicorn per
worker, so that the clients' connections are spread evenly). `--clients` processes,
each with one keep-alive connection, post small authorizations (round-robin over the
client's own cards, so they approve) for `--seconds` after a short warm-up. Any
status but 201 or any exception is an error. The table gives throughput, p50/p99
latency and errors of both, and the ratio framework/baseline. Everything talks to
127.0.0.1 only; servers are stopped, the temporary directory and the PostgreSQL
database dropped, even on failure. Exit status 1 if any request failed.

`--rounds N` measures every server N times on the same database, the order reversed
every other round (framework, floor; floor, framework; ...): on a shared machine the
throughput of one 20-second run drifts by a quarter between runs, so the ratio of each
round is printed and the verdict taken on their median; likewise for the p99 against
the floor's (issue 15: no worse). The rows add up the rounds.
"""

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import random
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from databases import database, settle

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
AUTHORIZATIONS = "/api/v1/authorizations/"
WARM_UP_SECONDS = 1.5
BALANCE_MINOR = 100_000_000  # 1,000,000.00 USD per card: the run never runs a card dry
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SERVERS = {
    "framework": "cardsystem.wsgi:application",
    "floor": "bench.floor_wsgi:application",
    "baseline": "bench.baseline_wsgi:application",
}


# --- Setting up a database (in a child process: Django reads DATABASE_URL once) -------------


# Each card's history before the run: approved purchases in the 30 days before the last hour.
PAST_PURCHASES = 10


def prepare(cards: int, busy_hour: int = 0) -> None:
    """Migrate the database in DATABASE_URL, create the client and cards through the services,
    give each card its past purchases (and the last hour `busy_hour` purchases across the
    cards) and print {"key": ..., "cards": [...]} as the last line of stdout."""
    world = issue_world(cards)
    add_past_purchases(PAST_PURCHASES)
    if busy_hour:
        add_past_purchases(0, busy_hour=busy_hour)
    print(json.dumps(world))


def add_past_purchases(per_card: int, *, busy_hour: int = 0) -> None:
    """Give every card `per_card` approved purchases at the bench's merchants in the 30
    days before the last hour, written in bulk: a card programme's history, so that a
    decision reads real windows and PostgreSQL plans its statements on the statistics of
    real tables (on empty ones it plans for empty ones, and a prepared statement keeps that
    plan). History only: no debit and no ledger entry.

    `busy_hour`: that many more over the cards, in the last hour, in time order: the hour
    that rounds of authorizations.py leave behind (20 merchants and one BIN), so that the
    windows across cards read as many rows as there (bench/profile_authorization.py)."""
    import datetime

    from django.utils import timezone

    from cards.models import Card
    from transactions.models import Transaction

    rng, now = random.Random(3), timezone.now()
    cards = list(Card.objects.only("id", "masked_pan"))
    if busy_hour:
        times = sorted(now - datetime.timedelta(seconds=rng.uniform(1, 3590)) for _ in range(busy_hour))
        purchases = [(rng.choice(cards), at) for at in times]
    else:
        span = (3600, 30 * 86400)
        purchases = [
            (card, now - datetime.timedelta(seconds=rng.uniform(*span)))
            for card in cards
            for _ in range(per_card)
        ]
    Transaction.objects.bulk_create(
        (
            Transaction(
                card=card,
                masked_pan=card.masked_pan,
                bin_prefix=card.masked_pan[:6],
                amount_minor=rng.randint(100, 9999),
                currency="USD",
                merchant_id=f"M-{rng.randint(1000, 1019)}",
                merchant_name="Bench Grocery",
                mcc="5411",
                merchant_country="US",
                channel="pos",
                transaction_time=at,
                status=Transaction.Status.APPROVED,
                response_code="00",
                reason="approved",
            )
            for card, at in purchases
        ),
        batch_size=2000,
    )


def issue_world(cards: int) -> dict:
    """Set Django up on DATABASE_URL, migrate, create the client and cards; return
    {"key": ..., "cards": [{"pan", "cvv", "month", "year"}, ...]}."""
    import datetime

    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from bins.services import bin_create
    from cards.services import card_issue, card_top_up, cardholder_create
    from cardsystem.audit import Actor
    from cardsystem.services import api_client_create

    call_command("migrate", verbosity=0, interactive=False, stdout=sys.stderr)
    actor = Actor.system("bench/authorizations.py")
    issued = []
    with transaction.atomic():
        bin = bin_create(
            actor=actor,
            bin="453201",
            network="visa",
            issuer_name="Bench Bank",
            card_type="debit",
            country="US",
            currency="USD",
            pan_length=16,
        )
        for number in range(cards):
            holder = cardholder_create(
                name=f"Bench Holder {number}",
                date_of_birth=datetime.date(1985, 6, 15),
                country="US",
                actor=actor,
            )
            card = card_issue(bin=bin, cardholder=holder, actor=actor)
            card_top_up(card=card.card, amount_minor=BALANCE_MINOR, actor=actor, reference="bench")
            issued.append(
                {
                    "pan": card.pan,
                    "cvv": card.cvv,
                    "month": card.card.expiry_month,
                    "year": card.card.expiry_year,
                }
            )
        _, key = api_client_create(name="bench", scopes=["authorize"], actor=actor)
    return {"key": key, "cards": issued}


# --- Driving a server ---------------------------------------------------------------------------


@dataclass
class Result:
    latencies_ms: list[float]
    declined: int
    errors: int
    error_samples: list[str]
    seconds: float
    # CPU per request over the timed window (cpu_seconds): the machine's, and PostgreSQL's.
    cpu_ms: float = float("nan")
    postgres_cpu_ms: float = float("nan")

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds

    @classmethod
    def of_rounds(cls, rounds: list["Result"]) -> "Result":
        """The rounds of one server as one: their requests together, CPU per request
        weighted by each round's requests."""
        if len(rounds) == 1:
            return rounds[0]
        counts = [max(1, len(r.latencies_ms)) for r in rounds]

        def weighted(name: str) -> float:
            return sum(getattr(r, name) * n for r, n in zip(rounds, counts, strict=True)) / sum(counts)

        return cls(
            latencies_ms=[latency for r in rounds for latency in r.latencies_ms],
            declined=sum(r.declined for r in rounds),
            errors=sum(r.errors for r in rounds),
            error_samples=[sample for r in rounds for sample in r.error_samples][:5],
            seconds=sum(r.seconds for r in rounds),
            cpu_ms=weighted("cpu_ms"),
            postgres_cpu_ms=weighted("postgres_cpu_ms"),
        )

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bodies_for(cards: list[dict], rng: random.Random) -> list[bytes]:
    bodies = []
    for card in cards:
        for _ in range(3):
            bodies.append(
                json.dumps(
                    {
                        "card_number": card["pan"],
                        "expiry_month": card["month"],
                        "expiry_year": card["year"],
                        "cvv": card["cvv"],
                        "amount": f"{rng.randint(100, 999) / 100:.2f}",
                        "currency": "USD",
                        "merchant_id": f"M-{rng.randint(1000, 1019)}",
                        "merchant_name": "Bench Grocery",
                        "mcc": "5411",
                        "merchant_country": "US",
                        "channel": "pos",
                    }
                ).encode()
            )
    rng.shuffle(bodies)
    return bodies


def drive(port: int, key: str, bodies: list[bytes], start_at: float, stop_at: float):
    """One client: one keep-alive connection, one request after the other until stop_at.
    Requests started before start_at are the warm-up and not counted."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies, declined, errors, samples = [], 0, 0, []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    index = 0
    while True:
        began = time.monotonic()
        if began >= stop_at:
            break
        body = bodies[index % len(bodies)]
        index += 1
        problem, data = None, b""
        try:
            conn.request("POST", AUTHORIZATIONS, body, headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != 201:
                problem = f"HTTP {response.status}: {data[:200].decode(errors='replace')}"
        except (OSError, http.client.HTTPException) as error:
            problem = f"{type(error).__name__}: {error}"
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        ended = time.monotonic()
        if began < start_at or ended > stop_at:
            continue
        if problem:
            errors += 1
            if len(samples) < 3:
                samples.append(problem)
        else:
            latencies.append((ended - began) * 1000)
            declined += b'"declined"' in data
    conn.close()
    return latencies, declined, errors, samples


def load(ports: list[int], key: str, cards: list[dict], *, clients: int, seconds: float) -> Result:
    rng = random.Random(1)
    shares = [cards[number::clients] for number in range(clients)]
    start_at = time.monotonic() + WARM_UP_SECONDS
    stop_at = start_at + seconds
    jobs = [
        (ports[number % len(ports)], key, bodies_for(share, rng), start_at, stop_at)
        for number, share in enumerate(shares)
    ]
    samples = []

    def sample_cpu():
        for moment in (start_at, stop_at):
            time.sleep(max(0.0, moment - time.monotonic()))
            samples.append(cpu_seconds())

    sampler = threading.Thread(target=sample_cpu, daemon=True)
    sampler.start()
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        outcomes = pool.starmap(drive, jobs)
    sampler.join()
    latencies = [latency for latencies, _, _, _ in outcomes for latency in latencies]
    (machine_0, postgres_0), (machine_1, postgres_1) = samples
    return Result(
        latencies_ms=latencies,
        declined=sum(declined for _, declined, _, _ in outcomes),
        errors=sum(errors for _, _, errors, _ in outcomes),
        error_samples=[sample for _, _, _, samples in outcomes for sample in samples][:5],
        seconds=seconds,
        cpu_ms=(machine_1 - machine_0) / max(1, len(latencies)) * 1000,
        postgres_cpu_ms=(postgres_1 - postgres_0) / max(1, len(latencies)) * 1000,
    )


def cpu_seconds() -> tuple[float, float]:
    """The CPU seconds used so far by the whole machine, leaving out niced processes (run
    other work with `nice` while measuring, as this README asks), and by PostgreSQL's
    processes (those named postgres). On two CPUs shared by clients, servers and the
    database, a request's share of both bounds the throughput."""
    tick = os.sysconf("SC_CLK_TCK")
    user, _nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
    postgres = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().rsplit(")", 1)
        except (OSError, ValueError):
            continue  # gone since the listing
        if name.endswith("(postgres"):
            values = fields.split()
            postgres += int(values[11]) + int(values[12])
    return (user + system + irq + softirq) / tick, postgres / tick


# --- Servers and databases ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(process: subprocess.Popen, port: int, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", AUTHORIZATIONS)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """Terminate the gunicorn master and its workers (its own process group), then kill."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextlib.contextmanager
def gunicorn(app: str, env: dict, log: Path, *, servers: int, threads: int = 1):
    """Serve `app` with `servers` single-worker gunicorns of `threads` threads; yields their
    ports.

    One single-worker gunicorn per worker, each on its own port, and the clients spread
    evenly over them: one gunicorn with --workers N hands a burst of new keep-alive
    connections to whichever worker accepts first (measured here: all 8 to one worker),
    and then the run would measure one worker, not N."""
    processes, ports = [], []
    try:
        with log.open("ab") as output:
            for _ in range(servers):
                port = free_port()
                command = [
                    str(BIN / "gunicorn"),
                    app,
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "--worker-class",
                    "gthread",  # the sync worker closes every connection; gthread keeps them alive
                    "--threads",
                    str(threads),
                    "--keep-alive",
                    "60",
                    "--graceful-timeout",
                    "5",
                ]
                processes.append(
                    subprocess.Popen(
                        command,
                        cwd=ROOT,
                        env=env,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
                ports.append(port)
        for process, port in zip(processes, ports, strict=True):
            wait_until_serving(process, port, log)
        yield ports
    finally:
        for process in processes:
            stop(process)


def server_env(database_url: str, log_dir: Path) -> dict:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("GUNICORN_CMD_ARGS", "CARD_DATA_OLD_KEYS", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DEBUG="false",
        HTTPS_ONLY="false",
        ALLOWED_HOSTS="127.0.0.1",
        SECRET_KEY="bench-secret-key-" + secrets.token_urlsafe(24),
        CARD_DATA_KEY="bench-card-data-key-" + secrets.token_urlsafe(24),
        DATABASE_URL=database_url,
        LOG_DIR=str(log_dir),
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="cardsystem.settings",
        PYTHONPATH=str(ROOT),
    )
    return env


def run_database(kind: str, args) -> dict:
    with prepared_database(kind, args.postgres_url, __file__, args.cards) as (workdir, env, world, seconds):
        note(f"{kind}: migrated, {len(world['cards'])} cards issued in {seconds:.1f} s")
        results = {name: [] for name in args.servers}
        for number in range(args.rounds):
            for name in args.servers if number % 2 == 0 else args.servers[::-1]:
                results[name].append(run_server(kind, name, number, workdir, env, world, args))
        return results


def run_server(kind: str, name: str, number: int, workdir: Path, env: dict, world: dict, args) -> "Result":
    """One measured run (round `number`) of the server `name`, on a settled database."""
    log = workdir / f"gunicorn-{name}-{number + 1}.log"  # its own: the server appends
    settle(env["DATABASE_URL"])
    with gunicorn(SERVERS[name], env, log, servers=args.workers, threads=args.threads) as ports:
        note(f"{kind}: {name} on 127.0.0.1:{','.join(map(str, ports))}, {args.seconds:g} s ...")
        result = load(ports, world["key"], world["cards"], clients=args.clients, seconds=args.seconds)
    output = log.stat().st_size
    if output > 10_000:
        note(f"{kind}: {name} server wrote {output / 1e6:.1f} MB to stdout/stderr during the run")
    note(
        f"{kind}: {name} round {number + 1}: {result.throughput:.1f} req/s, "
        f"p99 {result.percentile(0.99):.2f} ms, CPU {result.cpu_ms:.2f} ms/req, of it PostgreSQL "
        f"{result.postgres_cpu_ms:.2f}"
    )
    for sample in result.error_samples:
        note(f"{kind}: {name} error: {sample[:200]}")
    if result.errors:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        note(f"{kind}: {name} server log, last lines:\n{tail}")
    return result


@contextlib.contextmanager
def prepared_database(kind: str, postgres_url: str, script: str, cards: int):
    """A fresh database of `kind` (removed afterwards, with its temporary directory), the
    servers' environment on it, and the world `script --prepare cards` made there in a
    child process (Django reads DATABASE_URL once per process). Yields (the temporary
    directory, the environment, the world, the seconds the preparation took)."""
    with (
        tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp,
        database(kind, Path(tmp), postgres_url) as url,
    ):
        workdir = Path(tmp)
        (workdir / "logs").mkdir()
        env = server_env(url, workdir / "logs")
        started = time.monotonic()
        world = in_child(script, env, "--prepare", str(cards))
        yield workdir, env, world, time.monotonic() - started


def in_child(script: str, env: dict, *arguments: str, stdin: str = "") -> dict:
    """Run `script arguments` in a child process with `env` (Django there reads its
    DATABASE_URL) and return the JSON of its last line of stdout."""
    done = subprocess.run(
        [sys.executable, script, *arguments],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"{Path(script).name} {' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table(command: str, args, outcomes: dict, load: float) -> str:
    lines = [
        f"command: {command}",
        f"settings: {args.clients} keep-alive clients over {args.workers} gunicorn gthread workers "
        f"(--threads {args.threads}), {args.seconds:g} s each after {WARM_UP_SECONDS:g} s warm-up"
        f"{f', {args.rounds} rounds' if args.rounds > 1 else ''}, "
        f"{args.cards} cards, {os.cpu_count()} CPUs, load average {load:.2f} at the start",
        "",
        f"{'database':<10} {'server':<10} {'requests':>9} {'req/s':>8} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'declined':>9} {'CPU ms/req':>11} {'of it PG':>9}",
    ]
    for kind, rounds in outcomes.items():
        results = {name: Result.of_rounds(runs) for name, runs in rounds.items()}
        for name, result in results.items():
            lines.append(
                f"{kind:<10} {name:<10} {len(result.latencies_ms):>9} {result.throughput:>8.1f} "
                f"{result.percentile(0.50):>8.2f} {result.percentile(0.99):>8.2f} {result.errors:>7} "
                f"{result.declined:>9} {result.cpu_ms:>11.2f} {result.postgres_cpu_ms:>9.2f}"
            )
        for floor, aim in (("floor", 1.0), ("baseline", 0.5)):
            if floor not in results or "framework" not in results:
                continue
            pairs = list(zip(rounds["framework"], rounds[floor], strict=True))
            if all(theirs.throughput for _, theirs in pairs):
                ratios = [ours.throughput / theirs.throughput for ours, theirs in pairs]
                ratio = statistics.median(ratios)
                verdict = f"{ratio:.2f} (aim {aim:g}: {'met' if ratio >= aim else 'not met'})"
                if len(ratios) > 1:
                    each = ", ".join(f"{r:.2f}" for r in ratios)
                    verdict = f"{verdict}, the median of the rounds' {each}"
            else:
                verdict = f"n/a (the {floor} completed no request)"
            lines.append(f"{kind:<10} {'ratio':<10} framework/{floor} throughput = {verdict}")
            if floor == "floor" and all(ours.latencies_ms and theirs.latencies_ms for ours, theirs in pairs):
                lines.append(f"{kind:<10} {'ratio':<10} framework/floor p99 = {p99_verdict(pairs)}")
    return "\n".join(lines)


def p99_verdict(pairs: list[tuple["Result", "Result"]]) -> str:
    """The framework's p99 over the floor's (aim: at most 1), judged like the throughput on
    the median of the rounds: the p99 of one round swings by 15 % with the machine's
    bursts, and the rows' p99, over every round at once, is the few worst rounds'."""
    ratios = [ours.percentile(0.99) / theirs.percentile(0.99) for ours, theirs in pairs]
    ratio = statistics.median(ratios)
    # Three decimals: at two, a median just either side of 1 would print 1.00 both ways.
    verdict = f"{ratio:.3f} (aim at most 1: {'met' if ratio <= 1 else 'not met'})"
    if len(ratios) > 1:
        verdict += f", the median of the rounds' {', '.join(f'{r:.2f}' for r in ratios)}"
    return verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per server (default 20)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (default 1)")
    parser.add_argument(
        "--cards", type=int, default=1000, help="cards to spread requests over (default 1000)"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each server, in alternating order (default 1)"
    )
    parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument(
        "--servers",
        default="framework,floor,baseline",
        help="comma-separated, in this order: framework, floor (bench/floor_wsgi.py), "
        "baseline (bench/baseline_wsgi.py)",
    )
    parser.add_argument(
        "--postgres-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="a loopback PostgreSQL server, to create and drop the throwaway database",
    )
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--busy-hour", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare is not None:
        prepare(args.prepare, args.busy_hour)
        return 0
    kinds = [kind.strip() for kind in args.databases.split(",") if kind.strip()]
    if not kinds or set(kinds) - {"sqlite", "postgres"}:
        parser.error("--databases takes sqlite and/or postgres")
    if urlsplit(args.postgres_url).hostname not in LOOPBACK:
        parser.error("--postgres-url must point at 127.0.0.1")
    if args.clients < 1 or args.workers < 1 or args.threads < 1 or args.seconds <= 0 or args.rounds < 1:
        parser.error("--clients, --workers, --threads, --seconds and --rounds must be positive")
    if args.cards < args.clients:
        parser.error("give at least one card per client")
    args.servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    if not args.servers or set(args.servers) - set(SERVERS):
        parser.error(f"--servers takes {', '.join(SERVERS)}")
    command = shlex.join(
        [os.path.relpath(sys.executable, ROOT), os.path.relpath(__file__, ROOT), *sys.argv[1:]]
    )
    load_before = os.getloadavg()[0]
    if load_before > 0.5 * (os.cpu_count() or 1):
        note(f"load average {load_before:.2f}: other work on this machine will skew the numbers")
    outcomes = {kind: run_database(kind, args) for kind in kinds}
    print(table(command, args, outcomes, load_before))
    runs = (result for rounds in outcomes.values() for results in rounds.values() for result in results)
    return 1 if any(result.errors for result in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
