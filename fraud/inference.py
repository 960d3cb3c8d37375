"""The fraud model at decision time: the model of the configuration a decision is scored
under (the live version's: `active_model()`), parsed once per process, its prediction for
one decision's features, and the prediction in an analyst's words.

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
from fraud.configuration import ModelChoice
from fraud.models import FraudModel
from transactions.signals import RiskFactor


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


# --- The models, per process -------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedModel:
    """A stored model ready to predict: parsed once per process and version."""

    pk: int
    version: int
    features: tuple[str, ...]
    booster: Any  # lightgbm.Booster


# The models this process has parsed, by (pk, version), kept until forgotten: a stored
# model never changes, but a rolled-back row may come back under the same (pk, version)
# with another artifact, so forgetting (fraud/receivers.py, tests) drops them all.
_parsed = ProcessCache(dict)


def active_model() -> LoadedModel | None:
    """The live version's model, or None (it decides by the rules alone). Which version
    is live is looked up at most every fraud.scoring.CONFIG_TTL_SECONDS per process; each
    model is parsed once."""
    from fraud.scoring import load_config  # scoring imports this module

    choice = load_config().model
    return loaded_model(choice) if choice else None


def loaded_model(choice: ModelChoice) -> LoadedModel:
    """The chosen model, parsed: from this process's copy, or read and parsed the first
    time. That read has a savepoint of its own (only then, never per decision): on
    PostgreSQL a failed read (a timeout, say) would otherwise abort the decision's whole
    transaction."""
    model = _parsed.get(ttl_seconds=math.inf).get((choice.pk, choice.version))
    if model is None:
        with transaction.atomic():
            model = load(choice.pk, choice.version)
    return model


def load(pk: int, version: int) -> LoadedModel:
    """The model of this row, parsed at the first call (in this process) only."""
    loaded = _parsed.get(ttl_seconds=math.inf)
    key = (pk, version)
    model = loaded.get(key)
    if model is None:
        import lightgbm

        stored = FraudModel.objects.values_list("artifact", "features").get(pk=pk)
        model = LoadedModel(
            pk=pk, version=version, features=tuple(stored[1]), booster=lightgbm.Booster(model_str=stored[0])
        )
        # A process keeps the live version's model and at most two others (a rollback's,
        # predict() of a FraudModel).
        while len(loaded) >= 3:
            loaded.pop(next(iter(loaded)), None)
        loaded[key] = model
    return model


def forget_model() -> None:
    """Drop the parsed models: the next decision parses its model again."""
    _parsed.forget()


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
    return Prediction(version=model.version, probability=sigmoid(raw), contributions=ranked)


def _shown(value):
    """The value as the words show it: what the model read as missing is None."""
    return None if math.isnan(as_number(value)) else value


def sigmoid(raw: float) -> float:
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


def model_factor(*, model: ModelChoice | None, features: Mapping, weight: int) -> RiskFactor | None:
    """The model's opinion of one decision as a factor: its probability times `weight`
    (the `model` rule's points), explained by the features that pushed it most. None
    without a model. Raises whatever reading or running the model raises, and ValueError
    for a probability that is not a number: the assessment decides what a broken model
    means for the decision (fraud/scoring.py)."""
    if model is None:
        return None
    prediction = predict(loaded_model(model), features)
    if not math.isfinite(prediction.probability):
        raise ValueError(f"model v{prediction.version} gave a probability of {prediction.probability}")
    return RiskFactor("model", model_points(prediction, weight=weight), explain(prediction))
