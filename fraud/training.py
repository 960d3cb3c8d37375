"""Training the supervised fraud model beside the rules on the labelled history, and
storing it (inactive) as the next version: what `manage.py train_model` and the bench run.

Apart from fraud/inference.py (the active model at decision time) so that the
authorization path never imports the training set, the metrics or scikit-learn.

Labels: a transaction is fraud when a fraud report confirms it, and only reports filed
by the cut-off count, so a model trained "as of" a past date sees what was known then.
Features: the model's ones (catalogue.MODEL_NAMES) of those every decision stored in
`Transaction.risk_features`, computed point in time at the decision (fraud/features.py),
so training reads no future; a row is read as fraud/inference.py reads a decision's
features (inference.vector).

The model is LightGBM gradient-boosted trees. Its text (model_to_string) is stored in
the database with its metadata, so every app server reads the same model.

LightGBM, NumPy and scikit-learn are imported on first use: importing this module loads
none of them.
"""

import datetime
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata as package_metadata
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from cardsystem.audit import Actor, AuditAction, audit_record
from fraud import catalogue, curves
from fraud.inference import vector
from fraud.models import FraudAlert, FraudModel
from transactions.models import Transaction

# A transaction shortly before the cut-off may be fraud whose report has not arrived:
# as a training row it would teach "this is fine". Cardholders dispute most card fraud
# within days of seeing it in their app or statement; chargebacks take longer. One week
# keeps most of the recent history, which matters most as fraud patterns move; the
# metadata records the report delays seen (report_delay_days) to check the choice
# against the bank's own data.
# Every transaction before the cut-off by default (the operator contract); a delay
# leaves out the latest days, whose fraud may not be reported yet.
DEFAULT_LABEL_DELAY = datetime.timedelta(0)
DEFAULT_WINDOW = datetime.timedelta(days=90)
DEFAULT_MIN_FRAUDS = 30
TRAINING_STATUSES = (Transaction.Status.APPROVED, Transaction.Status.REVERSED)
DEFAULT_MIN_ROWS = 1000
HOLDOUT_SHARE = 0.2  # the latest fifth of the rows, by transaction_time
THRESHOLDS = (0.1, 0.3, 0.5, 0.8)  # probabilities at which the metrics report precision and recall
TOP_IMPORTANCE = 15
CHUNK = 5000  # rows read and converted at a time

# Deterministic (same rows, same model) and small: the model scores one row at a time.
# One thread: the command may run on a machine that also serves decisions.
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "seed": 20260615,
    "deterministic": True,
    "force_col_wise": True,
    "num_threads": 1,
    "verbose": -1,
}
DEFAULT_ROUNDS = 200
# Each confirmed fraud can weigh more than one legitimate row (`fraud_weight`; recorded in
# each model's metadata). A weight of 10 ranked fraud better on one tuning world (average
# precision about 0.19 to 0.28, estimated) but worse on the one fresh world measured
# before and after (0.378 to 0.269, bench/README.md): not shown to help, so the default
# stays 1, an unweighted model whose output is a probability.
DEFAULT_FRAUD_WEIGHT = 1.0


class NotEnoughLabels(Exception):
    """Too few rows or confirmed frauds to train, or to measure, a model."""


# --- The training set --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingSet:
    """Rows in transaction_time order. `X` holds floats (NaN for a missing value), `y`
    1 for confirmed fraud."""

    features: tuple[str, ...]
    X: Any  # numpy.ndarray, rows x features, float64
    y: Any  # numpy.ndarray of 0/1
    times: list[datetime.datetime]
    since: datetime.datetime
    until: datetime.datetime  # rows before this time; the cut-off less the label delay
    cutoff: datetime.datetime  # reports filed by this time label their transaction
    without_features: int  # transactions in the window that stored no features (not used)
    report_delays: list[float] = field(default_factory=list)  # days, report - transaction, of frauds
    confirmed_legitimate: int = 0  # rows an analyst decided a false positive by the cut-off

    @property
    def rows(self) -> int:
        return len(self.times)

    @property
    def frauds(self) -> int:
        return int(self.y.sum())


def training_rows(*, since: datetime.datetime, cutoff: datetime.datetime, label_delay: datetime.timedelta):
    """The transactions training_set reads (see there), in transaction_time order."""
    decided = Q(
        transaction_time__lt=cutoff,
        fraud_alert__status__in=[FraudAlert.Status.CONFIRMED_FRAUD, FraudAlert.Status.FALSE_POSITIVE],
        fraud_alert__resolved_at__lte=cutoff,
    )
    return (
        Transaction.objects.filter(
            card__isnull=False, status__in=TRAINING_STATUSES, transaction_time__gte=since
        )
        .filter(Q(transaction_time__lt=cutoff - label_delay) | decided)
        .order_by("transaction_time", "pk")
    )


def training_set(
    *,
    since: datetime.datetime,
    cutoff: datetime.datetime,
    label_delay: datetime.timedelta = DEFAULT_LABEL_DELAY,
    features: Sequence[str] = catalogue.MODEL_NAMES,
    progress: Callable[[int], object] = lambda rows: None,
) -> TrainingSet:
    """The labelled rows known at `cutoff`: approvals (reversed ones included) on known
    cards with `since <= transaction_time < cutoff - label_delay` that stored their
    features; fraud when a fraud report filed by `cutoff` confirms it.

    Analysts' verdicts are labels too: an approval whose alert was decided by `cutoff`
    (confirmed fraud, which files its fraud report, or a false positive: confirmed
    legitimate) is a row even inside the label delay, its label known already. A false
    positive that a cardholder disputes later is fraud: the report wins.

    Declines are left out: nobody disputes money that was never taken, so a declined
    fraud attempt would be learnt as legitimate, the most fraud-like rows labelled wrong."""
    import numpy as np

    until = cutoff - label_delay
    if until <= since:
        raise ValueError(
            f"The window from {format_moment(since)} to {format_moment(until)} "
            "(the cut-off less the label delay) is empty."
        )
    rows = training_rows(since=since, cutoff=cutoff, label_delay=label_delay).values_list(
        "transaction_time",
        "risk_features",
        "fraud_report__reported_at",
        "fraud_alert__status",
        "fraud_alert__resolved_at",
    )
    # Rows become float arrays a chunk at a time: a million rows of Python floats would
    # take gigabytes, as float64 a third of one.
    chunks, chunk, y, times, delays = [], [], [], [], []
    without_features = confirmed_legitimate = read = 0
    for read, (when, stored, reported_at, verdict, decided_at) in enumerate(
        rows.iterator(chunk_size=CHUNK), start=1
    ):
        if read % CHUNK == 0:
            progress(CHUNK)
        # Decisions that stored none of these features (none at all, or only the names of
        # an earlier engine) would be learnt as "nothing to compare with" everywhere.
        if not stored or not any(name in stored for name in features):
            without_features += 1
            continue
        fraud = reported_at is not None and reported_at <= cutoff
        if not fraud and verdict == FraudAlert.Status.FALSE_POSITIVE and decided_at <= cutoff:
            confirmed_legitimate += 1
        chunk.append(vector(stored, features))
        y.append(1 if fraud else 0)
        times.append(when)
        if fraud:
            delays.append((reported_at - when).total_seconds() / 86400)
        if len(chunk) == CHUNK:
            chunks.append(np.array(chunk, dtype=np.float64))
            chunk = []
    progress(read % CHUNK)
    chunks.append(np.array(chunk, dtype=np.float64).reshape(len(chunk), len(features)))
    return TrainingSet(
        features=tuple(features),
        X=np.concatenate(chunks),
        y=np.array(y, dtype=np.int8),
        times=times,
        since=since,
        until=until,
        cutoff=cutoff,
        without_features=without_features,
        report_delays=delays,
        confirmed_legitimate=confirmed_legitimate,
    )


# --- Training ----------------------------------------------------------------------------------


def train(
    *,
    actor: Actor,
    cutoff: datetime.datetime,
    since: datetime.datetime | None = None,
    label_delay: datetime.timedelta = DEFAULT_LABEL_DELAY,
    min_frauds: int = DEFAULT_MIN_FRAUDS,
    min_rows: int = DEFAULT_MIN_ROWS,
    params: Mapping[str, Any] | None = None,
    rounds: int = DEFAULT_ROUNDS,
    fraud_weight: float = DEFAULT_FRAUD_WEIGHT,
    progress: Callable[[int], object] = lambda steps: None,
) -> FraudModel:
    """Train a model on what was known at `cutoff` and store it, inactive, as the next
    version with its audit row.

    The latest HOLDOUT_SHARE of the rows (by transaction_time) measures the recipe: a
    model fitted on the earlier rows is scored on them (ROC AUC, average precision,
    precision and recall at THRESHOLDS). The stored model is then fitted the same way
    (same parameters and rounds, no early stopping, so the held-out rows choose nothing)
    on all rows, because the latest fraud matters most. Raises NotEnoughLabels (nothing
    written) below `min_rows` rows or `min_frauds` frauds, or when either part holds no
    fraud; ValueError on an empty window. `progress` is called with the steps done since
    its last call: the rows of training_rows read, then each tree grown (2 x rounds)."""
    since = since if since is not None else cutoff - DEFAULT_WINDOW
    data = training_set(since=since, cutoff=cutoff, label_delay=label_delay, progress=progress)
    span = f"from {format_moment(data.since)} to {format_moment(data.until)}"
    if data.frauds < min_frauds:
        raise NotEnoughLabels(
            f"Only {data.frauds} confirmed frauds among {data.rows} transactions {span}; "
            f"need at least {min_frauds}."
        )
    if data.rows < min_rows:
        raise NotEnoughLabels(f"Only {data.rows} transactions {span}; need at least {min_rows}.")
    split = _holdout_start(data)
    held_out_frauds = int(data.y[split:].sum())
    if held_out_frauds == 0 or held_out_frauds == data.frauds:
        part = "latest" if held_out_frauds == 0 else "earlier"
        raise NotEnoughLabels(
            f"No confirmed fraud among the {part} transactions (held out from "
            f"{format_moment(data.times[split])}); the model could not be measured."
        )
    settings = {**DEFAULT_PARAMS, **(params or {})}
    started = time.monotonic()
    trial = _fit(data.X[:split], data.y[:split], settings, rounds, fraud_weight, progress)
    metrics = holdout_metrics(data.y[split:], trial.predict(data.X[split:]))
    booster = _fit(data.X, data.y, settings, rounds, fraud_weight, progress)
    seconds = time.monotonic() - started
    meta = {
        "since": data.since.isoformat(),
        "until": data.until.isoformat(),
        "cutoff": cutoff.isoformat(),
        "label_delay_days": label_delay.total_seconds() / 86400,
        "rows": data.rows,
        "frauds": data.frauds,
        "without_features": data.without_features,
        "confirmed_legitimate": data.confirmed_legitimate,
        "report_delay_days": _quantiles(data.report_delays),
        "holdout": {
            "from": data.times[split].isoformat(),
            "train_rows": split,
            "train_frauds": data.frauds - held_out_frauds,
            **metrics,
        },
        "importance": _importance(booster, data.features),
        "params": settings,
        "rounds": rounds,
        "fraud_weight": fraud_weight,
        "trees": booster.num_trees(),
        "training_seconds": round(seconds, 2),
        "libraries": {name: _version(name) for name in ("lightgbm", "numpy", "scikit-learn")},
    }
    return _store(actor=actor, booster=booster, features=data.features, metadata=meta)


def _holdout_start(data: TrainingSet) -> int:
    """The index of the first held-out row. Rows at the same instant stay together."""
    split = min(max(1, round(data.rows * (1 - HOLDOUT_SHARE))), data.rows - 1)
    while split < data.rows - 1 and data.times[split] == data.times[split - 1]:
        split += 1
    return split


def _fit(X, y, params: Mapping[str, Any], rounds: int, fraud_weight: float, progress=lambda steps: None):
    import lightgbm
    import numpy as np

    weights = np.where(y == 1, fraud_weight, 1.0)
    dataset = lightgbm.Dataset(X, label=y, weight=weights, free_raw_data=True, params={"verbose": -1})
    return lightgbm.train(
        dict(params), dataset, num_boost_round=rounds, callbacks=[lambda _round: progress(1)]
    )


def holdout_metrics(y, probabilities) -> dict:
    """ROC AUC, average precision, per threshold how many were flagged, precision and
    recall, and the curves for the model's page (fraud/curves.py). Both classes must be
    present in `y`."""
    import numpy as np
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y)
    probabilities = np.asarray(probabilities)
    frauds = int(y.sum())
    by_threshold = []
    for threshold in THRESHOLDS:
        flagged = probabilities >= threshold
        caught = int((flagged & (y == 1)).sum())
        by_threshold.append(
            {
                "threshold": threshold,
                "flagged": int(flagged.sum()),
                "precision": round(caught / int(flagged.sum()), 4) if flagged.any() else None,
                "recall": round(caught / frauds, 4),
            }
        )
    return {
        "rows": len(y),
        "frauds": frauds,
        "roc_auc": round(float(roc_auc_score(y, probabilities)), 4),
        "average_precision": round(float(average_precision_score(y, probabilities)), 4),
        "thresholds": by_threshold,
        "curves": curves.holdout_curves(y, probabilities),
    }


def _importance(booster, names: Sequence[str]) -> list[dict]:
    gains = booster.feature_importance(importance_type="gain")
    total = float(gains.sum()) or 1.0
    ranked = sorted(zip(names, gains, strict=True), key=lambda item: -item[1])[:TOP_IMPORTANCE]
    return [{"feature": name, "share": round(float(gain) / total, 4)} for name, gain in ranked if gain > 0]


def _quantiles(days: list[float]) -> dict:
    if not days:
        return {}
    ordered = sorted(days)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"median": at(0.5), "p90": at(0.9), "max": round(ordered[-1], 2)}


def _version(package: str) -> str:
    try:
        return package_metadata.version(package)
    except package_metadata.PackageNotFoundError:
        return ""


def _store(*, actor: Actor, booster, features: Sequence[str], metadata: dict) -> FraudModel:
    artifact = booster.model_to_string()
    # Two trainings at once may pick the same next version: the unique constraint
    # refuses the second, which takes the one after.
    for attempt in range(3):
        try:
            with transaction.atomic():
                version = (FraudModel.objects.aggregate(latest=Max("version"))["latest"] or 0) + 1
                model = FraudModel.objects.create(
                    version=version,
                    created_by=actor.label[:150],
                    artifact=artifact,
                    features=list(features),
                    metadata=metadata,
                )
                holdout = metadata["holdout"]
                audit_record(
                    actor=actor,
                    action=AuditAction.MODEL_TRAINED,
                    target=model,
                    details={
                        "version": version,
                        "since": metadata["since"],
                        "cutoff": metadata["cutoff"],
                        "rows": metadata["rows"],
                        "frauds": metadata["frauds"],
                        "roc_auc": holdout["roc_auc"],
                        "average_precision": holdout["average_precision"],
                    },
                )
                return model
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def format_moment(moment: datetime.datetime) -> str:
    """A moment of a training window as the command and the model's admin page show it."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
