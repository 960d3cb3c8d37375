"""How well the fraud engine detects fraud it was not trained on.

    .venv/bin/python bench/fraud_quality.py [--cardholders 1000] [--days 60]
                                            [--train-seed 1] [--eval-seed 2]
                                            [--database sqlite|postgres]

In one fresh database (a temporary SQLite file, or a throwaway PostgreSQL database on
127.0.0.1:5432 with `--database postgres`), with the environment of production:

1. A training world (`--train-seed`): `--cardholders` cardholders over the `--days`
   days before the evaluation world, simulated by demo/simulation and played through
   the authorization service with the rules alone; cardholders report fraud days later.
2. `training.train` on what was known at the training world's end (the reports filed
   by then), and the model made active.
3. An evaluation world (`--eval-seed`: other people, merchants and attacks) over the
   last `--days` days, played through the same service with rules and model, its
   reports arriving on schedule (later decisions see them).

Then, over the evaluation world's decisions on known cards (made-up card numbers get
no score), against the simulator's ground truth: ROC AUC and average precision of the
risk score; precision, recall and false-positive rate (legitimate transactions at or
above the threshold, of all legitimate ones) at the decline and the review thresholds;
and per scenario the share of attacks stopped (at least one of its attempts scored at
the decline threshold) and of its attempts declined. The same for the rules alone: the
rules' own full points of the same decisions (without the model's factor and the rule
weight; the traffic is the one the engine with the model shaped). Prints Markdown tables.
"""

import argparse
import datetime
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from authorizations import ROOT, server_env
from databases import database

MODEL_CODES = {"model", "model_error"}
LABEL_DELAY = datetime.timedelta(days=7)
KEYS = ("engine", "rules")  # the score with the model, the rules' points alone


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cardholders", type=int, default=1000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--train-seed", type=int, default=1)
    parser.add_argument("--eval-seed", type=int, default=2)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="SQLite only: keep the database (DIR/worlds.sqlite3) and the evaluation world's ground truth "
        "(DIR/truth.json) for a closer look",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="fraud-quality-") as workdir,
        database(args.database, Path(workdir), args.postgres_url) as url,
    ):
        os.environ.update(server_env(url, Path(workdir) / "logs"))
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        return run(args)


def run(args) -> int:
    from django.core.management import call_command

    from cardsystem.audit import Actor
    from demo.simulation import plan_world, replay_world
    from demo.simulation.world import default_end
    from fraud import training
    from fraud.models import FraudSettings
    from fraud.services import model_activate

    call_command("migrate", verbosity=0)
    actor = Actor.system("bench/fraud_quality.py")
    end = default_end()
    split = end - datetime.timedelta(days=args.days)

    started = time.perf_counter()
    train_world = plan_world(cardholders=args.cardholders, days=args.days, seed=args.train_seed, end=split)
    trained = replay_world(train_world, actor=actor)
    note(
        f"training world: {len(trained.outcomes)} authorizations, {trained.reports} reports, "
        f"{time.perf_counter() - started:.0f} s"
    )

    started = time.perf_counter()
    # The last week before the split is left out: its fraud is mostly not reported yet.
    model = training.train(
        actor=actor,
        cutoff=split,
        since=split - datetime.timedelta(days=args.days),
        label_delay=LABEL_DELAY,
    )
    model_activate(model=model, actor=actor)
    metrics = model.metadata.get("holdout", model.metadata)
    note(
        f"model v{model.version}: {model.metadata.get('rows')} rows, {model.metadata.get('frauds')} frauds, "
        f"held-out metrics {metrics.get('roc_auc', metrics)}; {time.perf_counter() - started:.0f} s"
    )

    started = time.perf_counter()
    eval_world = plan_world(cardholders=args.cardholders, days=args.days, seed=args.eval_seed, end=end)
    evaluated = replay_world(eval_world, actor=actor)
    note(
        f"evaluation world: {len(evaluated.outcomes)} authorizations, {evaluated.reports} reports, "
        f"{time.perf_counter() - started:.0f} s"
    )

    if args.keep:
        keep(Path(args.keep), evaluated.outcomes)
    settings = FraudSettings.objects.get()
    rows = scored(evaluated.outcomes)
    print()
    print(
        f"    .venv/bin/python bench/fraud_quality.py --cardholders {args.cardholders} --days {args.days} "
        f"--train-seed {args.train_seed} --eval-seed {args.eval_seed} --database {args.database}"
    )
    print()
    print(summary_table(rows, settings.review_threshold, settings.decline_threshold))
    print()
    print(scenario_table(rows, settings.decline_threshold))
    return 0


def keep(directory: Path, outcomes) -> None:
    import json

    from django.db import connection

    directory.mkdir(parents=True, exist_ok=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM INTO %s", [str(directory / "worlds.sqlite3")])
    truth = [[str(o.transaction_id), o.is_fraud, o.scenario, o.attack_id] for o in outcomes]
    (directory / "truth.json").write_text(json.dumps(truth))
    note(f"kept {directory / 'worlds.sqlite3'} and {directory / 'truth.json'}")


def scored(outcomes) -> list[dict]:
    """One row per decision on a known card: truth, the engine's score, the rules' alone."""
    from fraud.models import Rule
    from transactions.models import Transaction

    truth = {o.transaction_id: o for o in outcomes}
    full_points = dict(Rule.objects.exclude(code__in=MODEL_CODES).values_list("code", "score"))
    rows = []
    ids = list(truth)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for pk, score, factors in Transaction.objects.filter(
            pk__in=chunk, risk_score__isnull=False
        ).values_list("pk", "risk_score", "risk_factors"):
            outcome = truth[pk]
            # The rules' own points: beside the model each counts at the rule weight.
            rules = min(100, sum(full_points.get(f["code"], 0) for f in factors))
            rows.append(
                {
                    "fraud": outcome.is_fraud,
                    "scenario": outcome.scenario,
                    "attack": outcome.attack_id,
                    "engine": score,
                    "rules": rules,
                }
            )
    return rows


def quality(rows: list[dict], key: str, review: int, decline: int) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = [r["fraud"] for r in rows]
    scores = [r[key] for r in rows]
    legit = sum(not f for f in y) or 1
    frauds = sum(y) or 1
    result = {"auc": roc_auc_score(y, scores), "ap": average_precision_score(y, scores)}
    for name, threshold in (("decline", decline), ("review", review)):
        hits = [r["fraud"] for r in rows if r[key] >= threshold]
        true = sum(hits)
        result[name] = {
            "precision": true / len(hits) if hits else 0.0,
            "recall": true / frauds,
            "fpr": (len(hits) - true) / legit,
        }
    return result


def summary_table(rows: list[dict], review: int, decline: int) -> str:
    frauds = sum(r["fraud"] for r in rows)
    lines = [
        f"{len(rows):,} decisions on known cards, {frauds:,} of them fraud ({frauds / len(rows):.2%}).",
        "",
        f"| scorer | ROC AUC | avg precision | decline (score ≥ {decline}): precision / recall / FPR "
        f"| review (score ≥ {review}): precision / recall / FPR |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, key in (("rules + model", "engine"), ("rules alone", "rules")):
        q = quality(rows, key, review, decline)
        cells = [
            f"{q[name]['precision']:.1%} / {q[name]['recall']:.1%} / {q[name]['fpr']:.3%}"
            for name in ("decline", "review")
        ]
        lines.append(f"| {label} | {q['auc']:.3f} | {q['ap']:.3f} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def scenario_table(rows: list[dict], decline: int) -> str:
    attacks = defaultdict(lambda: defaultdict(list))  # scenario -> attack -> rows
    for r in rows:
        if r["fraud"]:
            attacks[r["scenario"]][r["attack"]].append(r)
    lines = [
        "| scenario | attacks | attempts | stopped: rules + model | stopped: rules alone "
        "| attempts declined: rules + model | rules alone |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario, by_attack in sorted(attacks.items()):
        groups = list(by_attack.values())
        attempts = [r for group in groups for r in group]
        cells = [len(groups), len(attempts)]
        cells += [
            sum(any(r[key] >= decline for r in group) for group in groups) / len(groups) for key in KEYS
        ]
        cells += [sum(r[key] >= decline for r in attempts) / len(attempts) for key in KEYS]
        lines.append(
            f"| {scenario} | {cells[0]} | {cells[1]} | " + " | ".join(f"{c:.0%}" for c in cells[2:]) + " |"
        )
    return "\n".join(lines)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
