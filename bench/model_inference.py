"""What the fraud model adds to one decision: fraud.inference.predict against LightGBM alone.

    .venv/bin/python bench/model_inference.py [--calls 1000] [--rows 20000] [--rounds 200]

Self-contained, no database: trains a model with fraud.training's parameters on
`--rows` synthetic rows carrying every name of fraud.catalogue (booleans, counts,
amounts, some None), parses it from its text as an app server does, then times one
decision at a time, each `--calls` times after a warm-up:

- `inference.predict`: the dict of stored features to a float64 row, one LightGBM
  pass giving the contributions (TreeSHAP), the probability and the ranked features;
- `inference.explain` of that prediction (the words for the analyst);
- the floor: `booster.predict` of a prepared row, probability only;
- `booster.predict(..., pred_contrib=True)` of a prepared row, where most of the
  difference goes.

Prints the mean milliseconds per call and the ratio of each to the floor, with the
load average it started with (other work on the machine skews every number).
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")
os.environ.setdefault("LOG_DIR", "/tmp/cardsystem-bench-logs")  # noqa: S108 (a bench's throwaway logs)

import django  # noqa: E402

django.setup()

import lightgbm  # noqa: E402
import numpy as np  # noqa: E402

from fraud import catalogue, inference, training  # noqa: E402

WARM_UP = 50


def synthetic_row(rng: random.Random, fraud: bool) -> dict:
    row = {}
    for feature in catalogue.FEATURES:
        if feature.unit == "flag":
            row[feature.name] = rng.random() < (0.6 if fraud else 0.2)
        elif rng.random() < 0.1:
            row[feature.name] = None
        else:
            row[feature.name] = round(rng.lognormvariate(1.5 if fraud else 1.0, 1.0), 2)
    return row


def timed(function, calls: int) -> float:
    """Mean milliseconds per call."""
    for _ in range(WARM_UP):
        function()
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) * 1000 / calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=training.DEFAULT_ROUNDS)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")

    rng = random.Random(1)
    labels = [rng.random() < 0.05 for _ in range(args.rows)]
    rows = [synthetic_row(rng, fraud) for fraud in labels]
    X = np.array([inference.vector(row, catalogue.NAMES) for row in rows], dtype=np.float64)
    started = time.perf_counter()
    trained = lightgbm.train(
        training.DEFAULT_PARAMS, lightgbm.Dataset(X, label=labels), num_boost_round=args.rounds
    )
    print(
        f"trained {trained.num_trees()} trees of at most {training.DEFAULT_PARAMS['num_leaves']} leaves on "
        f"{args.rows:,} rows x {len(catalogue.NAMES)} features in {time.perf_counter() - started:.2f} s"
    )
    text = trained.model_to_string()
    started = time.perf_counter()
    booster = lightgbm.Booster(model_str=text)
    print(
        f"model text {len(text) / 1024:,.0f} KiB, parsed in {(time.perf_counter() - started) * 1000:.1f} ms"
    )
    model = inference.LoadedModel(pk=0, version=0, features=catalogue.NAMES, booster=booster)

    decision = rows[next(i for i, fraud in enumerate(labels) if fraud)]
    prepared = np.array([inference.vector(decision, catalogue.NAMES)], dtype=np.float64)
    prediction = inference.predict(model, decision)
    if abs(prediction.probability - booster.predict(prepared)[0]) > 1e-9:
        raise SystemExit("inference.predict disagrees with LightGBM's own probability")

    floor = timed(lambda: booster.predict(prepared, num_threads=1), args.calls)
    results = [
        (
            "inference.predict (features dict -> probability + contributions)",
            timed(lambda: inference.predict(model, decision), args.calls),
        ),
        (
            "inference.explain (words of a prediction)",
            timed(lambda: inference.explain(prediction), args.calls),
        ),
        (
            "booster.predict, pred_contrib=True, prepared row",
            timed(lambda: booster.predict(prepared, pred_contrib=True, num_threads=1), args.calls),
        ),
        ("floor: booster.predict, probability only, prepared row", floor),
    ]
    print(f"\nmean over {args.calls:,} calls, one row each:")
    for label, ms in results:
        print(f"  {label:<66} {ms:7.3f} ms  {ms / floor:6.1f}x the floor")
    print(f"\nexample: {inference.explain(prediction)}")


if __name__ == "__main__":
    main()
