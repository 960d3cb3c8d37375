"""How each rule, each configuration version and each model version performed over a
period, by the fraud reports known now.

Counted in the database, one GROUP BY each over the decisions of [since, until) read by
the transaction_time index, whatever the number of rules or rows (bench/rule_performance.py).
A rule's hits are not read from the stored factors' JSON (SQLite and PostgreSQL spell it
differently and neither counts it cheaply) but from `Transaction.risk_rules`, a compact
text the scorer writes with each decision (`rule_summary`): ",code," for every rule that
added points, ",code!," where those points were decisive.

Definitions (a decision is a transaction on a known card, one with a risk score):
- fired: the rule added points (> 0) to the decision;
- decline: declined as suspected fraud (59), the risk engine's decline;
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

from django.db.models import BooleanField, Count, ExpressionWrapper, Q

from fraud.configuration import FraudConfig, version_config
from fraud.models import FraudConfigVersion, Rule
from transactions.codes import Decision
from transactions.models import Transaction
from transactions.signals import RiskFactor

SUSPECTED_FRAUD = Decision.SUSPECTED_FRAUD.code
FRAUD = Q(fraud_report__isnull=False)


# --- Written with each decision ------------------------------------------------------------------


def rule_summary(factors: list[RiskFactor], config: FraudConfig) -> str:
    """The compact text stored in `Transaction.risk_rules`: ",code," for each factor with
    points, ",code!," where without its points the level would have been lower."""
    total = sum(f.score for f in factors)
    level = _level(min(100, total), config)
    tokens = [
        f"{f.code}!" if _level(min(100, total - f.score), config) < level else f.code
        for f in sorted(factors, key=lambda f: f.code)
        if f.score > 0
    ]
    return f",{','.join(tokens)}," if tokens else ""


def _level(score: int, config: FraudConfig) -> int:
    return (score >= config.review_threshold) + (score >= config.decline_threshold)


# --- The figures --------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class RuleFigures:
    code: str
    name: str
    fired: int
    declines: int
    reviews: int
    decisive: int
    fraud_caught: int

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

    @property
    def fraud_missed(self) -> int:
        return self.fraud - self.fraud_caught

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


def decisions(*, since: datetime.datetime, until: datetime.datetime, version: int | None = None):
    """The decisions on known cards with transaction_time in [since, until), of one
    configuration version if given."""
    rows = Transaction.objects.filter(
        transaction_time__gte=since, transaction_time__lt=until, risk_score__isnull=False
    )
    return rows if version is None else rows.filter(risk_config_version=version)


# Each figure is a GROUP BY of the period's decisions on a few short columns (the rule
# summary or the version, and the outcome) with one COUNT: one pass over the rows by the
# transaction_time index, the groups (at most one per combination of rules and outcome)
# summed up here. A conditional COUNT per rule and figure instead cost a LIKE each per
# row: ten times as long on SQLite (bench/README.md).
OUTCOME = ("status", "response_code", "risk_level", "flagged", "is_fraud")
APPROVED_STATUSES = {Transaction.Status.APPROVED, Transaction.Status.REVERSED}


def _grouped(rows, key: str):
    return (
        rows.annotate(is_fraud=ExpressionWrapper(FRAUD, output_field=BooleanField()))
        .order_by()
        .values(key, *OUTCOME)
        .annotate(n=Count("pk"))
    )


def _counts(group: dict) -> dict[str, int]:
    """What a group of decisions adds to each of VersionFigures' counts."""
    n, fraud, flagged = group["n"], bool(group["is_fraud"]), bool(group["flagged"])
    approved = group["status"] in APPROVED_STATUSES
    risk_decline = group["response_code"] == SUSPECTED_FRAUD
    review = group["risk_level"] == Transaction.RiskLevel.MEDIUM
    high = group["risk_level"] == Transaction.RiskLevel.HIGH
    return {
        "decisions": n,
        "approvals": n * approved,
        "reviews": n * review,
        "declines": n * (not approved),
        "risk_declines": n * risk_decline,
        "fraud": n * fraud,
        "fraud_caught": n * (fraud and (flagged or not approved)),
        "false_declines": n * (risk_decline and not fraud),
        "high": n * high,
        "high_fraud": n * (high and fraud),
        "flagged_level": n * (high or review),
        "flagged_level_fraud": n * ((high or review) and fraud),
    }


def rule_performance(
    *, since: datetime.datetime, until: datetime.datetime, version: int | None = None
) -> list[RuleFigures]:
    """Each rule's figures (every rule of the engine, in code order): two queries, the rules' and the
    counts."""
    names = dict(Rule.objects.values_list("code", "name"))
    totals = {code: Counter() for code in names}
    rows = decisions(since=since, until=until, version=version).exclude(risk_rules="")
    for group in _grouped(rows, "risk_rules"):
        counts = _counts(group)
        for token in group["risk_rules"].strip(",").split(","):
            code = token.removesuffix("!")
            tally = totals.setdefault(code, Counter())
            tally.update(counts)
            tally["decisive"] += counts["decisions"] * token.endswith("!")
    return [
        RuleFigures(
            code=code,
            name=names.get(code, code),
            fired=tally["decisions"],
            declines=tally["risk_declines"],
            reviews=tally["reviews"],
            decisive=tally["decisive"],
            fraud_caught=tally["fraud"],
        )
        for code, tally in sorted(totals.items())
    ]


def version_performance(
    *, since: datetime.datetime, until: datetime.datetime, version: int | None = None
) -> list[VersionFigures]:
    """Each configuration version's figures, newest version first (decisions made before
    versioning last, as version None): one query."""
    totals: dict[int | None, Counter] = {}
    for group in _grouped(decisions(since=since, until=until, version=version), "risk_config_version"):
        totals.setdefault(group["risk_config_version"], Counter()).update(_counts(group))
    names = [f.name for f in fields(VersionFigures) if f.name != "version"]
    figures = [
        VersionFigures(version=v, **{name: tally[name] for name in names}) for v, tally in totals.items()
    ]
    return sorted(figures, key=lambda f: (f.version is None, -(f.version or 0)))


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
