"""What a version in shadow costs an authorization: the same requests with no shadow,
with a shadow that shares the live decision's windows, and with one whose card-testing
window differs (one more cross-card statement), in one process, in the same run.

    .venv/bin/python bench/shadow_cost.py [--requests 300] [--rounds 5] [--database sqlite|postgres]

Prepares a fresh database as bench/authorizations.py does, then calls
`cardsystem.wsgi:application` directly (bench/profile_authorization.py's `wsgi_call`),
alternating the three settings round by round so that other work on the machine
weighs on each alike. Prints the median over the rounds of the mean milliseconds per
request of each setting and its ratio to no shadow.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from authorizations import ROOT, bodies_for, server_env
from databases import database
from profile_authorization import WARM_UP, wsgi_call

SETTINGS = ("no shadow", "shadow, same windows", "shadow, another window")


def measure(args, world: dict) -> dict[str, list[float]]:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from cardsystem.audit import Actor
    from cardsystem.wsgi import application
    from fraud import shadow
    from fraud.configuration import RuleConfig
    from fraud.models import FraudConfigVersion
    from fraud.versions import config_version_create, live_config_with

    actor = Actor.system("bench/shadow_cost.py")
    rules = dict(live_config_with().rules)
    same = config_version_create(
        actor=actor, reason="bench: same windows", config=live_config_with(decline_threshold=60)
    )
    bin_rule = rules["bin_card_testing"]
    rules["bin_card_testing"] = RuleConfig(
        bin_rule.score, {**bin_rule.params, "window_minutes": 15}, bin_rule.enabled
    )
    other = config_version_create(
        actor=actor, reason="bench: another window", config=live_config_with(rules=rules)
    )
    versions = {"no shadow": None, "shadow, same windows": same, "shadow, another window": other}

    def in_shadow(version):
        current = FraudConfigVersion.objects.filter(state=FraudConfigVersion.State.SHADOW).first()
        if current is not None:
            shadow.shadow_end(version=current, actor=actor, reason="bench")
        if version is not None:
            shadow.shadow_start(version=version, actor=actor, reason="bench")

    bodies = iter(bodies_for(world["cards"], random.Random(2)))
    for _ in range(WARM_UP):
        status, data = wsgi_call(application, next(bodies), world["key"])
        if not status.startswith("201"):
            raise RuntimeError(f"answered {status}: {data[:300]!r}")
    means = {name: [] for name in SETTINGS}
    for _ in range(args.rounds):
        for name in SETTINGS:
            in_shadow(versions[name])
            batch = [next(bodies) for _ in range(args.requests)]
            started = time.perf_counter()
            for body in batch:
                wsgi_call(application, body, world["key"])
            means[name].append((time.perf_counter() - started) / len(batch) * 1000)
    in_shadow(None)
    stored = same.shadow_decisions.count() + other.shadow_decisions.count()
    expected = 2 * args.rounds * args.requests
    if stored != expected:
        raise RuntimeError(f"{stored} shadow decisions stored, {expected} expected")
    return means


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per setting and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    total = WARM_UP + args.rounds * len(SETTINGS) * args.requests
    with (
        tempfile.TemporaryDirectory(prefix="bench-shadow-") as tmp,
        database(args.database, Path(tmp), args.postgres_url) as url,
    ):
        (Path(tmp) / "logs").mkdir()
        env = server_env(url, Path(tmp) / "logs")
        prepared = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "authorizations.py"), "--prepare", str(total // 3 + 1)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        world = json.loads(prepared.stdout.strip().splitlines()[-1])
        os.environ.update(env)
        load = os.getloadavg()[0]
        means = measure(args, world)
    base = statistics.median(means["no shadow"])
    print(f"{args.database}, {args.rounds} rounds x {args.requests} requests per setting, in process; "
          f"load average {load:.2f} at the start")  # fmt: skip
    for name in SETTINGS:
        median = statistics.median(means[name])
        print(f"  {name:<24} {median:6.2f} ms per request  x{median / base:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
