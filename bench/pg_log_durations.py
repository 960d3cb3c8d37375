"""Where PostgreSQL's time goes per statement over HTTP, from its own log.

    psql -h 127.0.0.1 -U postgres -c "ALTER SYSTEM SET log_min_duration_statement = 0" \
        -c "SELECT pg_reload_conf()"
    .venv/bin/python bench/authorizations.py --seconds 10 --databases postgres \
        --servers framework,floor --rounds 2
    psql -h 127.0.0.1 -U postgres -c "ALTER SYSTEM RESET log_min_duration_statement" \
        -c "SELECT pg_reload_conf()"
    .venv/bin/python bench/pg_log_durations.py LOGFILE [--top 30]

LOGFILE: the server log's lines of the run (on this machine the tail of
/var/log/postgresql/postgresql-15-main.log from before the run). With
log_min_duration_statement at 0 PostgreSQL logs every statement's duration, and each
phase of a prepared one apart (parse, bind, execute): a backend's wall time, waits
included, not its CPU. Prints, for the bench's databases (cardsystem_bench_*), the count
and mean duration of each statement shape (its first 90 characters, whitespace folded;
the floor's ORM statements carry their values inline, so one of them may spread over
several shapes), the dearest first.
"""

import argparse
import re
from collections import defaultdict

LINE = re.compile(
    r"\[\d+\] \S+@(?P<database>\S+) LOG:  duration: (?P<ms>[\d.]+) ms  (?P<phase>\w+)[^:]*: (?P<text>.*)$"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    shapes = defaultdict(lambda: [0, 0.0])
    with open(args.log, errors="replace") as log:
        for line in log:
            found = LINE.search(line)
            if not found or not found["database"].startswith("cardsystem_bench"):
                continue
            shape = (found["phase"], re.sub(r"\s+", " ", found["text"])[:90])
            shapes[shape][0] += 1
            shapes[shape][1] += float(found["ms"])
    dearest = sorted(shapes.items(), key=lambda item: -item[1][1])[: args.top]
    for (phase, text), (count, total) in dearest:
        print(f"{count:8d} x {total / count * 1000:7.0f} us  {phase:9} {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
