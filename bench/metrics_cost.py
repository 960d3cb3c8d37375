"""What counting a decision for /metrics costs the authorization path, in both of
prometheus_client's modes.

    .venv/bin/python bench/metrics_cost.py [--calls 200000]

`cardsystem.metrics.decision_recorded` (one labelled counter increment and one histogram
observation: what transactions/services/authorizations.py adds to each decision, at
commit) is timed `--calls` times in a fresh process for each mode, because
prometheus_client chooses its mode when it is imported:

- in memory: one process (runserver, tests, a server without PROMETHEUS_MULTIPROC_DIR);
- multiprocess: PROMETHEUS_MULTIPROC_DIR set to a temporary directory, as gunicorn.conf.py
  does for its workers (the values are written to memory-mapped files there).

Prints the mean microseconds per decision for each, and the time of one scrape's
rendering of those files (the scrape-time database gauges left out: they need a
database, and cost a scrape, never a decision). Compare with the framework's mean per
request that bench/profile_authorization.py prints, which also shows the same call as a
phase of the request.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
import django
django.setup()
from cardsystem import metrics
calls = int(sys.argv[1])
codes = [("approved", "00"), ("declined", "51"), ("declined", "59"), ("declined", "N7")]
for status, code in codes:
    metrics.decision_recorded(status=status, response_code=code, seconds=0.004)
started = time.perf_counter()
for number in range(calls):
    status, code = codes[number % 4]
    metrics.decision_recorded(status=status, response_code=code, seconds=0.0042)
per_call = (time.perf_counter() - started) / calls
metrics._scrape_sources.clear()
started = time.perf_counter()
for _ in range(20):
    text = metrics.exposition()
scrape = (time.perf_counter() - started) / 20
print(json.dumps({"per_call_us": per_call * 1e6, "scrape_ms": scrape * 1e3, "bytes": len(text)}))
"""


def run(calls: int, multiprocess_dir: str | None) -> dict:
    env = {name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(DJANGO_SETTINGS_MODULE="cardsystem.settings", PYTHONPATH=str(ROOT))
    env.setdefault("LOG_DIR", "/tmp/cardsystem-bench-logs")  # noqa: S108 (a bench's throwaway logs)
    if multiprocess_dir:
        env["PROMETHEUS_MULTIPROC_DIR"] = multiprocess_dir
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(calls)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    in_memory = run(args.calls, None)
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as directory:
        multiprocess = run(args.calls, directory)
    print(f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(
        f"{args.calls} decisions counted per mode, {os.cpu_count()} CPUs, "
        f"load average {load:.2f} at the start\n"
    )
    print(f"{'mode':<14} {'us per decision':>16} {'scrape ms':>10} {'scrape bytes':>13}")
    for name, result in (("in memory", in_memory), ("multiprocess", multiprocess)):
        print(f"{name:<14} {result['per_call_us']:>16.2f} {result['scrape_ms']:>10.2f} {result['bytes']:>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
