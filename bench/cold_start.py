"""A fresh worker's first authorization against its hundredth, without and with the warm-up.

    .venv/bin/python bench/cold_start.py [--requests 100] [--rounds 2] [--cards 40]
                                         [--databases sqlite,postgres]

For each database: a fresh one (bench/databases.py), migrated, with an API client (scope
authorize), `--cards` funded cards, and an active fraud model trained (fraud.training's
recipe, its default rounds) on a synthetic labelled history, so that the first decision
has the configuration, the model and LightGBM to load, as in production. Then, `--rounds`
times, one after the other in the same run:

- off: gunicorn as production runs it (`gunicorn.conf.py`, one sync worker:
  WEB_CONCURRENCY=1) with WARM_UP=false: everything the first decision needs loads lazily;
- on: the same with WARM_UP=true (the default): cardsystem/warmup.py runs when the worker
  loads the application, before it accepts a connection.

Each server is polled on GET /healthz until it answers (the time from its start to then is
printed: the warm-up moves the cost there), then sent one authorization (timed: the
first), then `--requests` more one after the other (their median and p99). Every request
is a new connection (sync workers close each one). Any status but 201 is an error and the
exit status is 1. Last, the decisions the server's /metrics counted (it should say
`--requests` + 1). Servers are stopped and the databases dropped, even on failure.
"""

import argparse
import datetime
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from authorizations import (
    AUTHORIZATIONS,
    ROOT,
    bodies_for,
    free_port,
    issue_world,
    note,
    prepared_database,
    stop,
)

HISTORY_ROWS = 1500
DAY = datetime.timedelta(days=1)


def prepare(cards: int) -> None:
    """The world of bench/authorizations.py (migrated, the client, the cards), then a model
    trained on the tests' labelled history (tests/fraud/modelling.py) on the first card, two
    to ten weeks old, with fraud.training's default rounds, and activated. Prints the world
    with the model's version as the last line of stdout."""
    world = issue_world(cards)
    from django.utils import timezone

    from cards.services import card_get_by_pan
    from cardsystem.audit import Actor
    from fraud import training
    from fraud.services import model_activate
    from tests.fraud.modelling import history

    now = timezone.now()
    history(
        card_get_by_pan(world["cards"][0]["pan"]),
        rows=HISTORY_ROWS,
        since=now - 70 * DAY,
        until=now - 14 * DAY,
    )
    actor = Actor.system("bench/cold_start.py")
    model = training.train(actor=actor, cutoff=now)
    model_activate(model=model, actor=actor)
    print(json.dumps({**world, "model": model.version}))


def request(port: int, method: str, path: str, body: bytes = b"", headers=None) -> tuple[int, bytes, float]:
    began = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body, headers or {})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return response.status, data, (time.perf_counter() - began) * 1000


def serve(env: dict, warm_up: bool, log: Path) -> tuple[subprocess.Popen, int, float]:
    """One production gunicorn with one worker; returns it, its port and the milliseconds
    from its start until /healthz answered."""
    port = free_port()
    server_env = {
        **env,
        "WEB_CONCURRENCY": "1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WARM_UP": str(warm_up),
    }
    started = time.perf_counter()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--config", "gunicorn.conf.py"],
            cwd=ROOT,
            env=server_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if request(port, "GET", "/healthz")[0] == 200:
                return process, port, (time.perf_counter() - started) * 1000
        except OSError:
            pass
        time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"gunicorn did not answer within 120 s:\n{log.read_text()[-3000:]}")


def measure(env: dict, world: dict, warm_up: bool, requests: int, log: Path) -> dict:
    bodies = bodies_for(world["cards"], random.Random(7))
    headers = {"Authorization": f"Bearer {world['key']}", "Content-Type": "application/json"}
    process, port, ready_ms = serve(env, warm_up, log)
    try:
        times, errors = [], []
        for index in range(requests + 1):
            status, data, elapsed = request(
                port, "POST", AUTHORIZATIONS, bodies[index % len(bodies)], headers
            )
            if status != 201:
                errors.append(f"HTTP {status}: {data[:200].decode(errors='replace')}")
            times.append(elapsed)
        counted = decisions_counted(port)
    finally:
        stop(process)
    rest = sorted(times[1:])
    return {
        "ready_ms": ready_ms,
        "first_ms": times[0],
        "median_ms": statistics.median(rest),
        "p99_ms": rest[min(len(rest) - 1, int(0.99 * len(rest)))],
        "errors": errors,
        "counted": counted,
    }


def decisions_counted(port: int) -> float:
    """The decisions the server's /metrics counted (read from loopback, as allowed)."""
    from prometheus_client.parser import text_string_to_metric_families

    status, data, _ = request(port, "GET", "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    return sum(
        sample.value
        for family in text_string_to_metric_families(data.decode())
        for sample in family.samples
        if sample.name == "cardsystem_authorization_decisions_total"
    )


def run_database(kind: str, args) -> list[tuple[str, dict]]:
    with prepared_database(kind, args.postgres_url, __file__, args.cards) as (workdir, env, world, seconds):
        note(f"{kind}: {len(world['cards'])} cards, model v{world['model']} active, in {seconds:.1f} s")
        results = []
        for round_number in range(args.rounds):
            for mode, warm_up in (("off", False), ("on", True)):
                log = workdir / f"gunicorn-{mode}-{round_number}.log"
                result = measure(env, world, warm_up, args.requests, log)
                for error in result["errors"][:3]:
                    note(f"{kind}: warm-up {mode}: {error}")
                results.append((mode, result))
        return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cards", type=int, default=40)
    parser.add_argument("--databases", default="sqlite")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare is not None:
        prepare(args.prepare)
        return 0
    kinds = [kind for kind in args.databases.split(",") if kind]
    if set(kinds) - {"sqlite", "postgres"} or args.requests < 1 or args.rounds < 1:
        parser.error("--databases takes sqlite,postgres; --requests and --rounds must be positive")
    load = os.getloadavg()[0]
    outcomes = {kind: run_database(kind, args) for kind in kinds}
    print(f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(
        f"gunicorn.conf.py, 1 sync worker, a new connection per request, {os.cpu_count()} CPUs, "
        f"load average {load:.2f} at the start\n"
    )
    print(f"{'database':<10} {'warm-up':<8} {'start->healthz ms':>18} {'first ms':>9} "
          f"{f'median next {args.requests} ms':>22} {'p99 ms':>8} {'first/median':>13} {'errors':>7} "
          f"{'/metrics':>9}")  # fmt: skip
    failed = False
    for kind, results in outcomes.items():
        for mode, result in results:
            failed |= bool(result["errors"])
            print(
                f"{kind:<10} {mode:<8} {result['ready_ms']:>18.0f} {result['first_ms']:>9.1f} "
                f"{result['median_ms']:>22.2f} {result['p99_ms']:>8.2f} "
                f"{result['first_ms'] / result['median_ms']:>13.1f} {len(result['errors']):>7} "
                f"{result['counted']:>9.0f}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
