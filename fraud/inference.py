"""The fraud model at decision time: which stored model is active in this process, its
prediction for one decision's features, and the prediction in an analyst's words.

Apart from fraud/training.py (which fits and stores models) so that the authorization
path imports only what it runs. The model's text is stored in the database with its
metadata, so every app server reads the same model; each process parses it once per
version and predicts one row with its exact per-feature contributions (TreeSHAP), which
name the features in words.

LightGBM and NumPy are imported on first use: a process with no active model never
loads them.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from cardsystem.process_cache import ProcessCache
from fraud import catalogue
from fraud.models import FraudModel
from transactions.signals import RiskFactor

MODEL_TTL_SECONDS = 5.0


def as_number(value) -> float:
    """A stored feature value as LightGBM reads it: booleans 0/1, None (nothing to
    compare with) and anything not a number NaN."""
    if value is None or isinstance(value, str):
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def vector(features: Mapping, names: Sequence[str]) -> list[float]:
    """One decision's features as the model's row: training reads the stored ones the same way."""
    return [as_number(features.get(name)) for name in names]


# --- The active model, per process -------------------------------------------------------------


@dataclass(frozen=True)
class LoadedModel:
    """A stored model ready to predict: parsed once per process and version."""

    pk: int
    version: int
    features: tuple[str, ...]
    booster: Any  # lightgbm.Booster


_loaded: dict[tuple[int, int], LoadedModel] = {}


def _read_active() -> LoadedModel | None:
    # In a savepoint of its own (only here, on a cache miss): on PostgreSQL a failed
    # read (a timeout, say) would otherwise abort the decision's whole transaction.
    with transaction.atomic():
        row = FraudModel.objects.filter(active=True).values_list("pk", "version").first()
        return load(*row) if row else None


# Forgetting which model is active forgets the parsed models too: a rolled-back or
# replaced row may come back under the same (pk, version) with another artifact.
_active = ProcessCache(_read_active, on_forget=_loaded.clear)


def active_model() -> LoadedModel | None:
    """The model staff made active, or None (decide by the rules alone). Looked up at
    most every MODEL_TTL_SECONDS per process; parsed once per version. Activating,
    deactivating or saving a FraudModel through the ORM forgets this process's copy at
    once (fraud/receivers.py); other processes see the change within MODEL_TTL_SECONDS."""
    return _active.get(ttl_seconds=MODEL_TTL_SECONDS)


def load(pk: int, version: int) -> LoadedModel:
    """The model of this row, parsed at the first call (in this process) only."""
    key = (pk, version)
    if key not in _loaded:
        import lightgbm

        stored = FraudModel.objects.values_list("artifact", "features").get(pk=pk)
        model = LoadedModel(
            pk=pk, version=version, features=tuple(stored[1]), booster=lightgbm.Booster(model_str=stored[0])
        )
        # A process keeps the active model and at most one other (predict() of a FraudModel).
        while len(_loaded) >= 2:
            _loaded.pop(next(iter(_loaded)))
        _loaded[key] = model
        return model
    return _loaded.get(key) or load(pk, version)  # forgotten meanwhile by another thread


def forget_model() -> None:
    """Drop this process's copy of which model is active, and the parsed models: the
    next decision reads the database and parses the active model again."""
    _active.forget()


# --- Predictions and their words ---------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    version: int
    probability: float  # 0..1
    # (feature name, stored value, contribution in log-odds), highest contribution first.
    # The contributions and the model's base value add up to the log-odds of `probability`.
    contributions: list[tuple[str, Any, float]]


def predict(model: LoadedModel | FraudModel, features: Mapping) -> Prediction:
    """The model's probability of fraud for one decision's features (a missing name
    counts as "nothing to compare with") and each feature's exact contribution."""
    import numpy as np

    if isinstance(model, FraudModel):
        model = load(model.pk, model.version)
    row = np.array([vector(features, model.features)], dtype=np.float64)
    # One pass gives both: the contributions (TreeSHAP) plus the base value add up to
    # the raw score, so the probability needs no second prediction.
    contributions = model.booster.predict(row, pred_contrib=True, num_threads=1)[0]
    raw = float(contributions.sum())
    ranked = sorted(
        (
            (name, _shown(features.get(name)), float(value))
            for name, value in zip(model.features, contributions[:-1], strict=True)
        ),
        key=lambda item: -item[2],
    )
    return Prediction(version=model.version, probability=_sigmoid(raw), contributions=ranked)


def _shown(value):
    """The value as the words show it: what the model read as missing is None."""
    return None if math.isnan(as_number(value)) else value


def _sigmoid(raw: float) -> float:
    if raw >= 0:
        return 1.0 / (1.0 + math.exp(-raw))
    odds = math.exp(raw)
    return odds / (1.0 + odds)


def percent(probability: float) -> str:
    if probability < 0.01:
        return "under 1%"
    if probability > 0.99:
        return "over 99%"
    return f"{probability:.0%}"


def pushed_up(prediction: Prediction, top: int = 3) -> list[tuple[str, Any, float]]:
    """The features that raised the probability most, at most `top` of them."""
    return [item for item in prediction.contributions if item[2] > 0][:top]


def explain(prediction: Prediction, top: int = 3) -> str:
    """The prediction in an analyst's words: "Model: 87% likely fraud. Pushed up most
    by: first purchase in this country: yes; amount against the card's 30-day average:
    6.2x; wrong CVVs at this merchant in the last hour: 4." """
    head = f"Model v{prediction.version}: {percent(prediction.probability)} likely fraud."
    reasons = pushed_up(prediction, top)
    if not reasons:
        return f"{head} No feature pushed it up."
    return f"{head} Pushed up most by: {_words(reasons)}."


def _words(items: Iterable[tuple[str, Any, float]]) -> str:
    return "; ".join(catalogue.describe(name, value) for name, value, _ in items)


def model_points(prediction: Prediction, weight: int = 100) -> int:
    """The model's points on the 0-100 scale of the rules: `weight` x probability,
    rounded (a weight of 100 turns 87% into 87 points)."""
    return max(0, min(100, round(weight * prediction.probability)))


def model_factor(*, features: Mapping, weight: int) -> RiskFactor | None:
    """The active model's opinion of one decision as a factor: its probability times
    `weight` (the `model` rule's points), explained by the features that pushed it most.
    None without an active model. Raises whatever reading or running the model raises,
    and ValueError for a probability that is not a number: the assessment decides what
    a broken model means for the decision (fraud/scoring.py)."""
    model = active_model()
    if model is None:
        return None
    prediction = predict(model, features)
    if not math.isfinite(prediction.probability):
        raise ValueError(f"model v{prediction.version} gave a probability of {prediction.probability}")
    return RiskFactor("model", model_points(prediction, weight=weight), explain(prediction))
