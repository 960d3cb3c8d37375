"""Several app servers on one PostgreSQL database and one Redis: throughput for 1, 2 and 4
servers, then exact balances, shared rate limits and a promotion seen by another server.

    .venv/bin/python bench/scale_out.py [--seconds 8] [--clients 8] [--servers 1,2,4]
                                        [--cards 400] [--rate 30/minute]
                                        [--redis-url redis://127.0.0.1:6379/12]

A throwaway PostgreSQL database (bench/databases.py), migrated, with `--cards` funded cards
and two API clients issued through the services (bench/authorizations.py `issue_world`):
one without a rate limit for the load, one whose `authorize` rate staff set to `--rate`
(cardsystem.services.api_client_set_rate_limits, what the admin's rate limits page calls).
Every server runs with production's environment (bench/authorizations.py `server_env`) and
REDIS_URL on a Redis database of this run's own, which must be empty at the start and is
flushed at the end.

For each count of `--servers`: that many gunicorns, each its own process on its own port
(one gthread worker each, as bench/authorizations.py explains), on the same database,
driven together by `--clients` keep-alive clients spread evenly over them, for
`--seconds` after a warm-up: throughput, p50/p99, errors. With the largest count still
running:

- rate limits: the limited client sends `--burst` authorizations to each server at once,
  all within one window of its rate. Shared counting (Redis) lets exactly the rate through
  in total and answers 429 to the rest; counting per server would let up to the rate
  through on each;
- a promotion: a new fraud configuration version with a lower decline threshold is
  created and promoted through the versions service (fraud.versions, what the admin's
  promote button applies) in a separate process on the same database, while server B (the
  second one) keeps deciding; then B is sent authorizations one after the other. The
  table gives the version that decided B's very next authorization, and how long after
  the promotion's commit B first decided by the new one.

Afterwards, with every server stopped: each card's balance equals its funding minus its
approved authorizations (read through the ORM in a child process), and `manage.py
verify_ledger` on that database is clean. Exit status 1 if any check fails. Servers are
stopped and the database and the Redis database emptied even on failure.
"""

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import random
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from authorizations import (
    AUTHORIZATIONS,
    BALANCE_MINOR,
    LOOPBACK,
    ROOT,
    SERVERS,
    bodies_for,
    gunicorn,
    in_child,
    issue_world,
    load,
    note,
    prepared_database,
)

# The configuration's time to live per process (fraud.scoring.CONFIG_TTL_SECONDS) is 5 s:
# B is watched for longer than that.
WATCH_SECONDS = 8.0
WATCH_INTERVAL_SECONDS = 0.05


# --- In child processes, with Django on DATABASE_URL ----------------------------------------------


def prepare(cards: int, rate: str) -> None:
    """The world of bench/authorizations.py, plus a client whose authorize rate is `rate`."""
    world = issue_world(cards)
    from cardsystem.audit import Actor
    from cardsystem.services import api_client_create, api_client_set_rate_limits

    actor = Actor.system("bench/scale_out.py")
    client, key = api_client_create(name="bench limited", scopes=["authorize"], actor=actor)
    api_client_set_rate_limits(client=client, rate_limits={"authorize": rate}, actor=actor)
    world["limited_key"] = key
    print(json.dumps(world))


def _django() -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")
    django.setup()


def promote() -> None:
    """Promote a new version with a lower decline threshold; print the numbers before and
    after and the time (Unix) of the commit."""
    _django()
    from cardsystem.audit import Actor
    from fraud.configuration import live_config
    from fraud.versions import config_version_create, config_version_promote, live_config_with

    actor = Actor.system("bench/scale_out.py")
    # Django is set up and the draft's inputs are at hand before the word to go: the
    # promotion itself then takes a few milliseconds.
    print("ready", flush=True)
    sys.stdin.readline()
    before = live_config(ttl_seconds=0)
    decline = max(1, before.decline_threshold - 20)
    version = config_version_create(
        actor=actor,
        reason="bench/scale_out.py: a lower decline threshold",
        config=live_config_with(
            decline_threshold=decline, review_threshold=min(before.review_threshold, decline)
        ),
    )
    config_version_promote(version=version, actor=actor, reason="bench/scale_out.py")
    committed = time.time()
    print(
        json.dumps(
            {
                "before": before.version,
                "after": version.number,
                "decline_before": before.decline_threshold,
                "decline_after": decline,
                "committed": committed,
            }
        )
    )


def check(ids: list[str]) -> None:
    """Print the cards whose balance is not funding minus approved authorizations, and the
    version and status of the transactions `ids` (read from stdin as JSON)."""
    _django()
    from django.db.models import Q, Sum

    from cards.models import Card
    from transactions.models import Transaction

    approved = Q(transactions__status=Transaction.Status.APPROVED)
    cards = Card.objects.annotate(spent=Sum("transactions__amount_minor", filter=approved)).values_list(
        "pk", "balance_minor", "spent"
    )
    wrong = [
        {"card": str(pk), "balance_minor": balance, "expected_minor": BALANCE_MINOR - (spent or 0)}
        for pk, balance, spent in cards
        if balance != BALANCE_MINOR - (spent or 0)
    ]
    decided = {
        str(pk): {"version": version, "status": status}
        for pk, version, status in Transaction.objects.filter(pk__in=ids).values_list(
            "pk", "risk_config_version", "status"
        )
    }
    print(
        json.dumps(
            {
                "cards": len(cards),
                "approved": Transaction.objects.filter(status=Transaction.Status.APPROVED).count(),
                "wrong": wrong[:5],
                "wrong_count": len(wrong),
                "decided": decided,
            }
        )
    )


# --- Shared rate limits -----------------------------------------------------------------------


def burst(port: int, key: str, bodies: list[bytes]) -> dict:
    """Post every body on one keep-alive connection; count the answers by status."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    counts: dict[str, int] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for body in bodies:
        try:
            conn.request("POST", AUTHORIZATIONS, body, headers)
            response = conn.getresponse()
            response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException) as error:
            status = type(error).__name__
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        counts[status] = counts.get(status, 0) + 1
    conn.close()
    return counts


def seconds_before_a_fresh_window(now: float, period_seconds: int, needed: float) -> float:
    """How long to wait so that `needed` seconds fit in one fixed window from then on: 0 when
    they fit in what is left of this one, else until just after the next one begins."""
    left = period_seconds - now % period_seconds
    return 0.0 if left >= needed else left + 0.2


def shared_limit(ports: list[int], world: dict, rate: str, per_server: int) -> dict:
    requests, period = rate.split("/")
    period_seconds = {"second": 1, "minute": 60, "hour": 3600}[period]
    wait = seconds_before_a_fresh_window(time.time(), period_seconds, needed=5)
    if wait:
        note(f"rate limit: waiting {wait:.0f} s for a fresh window of {rate}")
        time.sleep(wait)
    rng = random.Random(2)
    jobs = [(port, world["limited_key"], bodies_for(world["cards"], rng)[:per_server]) for port in ports]
    with multiprocessing.get_context("fork").Pool(len(ports)) as pool:
        per_port = pool.starmap(burst, jobs)
    total = {status: sum(counts.get(status, 0) for counts in per_port) for c in per_port for status in c}
    limit = int(requests)
    passed = total.get("201", 0) == limit and total.get("429", 0) == per_server * len(ports) - limit
    return {"per_port": per_port, "total": total, "limit": limit, "passed": passed}


# --- A promotion seen by another server -------------------------------------------------------


def watch(port: int, key: str, bodies: list[bytes], seconds: float) -> list[tuple[float, str, int]]:
    """Authorizations one after the other for `seconds`: (sent at, transaction id, status)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent, stop_at, index = [], time.monotonic() + seconds, 0
    while time.monotonic() < stop_at:
        at = time.time()
        conn.request("POST", AUTHORIZATIONS, bodies[index % len(bodies)], headers)
        response = conn.getresponse()
        data = response.read()
        index += 1
        sent.append((at, json.loads(data).get("id", "") if response.status == 201 else "", response.status))
        time.sleep(WATCH_INTERVAL_SECONDS)
    conn.close()
    return sent


def promotion_seen(env: dict, port_b: int, world: dict) -> dict:
    """Promote in a separate process while B decides one authorization after the other."""
    bodies = bodies_for(world["cards"][:20], random.Random(3))
    promoter = subprocess.Popen(
        [sys.executable, __file__, "--promote"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if promoter.stdout.readline().strip() != "ready":
            raise RuntimeError(f"--promote failed:\n{promoter.stderr.read()[-3000:]}")
        with multiprocessing.get_context("fork").Pool(1) as pool:
            watching = pool.apply_async(watch, (port_b, world["key"], bodies, WATCH_SECONDS))
            time.sleep(1.5)  # B decides under the live version for a while first
            output, errors = promoter.communicate("go\n", timeout=60)
            sent = watching.get()
    finally:
        if promoter.poll() is None:
            promoter.kill()
            promoter.wait()
    if promoter.returncode:
        raise RuntimeError(f"--promote failed:\n{errors[-3000:]}")
    return {"promoted": json.loads(output.strip().splitlines()[-1]), "sent": sent}


# --- The run ----------------------------------------------------------------------------------------


@dataclass
class Checks:
    rows: list[tuple[str, bool, str]]

    def add(self, name: str, passed: bool, detail: str) -> None:
        self.rows.append((name, passed, detail))

    @property
    def failed(self) -> bool:
        return not all(passed for _, passed, _ in self.rows)


def run(args, checks: Checks) -> dict:
    import redis

    cache = redis.Redis.from_url(args.redis_url)
    if cache.dbsize():
        raise RuntimeError(f"{args.redis_url} is not empty: give --redis-url a database of this run's own")
    try:
        with prepared_database("postgres", args.postgres_url, __file__, args.cards) as (
            workdir,
            env,
            world,
            took,
        ):
            note(f"migrated, {args.cards} cards and two API clients issued in {took:.1f} s")
            env["REDIS_URL"] = args.redis_url
            return measure(args, checks, workdir, env, world)
    finally:
        cache.flushdb()


def measure(args, checks: Checks, workdir: Path, env: dict, world: dict) -> dict:
    results, log = {}, workdir / "gunicorn.log"
    for count in args.servers:
        with gunicorn(SERVERS["framework"], env, log, servers=count) as ports:
            note(f"{count} server(s) on 127.0.0.1:{','.join(map(str, ports))}, {args.seconds:g} s ...")
            results[count] = load(
                ports, world["key"], world["cards"], clients=args.clients, seconds=args.seconds
            )
            for sample in results[count].error_samples:
                note(f"{count} server(s): error: {sample[:200]}")
            if count != args.servers[-1]:
                continue
            limited = shared_limit(ports, world, args.rate, args.burst)
            promotion = promotion_seen(env, ports[1] if len(ports) > 1 else ports[0], world)
    for count, result in results.items():
        checks.add(f"no errors with {count} server(s)", not result.errors, f"{result.errors} errors")
    checks.add(
        f"rate {args.rate} counted over {len(ports)} servers together",
        limited["passed"],
        f"{args.burst} to each: "
        + ", ".join(str(dict(sorted(c.items()))) for c in limited["per_port"])
        + f"; in total {dict(sorted(limited['total'].items()))}",
    )
    sent = promotion["sent"]
    found = in_child(__file__, env, "--check", stdin=json.dumps([pk for _, pk, _ in sent if pk]))
    checks.add(
        "balances = funding - approved authorizations",
        found["wrong_count"] == 0,
        f"{found['cards']} cards, {found['approved']} approved authorizations, "
        f"{found['wrong_count']} cards differ {found['wrong'][:2] if found['wrong'] else ''}".rstrip(),
    )
    ledger = subprocess.run(
        [sys.executable, "manage.py", "verify_ledger"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    checks.add(
        "manage.py verify_ledger",
        ledger.returncode == 0,
        (ledger.stdout.strip() or ledger.stderr.strip().splitlines()[-1])[:160],
    )
    checks.add(
        "B's authorizations all answered 201",
        all(status == 201 for _, _, status in sent),
        f"{len(sent)} sent",
    )
    promoted = promotion["promoted"]
    decided = found["decided"]
    versions = [(at, decided.get(pk, {}).get("version")) for at, pk, _ in sent if at > promoted["committed"]]
    first_new = next((at for at, version in versions if version == promoted["after"]), None)
    stale_after = [
        at
        for at, version in versions
        if first_new is not None and at > first_new and version != promoted["after"]
    ]
    next_version = versions[0][1] if versions else None
    old = sum(version != promoted["after"] for _, version in versions)
    delay = f"{(first_new - promoted['committed']) * 1000:.0f} ms" if first_new else "never"
    checks.add(
        "B decides by the promoted version from then on",
        first_new is not None and not stale_after,
        f"version {promoted['before']} -> {promoted['after']} (decline at {promoted['decline_before']} -> "
        f"{promoted['decline_after']}); B first decided by it {delay} after the commit; of B's "
        f"{len(versions)} authorizations after the commit, {old} by the earlier version",
    )
    checks.add(
        "B's very next authorization is decided by the promoted version",
        next_version == promoted["after"],
        f"it was decided by version {next_version}",
    )
    return results


def table(command: str, args, results: dict, checks: Checks, load_average: float) -> str:
    lines = [
        f"command: {command}",
        f"settings: PostgreSQL, Redis {args.redis_url}, {args.clients} keep-alive clients spread over the "
        f"servers, one gunicorn gthread worker per server, {args.seconds:g} s each, {args.cards} cards, "
        f"{os.cpu_count()} CPUs, load average {load_average:.2f} at the start",
        "",
        f"{'servers':>7} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}",
    ]
    for count, result in results.items():
        lines.append(
            f"{count:>7} {len(result.latencies_ms):>9} {result.throughput:>8.1f} "
            f"{result.percentile(0.50):>8.2f} {result.percentile(0.99):>8.2f} {result.errors:>7}"
        )
    lines.append("")
    for name, passed, detail in checks.rows:
        lines.append(f"{'ok  ' if passed else 'FAIL'} {name}: {detail}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=8, help="measured seconds per server count (default 8)"
    )
    parser.add_argument("--clients", type=int, default=8, help="keep-alive clients (default 8)")
    parser.add_argument("--servers", default="1,2,4", help="server counts, in order (default 1,2,4)")
    parser.add_argument("--cards", type=int, default=400, help="funded cards (default 400)")
    parser.add_argument(
        "--rate", default="30/minute", help="the limited client's authorize rate (default 30/minute)"
    )
    parser.add_argument(
        "--burst", type=int, default=20, help="limited requests sent to each server (default 20)"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="an empty Redis database")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--promote", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare is not None:
        prepare(args.prepare, args.rate)
        return 0
    if args.promote:
        promote()
        return 0
    if args.check:
        check(json.loads(sys.stdin.read() or "[]"))
        return 0
    args.servers = [int(count) for count in args.servers.split(",") if count.strip()]
    if not args.servers or min(args.servers) < 1:
        parser.error("--servers takes positive counts, such as 1,2,4")
    if (
        urlsplit(args.postgres_url).hostname not in LOOPBACK
        or urlsplit(args.redis_url).hostname not in LOOPBACK
    ):
        parser.error("--postgres-url and --redis-url must point at 127.0.0.1")
    requests, _, period = args.rate.partition("/")
    if not requests.isdigit() or period not in ("second", "minute", "hour"):
        parser.error('--rate takes a number per second, minute or hour, such as "30/minute"')
    if args.burst * args.servers[-1] <= int(requests) or args.burst > int(requests):
        parser.error("--burst must be at most the rate, and --burst times the last server count above it")
    if args.cards < args.clients:
        parser.error("give at least one card per client")
    command = shlex.join(
        [os.path.relpath(sys.executable, ROOT), os.path.relpath(__file__, ROOT), *sys.argv[1:]]
    )
    load_average = os.getloadavg()[0]
    checks = Checks(rows=[])
    results = run(args, checks)
    print(table(command, args, results, checks, load_average))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
