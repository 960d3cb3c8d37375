"""How each rule, each configuration version and each model version performed over a
period, by the labels known now: fraud reports, and analysts' confirmed fraud on declines.

Counted in the database by fraud/performance_counts.py: one GROUP BY over the decisions of
a stretch of time read by the transaction_time index, whatever the number of rules, for
the period's partial days, and a daily rollup of the same counts for its whole days
(bench/rule_performance.py). A rule's hits are not read from the stored factors' JSON
(SQLite and PostgreSQL spell it differently and neither counts it cheaply) but from
`Transaction.risk_rules`, a compact text the scorer writes with each decision
(`rule_summary`): ",code," for every rule that added points, ",code!," where those points were decisive.

Definitions (a decision is a transaction on a known card, one with a risk score):
- fired: the rule added points (> 0) to the decision, or (a step-up rule) asked for
  the cardholder's verification;
- decline: declined as suspected fraud (59), the risk engine's decline;
- step-up: answered 1A, verification required (a soft decline, never a false decline:
  the cardholder goes on with the PIN), which only a step-up rule asks;
- review: the score fell in the review band (risk level medium), an analyst's alert;
- decisive: without the rule's points the risk level would have been lower (a decline
  or a review band that its points reached), under the thresholds of the version that decided;
- fraud: the transaction has a fraud report now; precision = fraud among fired / fired;
- caught: fraud declined (for any reason) or sent to review; missed: fraud approved
  without review; false decline: declined as suspected fraud, no fraud report.
A model version's figures are those of the decisions made by configuration versions
that named it with the `model` rule on: precision and recall of the combined score at
the decline threshold (risk level high) and at the review threshold (medium or high).
"""

import datetime
from collections import Counter
from dataclasses import dataclass, fields

from fraud.authentication import STEP_UP
from fraud.configuration import FraudConfig, version_config
from fraud.models import FraudConfigVersion, Rule
from fraud.performance_counts import Tallies, period_tallies
from transactions.signals import RiskFactor

# --- Written with each decision ------------------------------------------------------------------


def rule_summary(factors: list[RiskFactor], config: FraudConfig) -> str:
    """The compact text stored in `Transaction.risk_rules`: ",code," for each factor with
    points or of a step-up rule (which fires to ask for verification, whatever its
    points), ",code!," where without its points the level would have been lower."""
    total = sum(f.score for f in factors)
    level = _level(min(100, total), config)
    tokens = [
        f"{f.code}!" if _level(min(100, total - f.score), config) < level else f.code
        for f in sorted(factors, key=lambda f: f.code)
        if f.score > 0 or f.code in STEP_UP
    ]
    return f",{','.join(tokens)}," if tokens else ""


def _level(score: int, config: FraudConfig) -> int:
    return (score >= config.review_threshold) + (score >= config.decline_threshold)


# --- The figures --------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# Amounts by currency, in minor units: ((currency, amount), ...) in currency order.
Amounts = tuple[tuple[str, int], ...]


def _amounts(tally: Counter, kind: str) -> Amounts:
    return tuple(
        sorted((key[1], n) for key, n in tally.items() if isinstance(key, tuple) and key[0] == kind and n)
    )


@dataclass(frozen=True)
class RuleFigures:
    code: str
    name: str
    fired: int
    declines: int
    reviews: int
    decisive: int
    fraud_caught: int
    fraud_value: Amounts = ()  # of the fraud it fired on
    step_ups: int = 0  # answered 1A with it among the rules

    @property
    def precision(self) -> float | None:
        return _ratio(self.fraud_caught, self.fired)


@dataclass(frozen=True)
class VersionFigures:
    version: int | None
    decisions: int
    approvals: int
    reviews: int
    declines: int
    risk_declines: int
    fraud: int
    fraud_caught: int
    false_declines: int
    high: int  # risk level high: the score reached the decline threshold
    high_fraud: int
    flagged_level: int  # risk level medium or high: the score reached the review threshold
    flagged_level_fraud: int
    step_ups: int
    fraud_value: Amounts = ()
    fraud_caught_value: Amounts = ()

    @property
    def fraud_missed(self) -> int:
        return self.fraud - self.fraud_caught

    @property
    def fraud_missed_value(self) -> Amounts:
        caught = dict(self.fraud_caught_value)
        missed = ((currency, amount - caught.get(currency, 0)) for currency, amount in self.fraud_value)
        return tuple((currency, amount) for currency, amount in missed if amount)

    def rate(self, count: int) -> float | None:
        return _ratio(count, self.decisions)


@dataclass(frozen=True)
class ModelFigures:
    model_version: int
    config_versions: tuple[int, ...]
    decisions: int
    fraud: int
    high: int
    high_fraud: int
    flagged_level: int
    flagged_level_fraud: int

    @property
    def decline_precision(self) -> float | None:
        return _ratio(self.high_fraud, self.high)

    @property
    def decline_recall(self) -> float | None:
        return _ratio(self.high_fraud, self.fraud)

    @property
    def review_precision(self) -> float | None:
        return _ratio(self.flagged_level_fraud, self.flagged_level)

    @property
    def review_recall(self) -> float | None:
        return _ratio(self.flagged_level_fraud, self.fraud)


def rules_from(tallies: Tallies) -> list[RuleFigures]:
    """Each rule's figures (every rule of the engine, in code order), all versions of the
    tallies together: one query, the rules' names."""
    names = dict(Rule.objects.values_list("code", "name"))
    totals = {code: Counter() for code in names}
    for (_, code), tally in tallies.items():
        if code:
            totals.setdefault(code, Counter()).update(tally)
    return [
        RuleFigures(
            code=code,
            name=names.get(code, code),
            fired=tally["decisions"],
            declines=tally["risk_declines"],
            reviews=tally["reviews"],
            decisive=tally["decisive"],
            fraud_caught=tally["fraud"],
            fraud_value=_amounts(tally, "fraud_minor"),
            step_ups=tally["step_ups"],
        )
        for code, tally in sorted(totals.items())
    ]


def versions_from(tallies: Tallies) -> list[VersionFigures]:
    """Each configuration version's figures, newest version first (decisions made before
    versioning last, as version None)."""
    names = [f.name for f in fields(VersionFigures) if f.type is int]
    figures = [
        VersionFigures(
            version=version,
            fraud_value=_amounts(tally, "fraud_minor"),
            fraud_caught_value=_amounts(tally, "fraud_caught_minor"),
            **{name: tally[name] for name in names},
        )
        for (version, code), tally in tallies.items()
        if not code
    ]
    return sorted(figures, key=lambda f: (f.version is None, -(f.version or 0)))


def rule_performance(
    *, since: datetime.datetime, until: datetime.datetime, version: int | None = None
) -> list[RuleFigures]:
    """Each rule's figures over [since, until), of one configuration version if given."""
    return rules_from(period_tallies(since=since, until=until, version=version).tallies)


def version_performance(
    *, since: datetime.datetime, until: datetime.datetime, version: int | None = None
) -> list[VersionFigures]:
    """Each configuration version's figures over [since, until), newest version first."""
    return versions_from(period_tallies(since=since, until=until, version=version).tallies)


MODEL_COUNTS = ("decisions", "fraud", "high", "high_fraud", "flagged_level", "flagged_level_fraud")


def model_performance(versions: list[VersionFigures]) -> list[ModelFigures]:
    """Each model version's figures, from the configuration versions' (one query for
    which model each named), newest model first."""
    numbers = [f.version for f in versions if f.version is not None]
    models = {}
    for stored in FraudConfigVersion.objects.filter(number__in=numbers):
        config = version_config(stored)
        rule = config.rules.get("model")
        if config.model is not None and rule is not None and rule.enabled:
            models[stored.number] = config.model.version
    by_model: dict[int, list[VersionFigures]] = {}
    for figures in versions:
        if figures.version in models:
            by_model.setdefault(models[figures.version], []).append(figures)
    return [
        ModelFigures(
            model_version=model,
            config_versions=tuple(sorted(f.version for f in rows)),
            **{name: sum(getattr(f, name) for f in rows) for name in MODEL_COUNTS},
        )
        for model, rows in sorted(by_model.items(), reverse=True)
    ]
