"""How well the fraud engine detects fraud it was not trained on.

    .venv/bin/python bench/fraud_quality.py [--cardholders 1000] [--days 60]
                                            [--train-seed 1] [--eval-seed 2]
                                            [--database sqlite|postgres] [--end TIME]
    .venv/bin/python bench/fraud_quality.py --seeds 101,102,103 --sizes 1000x60,500x45
                                            [--jobs 2] [--log-dir DIR] [--end TIME]

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
the decline threshold, or answered 1A) and of its attempts declined or answered 1A. The
same for the rules alone: the rules' own full points of the same decisions (without the
model's factor and the rule weight; the traffic is the one the engine with the model
shaped). Prints Markdown tables.

A step-up (response code 1A, verification required: "insert the card and type the PIN")
stops an attack's attempt: the thief gets nothing and cannot verify (the simulator's
thieves guess a PIN wrong or walk away; a skimmer whose camera caught the PIN never
reaches a step-up, having typed it already). On a legitimate purchase it is not a false
decline: the cardholder types the PIN and the next attempt is approved, as after a
mistyped PIN's 55.

Per scenario also the share of attacks stopped before their third transaction: one of
its first two attempts on known cards (in time order; made-up numbers are declined as
unknown and get no score) scored at the decline threshold or answered 1A. And the false
declines of the customers who should never see one: legitimate transactions with no
failed card check (the CVV right or not asked, the expiry date right, the PIN not
mistyped: a wrong PIN is declined as 55 anyway) and not answered 1A, on a card no attack
had touched yet (no transaction of any attack on that card, the skimmer's visit included,
at or before its time), declined by the engine (score at the decline threshold) of all
such transactions. Beside them, the clean purchases **stepped up**: those answered 1A,
of all clean ones (the same, 1A included).

Several worlds (`--seeds` and `--sizes`): each world (a size and a seed s) runs in a
subprocess of its own, in a fresh database of its own, with training seed 2s - 1 and
evaluation seed 2s (seed 1 is the single run's default pair, 1 and 2); `--jobs` worlds
at a time. Prints one row per world and the worst world: for each figure its worst
value across the worlds and the world it came from, not the mean.
"""

import argparse
import datetime
import json
import os
import subprocess
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
# The model trains on the approvals that cardholders report as fraud: a training world of
# 500 cardholders over 45 days holds about 30 of them, and each rule that stops a thief's
# first purchase leaves one fewer. `train_model`'s guard (30 by default) would then refuse
# the smaller worlds; the bench trains from 20, and prints how many it had.
MIN_FRAUDS = 20
STEP_UP = "1A"  # verification required (transactions/codes.py): a soft decline, the PIN asked for


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
    parser.add_argument("--json", metavar="FILE", help="also write the world's figures to FILE as JSON")
    parser.add_argument(
        "--seeds", help="several worlds: comma-separated seeds s (training seed 2s - 1, evaluation seed 2s)"
    )
    parser.add_argument(
        "--sizes",
        default="1000x60,500x45",
        help="with --seeds: comma-separated CARDHOLDERSxDAYS (default 1000x60,500x45)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="with --seeds: worlds run at once (default 1)")
    parser.add_argument(
        "--end",
        type=_moment,
        help="when the evaluation world ends, an ISO time in the past such as 2026-12-01T00:00Z "
        "(default: now, to the minute). A seed plans the same world only at the same end.",
    )
    parser.add_argument(
        "--log-dir", metavar="DIR", help="with --seeds: keep each world's output and figures in DIR"
    )
    args = parser.parse_args()
    if args.seeds:
        return worlds(args)
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
    end = args.end or default_end()
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
        min_frauds=MIN_FRAUDS,
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
        f" --end {end.isoformat()}"
    )
    print()
    print(summary_table(rows, settings.review_threshold, settings.decline_threshold))
    print()
    print(scenario_table(rows, settings.decline_threshold))
    figures = world_figures(rows, settings.decline_threshold)
    print()
    print(false_decline_line(figures))
    print(stepped_up_line(figures))
    if args.json:
        figures.update(
            cardholders=args.cardholders,
            days=args.days,
            train_seed=args.train_seed,
            eval_seed=args.eval_seed,
            model_version=model.version,
            model_rows=model.metadata.get("rows"),
            model_frauds=model.metadata.get("frauds"),
        )
        Path(args.json).write_text(json.dumps(figures, indent=1))
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
    from transactions.authentication_facts import CardholderVerification
    from transactions.models import Transaction

    truth = {o.transaction_id: o for o in outcomes}
    order = {o.transaction_id: position for position, o in enumerate(outcomes)}  # decided in time order
    full_points = dict(Rule.objects.exclude(code__in=MODEL_CODES).values_list("code", "score"))
    failed = (Transaction.CvvResult.MISMATCH, Transaction.ExpiryResult.MISMATCH)
    wrong_pin = CardholderVerification.PIN_FAILED.value
    rows = []
    ids = list(truth)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for pk, score, factors, card, at, cvv, expiry, pin, code in Transaction.objects.filter(
            pk__in=chunk, risk_score__isnull=False
        ).values_list(
            "pk",
            "risk_score",
            "risk_factors",
            "card_id",
            "transaction_time",
            "cvv_result",
            "expiry_result",
            "cardholder_verification",
            "response_code",
        ):
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
                    "order": order[pk],
                    "card": card,
                    "at": at,
                    "check_failed": cvv == failed[0] or expiry == failed[1] or pin == wrong_pin,
                    "stepped_up": code == STEP_UP,
                }
            )
    rows.sort(key=lambda r: r["order"])
    return rows


def stops(r: dict, key: str, decline: int) -> bool:
    """The decision stops the attempt: scored at the decline threshold, or answered 1A
    (the thief cannot type the PIN)."""
    return r[key] >= decline or r["stepped_up"]


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
        "| attempts declined or 1A: rules + model | rules alone |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario, by_attack in sorted(attacks.items()):
        groups = list(by_attack.values())
        attempts = [r for group in groups for r in group]
        cells = [len(groups), len(attempts)]
        cells += [
            sum(any(stops(r, key, decline) for r in group) for group in groups) / len(groups) for key in KEYS
        ]
        cells += [sum(stops(r, key, decline) for r in attempts) / len(attempts) for key in KEYS]
        lines.append(
            f"| {scenario} | {cells[0]} | {cells[1]} | " + " | ".join(f"{c:.0%}" for c in cells[2:]) + " |"
        )
    return "\n".join(lines)


def world_figures(rows: list[dict], decline: int) -> dict:
    """One world's figures: ROC AUC and average precision of the engine's score, per
    scenario the attacks, the share stopped (scored at the decline threshold or answered
    1A) before their third transaction and at all, the false declines of legitimate
    transactions with no failed card check on cards no attack had touched yet (a 1A is
    none: left out), and the share of those clean purchases stepped up (answered 1A).
    `rows` in time order."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = [r["fraud"] for r in rows]
    scores = [r["engine"] for r in rows]
    attacks = defaultdict(lambda: defaultdict(list))  # scenario -> attack -> rows, in time order
    for r in rows:
        if r["fraud"]:
            attacks[r["scenario"]][r["attack"]].append(r)
    kinds = {}
    for scenario, by_attack in sorted(attacks.items()):
        groups = list(by_attack.values())
        kinds[scenario] = {
            "attacks": len(groups),
            "before_third": sum(any(stops(r, "engine", decline) for r in g[:2]) for g in groups)
            / len(groups),
            "stopped": sum(any(stops(r, "engine", decline) for r in g) for g in groups) / len(groups),
        }
    touched = {}  # card -> the time of the first transaction of any attack on it
    for r in rows:
        if r["attack"] is not None and r["card"] not in touched:
            touched[r["card"]] = r["at"]
    clean = [
        r
        for r in rows
        if not r["fraud"]
        and not r["check_failed"]
        and (r["card"] not in touched or r["at"] < touched[r["card"]])
    ]
    stepped = sum(r["stepped_up"] for r in clean)
    base = [r for r in clean if not r["stepped_up"]]  # a 1A is no decline: the PIN typed, approved
    declined = sum(r["engine"] >= decline for r in base)
    return {
        "decisions": len(rows),
        "frauds": sum(y),
        "auc": roc_auc_score(y, scores),
        "ap": average_precision_score(y, scores),
        "kinds": kinds,
        "false_declines": {"declined": declined, "of": len(base), "share": declined / max(len(base), 1)},
        "stepped_up": {"asked": stepped, "of": len(clean), "share": stepped / max(len(clean), 1)},
    }


def false_decline_line(figures: dict) -> str:
    fd = figures["false_declines"]
    return (
        f"False declines: {fd['declined']:,} of {fd['of']:,} legitimate transactions with no failed card "
        f"check on cards no attack had touched yet, 1A left out ({fd['share']:.3%})."
    )


def stepped_up_line(figures: dict) -> str:
    su = figures["stepped_up"]
    return (
        f"Stepped up (1A, the PIN asked for): {su['asked']:,} of {su['of']:,} of the same legitimate "
        f"transactions, 1A included ({su['share']:.3%})."
    )


# --- Several worlds ------------------------------------------------------------------------------


def worlds(args) -> int:
    """Each world in a subprocess (its own fresh database), `--jobs` at a time; then one
    row per world and the worst world."""
    import shutil

    seeds = [int(seed) for seed in args.seeds.split(",")]
    sizes = [tuple(int(n) for n in size.lower().split("x")) for size in args.sizes.split(",")]
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="fraud-quality-worlds-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    todo = [(cardholders, days, seed) for cardholders, days in sizes for seed in seeds]
    running: list[tuple[tuple, subprocess.Popen, float]] = []
    results, failures = {}, []
    started = time.perf_counter()
    while todo or running:
        while todo and len(running) < max(1, args.jobs):
            world = todo.pop(0)
            cardholders, days, seed = world
            name = world_name(world)
            command = [
                sys.executable, __file__, "--cardholders", str(cardholders), "--days", str(days),
                "--train-seed", str(2 * seed - 1), "--eval-seed", str(2 * seed),
                "--database", args.database, "--postgres-url", args.postgres_url,
                "--json", str(log_dir / f"{name}.json"),
            ]  # fmt: skip
            if args.end:
                command += ["--end", args.end.isoformat()]
            with (log_dir / f"{name}.log").open("w") as log:
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            note(f"{name}: started (training seed {2 * seed - 1}, evaluation seed {2 * seed})")
            running.append((world, process, time.perf_counter()))
        time.sleep(1)
        for entry in list(running):
            world, process, began = entry
            if process.poll() is None:
                continue
            running.remove(entry)
            name = world_name(world)
            if process.returncode:
                failures.append(name)
                note(f"{name}: FAILED (exit {process.returncode}), see {log_dir / (name + '.log')}")
                continue
            results[world] = json.loads((log_dir / f"{name}.json").read_text())
            note(f"{name}: done in {time.perf_counter() - began:.0f} s")
    note(f"all worlds in {time.perf_counter() - started:.0f} s; outputs in {log_dir}")
    print()
    end = f" --end {args.end.isoformat()}" if args.end else ""
    print(f"    .venv/bin/python bench/fraud_quality.py --seeds {args.seeds} --sizes {args.sizes}{end}")
    print()
    print(f"Load average at the end: {', '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print()
    print(worlds_table(results))
    print()
    print(worst_table(results))
    if not args.log_dir:
        shutil.rmtree(log_dir, ignore_errors=True)
    if failures:
        print(f"\nFailed: {', '.join(failures)}")
        return 1
    return 0


def world_name(world: tuple) -> str:
    cardholders, days, seed = world
    return f"{cardholders}x{days}-s{seed}"


def worst_cells(results: dict) -> list[tuple[str, str, tuple]]:
    """(figure, its worst value as text, the world) for every figure: the lowest AUC,
    average precision and shares stopped, the highest shares of false declines and of
    clean purchases stepped up (worlds measured before step-ups have no such figure)."""
    cells = []

    def worst(label, value, fmt, highest_is_worst=False):
        found = [(value(figures), world) for world, figures in results.items() if value(figures) is not None]
        if found:
            pick = max(found, key=lambda f: f[0]) if highest_is_worst else min(found, key=lambda f: f[0])
            cells.append((label, fmt(pick[0]), pick[1]))

    worst("ROC AUC", lambda f: f["auc"], "{:.3f}".format)
    worst("average precision", lambda f: f["ap"], "{:.3f}".format)
    kinds = sorted({kind for figures in results.values() for kind in figures["kinds"]})
    for kind in kinds:
        for key, label in (("before_third", "stopped before 3rd"), ("stopped", "stopped at all")):
            worst(
                f"{kind}: {label}",
                lambda f, kind=kind, key=key: f["kinds"][kind][key] if kind in f["kinds"] else None,
                "{:.0%}".format,
            )
    worst("false declines", lambda f: f["false_declines"]["share"], "{:.3%}".format, highest_is_worst=True)
    worst(
        "stepped up",
        lambda f: f["stepped_up"]["share"] if "stepped_up" in f else None,
        "{:.3%}".format,
        highest_is_worst=True,
    )
    return cells


def worlds_table(results: dict) -> str:
    """One row per world, then one row per scenario with a column per world."""
    lines = [
        "| world | decisions | frauds | ROC AUC | avg precision | false declines | stepped up (1A) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for world, f in sorted(results.items()):
        fd, su = f["false_declines"], f.get("stepped_up")
        stepped = f"{su['share']:.3%} ({su['asked']} of {su['of']:,})" if su else "-"
        lines.append(
            f"| {world_name(world)} | {f['decisions']:,} | {f['frauds']:,} | {f['auc']:.3f} | "
            f"{f['ap']:.3f} | {fd['share']:.3%} ({fd['declined']} of {fd['of']:,}) | {stepped} |"
        )
    worlds_ = sorted(results)
    lines += [
        "",
        "Attacks stopped before their third transaction / at all (attacks):",
        "",
        "| scenario | " + " | ".join(world_name(w) for w in worlds_) + " |",
        "|---|" + "---:|" * len(worlds_),
    ]
    for kind in sorted({kind for figures in results.values() for kind in figures["kinds"]}):
        cells = []
        for world in worlds_:
            k = results[world]["kinds"].get(kind)
            cells.append(f"{k['before_third']:.0%} / {k['stopped']:.0%} ({k['attacks']})" if k else "-")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def worst_table(results: dict) -> str:
    lines = ["| figure | worst world's value | world |", "|---|---:|---|"]
    lines += [f"| {label} | {value} | {world_name(world)} |" for label, value, world in worst_cells(results)]
    return "\n".join(lines)


def _moment(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, such as 2026-12-01T00:00Z")
    if moment > datetime.datetime.now(datetime.UTC):
        raise argparse.ArgumentTypeError("the world must end in the past: reports are filed by then")
    return moment.replace(second=0, microsecond=0)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
