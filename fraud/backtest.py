"""Exact backtests: every stored decision on a known card in a window, decided again under
one configuration version from the values stored with it (fraud/rules.py `evaluate`, the
function the live path runs) and the transaction's own facts, against what was recorded.

The window is `since` inclusive, `until` exclusive, on `transaction_time`. A decision
stored without the rules' inputs (before they were stored, or when scoring failed) cannot
be decided again exactly: it is counted as not re-decidable, never guessed.

The response code is decided again in the contract's order (transactions/services/
authorizations.py `_decide`): the checks before risk (card status, expiry, CVV, PIN, currency)
keep their recorded answer, as do the limits and the balance when they declined; a
decision recorded as not permitted for a blocked country or category that the version no
longer blocks never reached the limits and balance checks: it is assumed to pass them and
counted (`assumed_limits_and_funds`). Decisions are independent here: a changed decision
does not change the balances, card blocks or histories later decisions saw.

The model's points are predicted in batches (NumPy, LightGBM), not row by row. For a
million rows: the rules run without formatting their details (`evaluate(...,
details=False)`, the same rule functions), rows are read raw from a server-side cursor
with the fraud label in the query, equal outcomes are counted together, and a long
window is shared between processes (fraud/backtest_workers.py). Figures: bench/README.md.
"""

import datetime
import json
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import orjson
from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from fraud import backtest_workers, card_testing, inference, rules
from fraud.configuration import FraudConfig, reported_merchant_window, version_config
from fraud.models import FraudConfigVersion
from fraud.scoring import config_features
from transactions.authentication_facts import CardholderVerification
from transactions.codes import Decision, risk_decision
from transactions.models import FraudReport, Transaction
from transactions.signals import RiskFactor

CHUNK = 5000
APPROVE, REVIEW, DECLINE = "approve", "review", "decline"
OUTCOMES = (APPROVE, REVIEW, DECLINE)
# Decided before risk counts, whatever the configuration (authorizations._decide's order).
BEFORE_RISK = frozenset(
    d.code
    for d in (Decision.RESTRICTED_CARD, Decision.LOST_CARD, Decision.STOLEN_CARD, Decision.EXPIRED_CARD)
) | {Decision.CVV_MISMATCH.code, Decision.INCORRECT_PIN.code}
AFTER_RESTRICTION = frozenset({Decision.EXCEEDS_LIMIT.code, Decision.INSUFFICIENT_FUNDS.code})
# The codes read for every decision, looked up once (an enum's member costs a call).
APPROVED, SUSPECTED_FRAUD, VERIFICATION_REQUIRED, NOT_PERMITTED, INCORRECT_PIN = (
    Decision.APPROVED.code,
    Decision.SUSPECTED_FRAUD.code,
    Decision.VERIFICATION_REQUIRED.code,
    Decision.NOT_PERMITTED.code,
    Decision.INCORRECT_PIN.code,
)
WRONG_PIN = CardholderVerification.PIN_FAILED.value
DECLINED = Transaction.Status.DECLINED.value
RESTRICTION_CODES = frozenset({"blocked_country", "blocked_mcc"})
ROW_FIELDS = (
    *rules.Facts.__dataclass_fields__,
    "card__currency",
    "status",
    "response_code",
    "risk_score",
    "flagged",
    "risk_factors",
    "risk_features",
    "risk_config_version",
)
_FACTS = len(rules.Facts.__dataclass_fields__)
_TIME = list(rules.Facts.__dataclass_fields__).index("transaction_time")
_SCORE, _FACTORS, _VALUES, _VERSION = (
    ROW_FIELDS.index(name) for name in ("risk_score", "risk_factors", "risk_features", "risk_config_version")
)
_REPORTED = len(ROW_FIELDS)  # the annotation after them: a fraud report exists


@dataclass
class Side:
    """One side of the comparison: what was recorded, or what the version decides."""

    outcomes: Counter = field(default_factory=Counter)
    rule_hits: Counter = field(default_factory=Counter)
    fraud: Counter = field(default_factory=Counter)  # outcome of the transactions reported as fraud
    false_declines: int = 0  # declined by the engine (59, or 57 for a blocked list) without fraud
    # Asked for the cardholder's verification (1A, a soft decline: counted among the declines,
    # never a false one, as the cardholder goes on with the PIN).
    step_ups: int = 0

    def add(
        self, outcome: str, code: str, restricted: bool, factor_codes, is_fraud: bool, n: int = 1
    ) -> None:
        """`n` decisions alike."""
        self.outcomes[outcome] += n
        for factor_code in factor_codes:
            self.rule_hits[factor_code] += n
        self.step_ups += n * (code == VERIFICATION_REQUIRED)
        if is_fraud:
            self.fraud[outcome] += n
        elif code == SUSPECTED_FRAUD or (code == NOT_PERMITTED and restricted):
            self.false_declines += n

    def add_side(self, other: "Side") -> None:
        self.outcomes.update(other.outcomes)
        self.rule_hits.update(other.rule_hits)
        self.fraud.update(other.fraud)
        self.false_declines += other.false_declines
        self.step_ups += other.step_ups

    def as_dict(self) -> dict:
        return {
            "outcomes": {o: self.outcomes[o] for o in OUTCOMES},
            "fraud_caught": self.fraud[DECLINE],
            "fraud_reviewed": self.fraud[REVIEW],
            "fraud_missed": self.fraud[APPROVE],
            "false_declines": self.false_declines,
            "step_ups": self.step_ups,
            "rule_hits": dict(sorted(self.rule_hits.items())),
        }


@dataclass
class Report:
    version: int
    since: datetime.datetime
    until: datetime.datetime
    decisions: int = 0
    changed: int = 0
    not_redecidable: int = 0
    assumed_limits_and_funds: int = 0
    other_windows: int = 0  # decided by a version whose feature windows differ from this one's
    truncated: bool = False
    recorded: Side = field(default_factory=Side)
    backtest: Side = field(default_factory=Side)
    matrix: Counter = field(default_factory=Counter)  # (recorded outcome, backtest outcome)
    code_changes: Counter = field(default_factory=Counter)  # (recorded code, backtest code)
    score_changes: int = 0
    workers: int = 1  # the processes that shared the work

    def add(self, part: "Report") -> None:
        """Add up the report of a part of the window (its counts, not its bounds)."""
        for name in ("decisions", "changed", "not_redecidable", "assumed_limits_and_funds", "other_windows"):
            setattr(self, name, getattr(self, name) + getattr(part, name))
        self.score_changes += part.score_changes
        self.truncated |= part.truncated
        self.matrix.update(part.matrix)
        self.code_changes.update(part.code_changes)
        self.recorded.add_side(part.recorded)
        self.backtest.add_side(part.backtest)

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "decisions": self.decisions,
            "changed": self.changed,
            "score_changes": self.score_changes,
            "not_redecidable": self.not_redecidable,
            "assumed_limits_and_funds": self.assumed_limits_and_funds,
            "decided_with_other_windows": self.other_windows,
            "truncated": self.truncated,
            "workers": self.workers,
            "recorded": self.recorded.as_dict(),
            "backtest": self.backtest.as_dict(),
            "matrix": {f"{a}->{b}": n for (a, b), n in sorted(self.matrix.items())},
            "code_changes": {f"{a}->{b}": n for (a, b), n in sorted(self.code_changes.items())},
        }


def version_to_backtest(number: int | None) -> FraudConfigVersion:
    """The version numbered `number`, or the live one. Raises LookupError."""
    versions = FraudConfigVersion.objects.all()
    found = (
        versions.filter(number=number)
        if number is not None
        else versions.filter(state=FraudConfigVersion.State.LIVE)
    ).first()
    if found is None:
        raise LookupError(f"no version {number}" if number is not None else "no live version")
    return found


def backtest(
    *,
    version: FraudConfigVersion,
    since: datetime.datetime,
    until: datetime.datetime,
    limit: int | None = None,
    workers: int = 1,
    progress: Callable[[int], object] = lambda done: None,
) -> Report:
    """Decide again every stored decision on a known card with since <= transaction_time <
    until (at most `limit` of them, the earliest first, `truncated` set when there were
    more) under `version`, and compare with what was recorded. With `workers` > 1 and no
    limit, a long window is cut into as many parts, each backtested in a process of its
    own (fraud/backtest_workers.py), and the reports added up: the same report.
    `progress` is called with the decisions re-decided since its last call (a chunk's,
    or a worker's part as it ends)."""
    window = backtest_window(since=since, until=until)
    if workers > 1 and limit is None and backtest_workers.can_split(connection):
        windows = backtest_workers.parts(window, since, until, workers)
        if len(windows) > 1:
            report = Report(version=version.number, since=since, until=until, workers=len(windows))
            for part in backtest_workers.run(version.pk, windows):
                report.add(part)
                progress(part.decisions)
            return report
    config = version_config(version)
    report = Report(version=version.number, since=since, until=until)
    rows = window.annotate(
        reported=Exists(FraudReport.objects.filter(transaction=OuterRef("pk")))
    ).values_list(*ROW_FIELDS, "reported")
    # The counts do not depend on the order: only a cap needs one (the earliest first).
    rows = rows.order_by("transaction_time", "pk")[: limit + 1] if limit is not None else rows.order_by()
    tally, versions = Counter(), Counter()
    seen = 0
    for chunk in _chunks(rows):
        if limit is not None and seen + len(chunk) > limit:
            chunk, report.truncated = chunk[: limit - seen], True
        seen += len(chunk)
        _decide_chunk(chunk, config, tally, versions, report)
        progress(len(chunk))
    _count(tally, report)
    same_windows = _windows_by_version(config)
    report.other_windows = sum(n for number, n in versions.items() if not same_windows(number))
    return report


def backtest_window(*, since: datetime.datetime, until: datetime.datetime):
    """The decisions a backtest of [since, until) re-decides: those on a known card."""
    return Transaction.objects.filter(
        transaction_time__gte=since, transaction_time__lt=until, card__isnull=False
    )


def _windows_by_version(config: FraudConfig):
    """Whether a recorded version's feature windows are this configuration's: its stored
    counts were read over other windows otherwise (reported: `decided_with_other_windows`)."""
    mine = (card_testing.windows(config), reported_merchant_window(config))
    same: dict[int | None, bool] = {}

    def same_windows(number: int | None) -> bool:
        if number not in same:
            other = FraudConfigVersion.objects.filter(number=number).first()
            theirs = version_config(other) if other else None
            same[number] = (
                bool(theirs) and (card_testing.windows(theirs), reported_merchant_window(theirs)) == mine
            )
        return same[number]

    return same_windows


def _chunks(rows):
    """The rows as the database driver gives them, CHUNK at a time, without the ORM's
    per-value conversions (fraud/backtest.py `_decidable` does the few it needs)."""
    sql, params = rows.query.sql_with_params()
    # PostgreSQL streams a server-side cursor inside a transaction only (outside, WITH
    # HOLD stores the whole result before the first row); on SQLite a transaction would
    # take the write lock (IMMEDIATE), and its cursor streams anyway.
    reading = transaction.atomic() if connection.vendor == "postgresql" else nullcontext()
    with reading, connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(CHUNK):
            yield chunk


def _decoded(text):
    """Stored JSON as Python: orjson, about three times as fast as json on a million rows;
    json for what orjson refuses (NaN, which SQLite lets JSONField store)."""
    if not isinstance(text, str):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _decidable(row, zone: datetime.tzinfo):
    """(facts, stored values, recorded factors) of a raw row, or None when the decision
    was stored without the rules' inputs."""
    values = _decoded(row[_VALUES])
    if row[_SCORE] is None or not values or "card_count_1m" not in values:
        return None
    facts = list(row[:_FACTS])
    if facts[_TIME].tzinfo is None:  # SQLite's: naive, in the connection's time zone
        facts[_TIME] = facts[_TIME].replace(tzinfo=zone)
    return rules.Facts(*facts), values, _decoded(row[_FACTORS])


def _decide_chunk(chunk, config: FraudConfig, tally: Counter, versions: Counter, report: Report) -> None:
    decidable, zone = [], connection.timezone
    for row in chunk:
        parsed = _decidable(row, zone)
        if parsed is None:
            report.not_redecidable += 1
            continue
        facts, values, _ = parsed
        values.update(config_features(config, facts))
        decidable.append((row, *parsed))
    models = _model_factors(config, [values for _, _, values, _ in decidable])
    for (row, facts, values, factors), model in zip(decidable, models, strict=True):
        verdict = rules.evaluate(facts, values, config, model, details=False)
        tally[_compared(row, facts, factors, verdict)] += 1
        versions[row[_VERSION]] += 1


def _compared(row, facts: rules.Facts, factors: list, verdict: rules.Verdict) -> tuple:
    """What one decision adds to the report, as a key: equal keys are counted together."""
    card_currency, status, code, score, flagged = row[_FACTS : _FACTS + 5]
    recorded_codes = tuple(f["code"] for f in factors)
    was_restricted = bool(RESTRICTION_CODES.intersection(recorded_codes))
    wrong_pin = facts.cardholder_verification == WRONG_PIN
    new_code, assumed = _code(code, facts.currency != card_currency, was_restricted, wrong_pin, verdict)
    recorded = DECLINE if status == DECLINED else REVIEW if flagged else APPROVE
    new = DECLINE if new_code != APPROVED else REVIEW if verdict.review or verdict.block_card else APPROVE
    new_codes = tuple(f.code for f in verdict.factors)
    return (
        (recorded, code, was_restricted, recorded_codes),
        (new, new_code, bool(verdict.restriction), new_codes),
        bool(row[_REPORTED]),
        verdict.score != score,
        assumed,
    )


def _count(tally: Counter, report: Report) -> None:
    for (before, after, is_fraud, score_changed, assumed), n in tally.items():
        (recorded, code, _, _), (new, new_code, _, _) = before, after
        report.decisions += n
        report.recorded.add(*before, is_fraud, n)
        report.backtest.add(*after, is_fraud, n)
        report.matrix[(recorded, new)] += n
        if new_code != code:
            report.code_changes[(code, new_code)] += n
        report.score_changes += n * score_changed
        report.assumed_limits_and_funds += n * assumed
        report.changed += n * (new_code != code or score_changed or new != recorded)


def _code(
    recorded: str, other_currency: bool, was_restricted: bool, wrong_pin: bool, verdict: rules.Verdict
) -> tuple[str, bool]:
    """The response code in the contract's order, from what was recorded where risk did
    not decide, and whether the limits and the balance were assumed to pass. A wrong PIN
    recorded before it was declined as such (approved, or declined for another reason
    after it in the order) is 55 now. After the score's 59, a step-up asks for the
    cardholder's verification (1A)."""
    if recorded in BEFORE_RISK:
        return recorded, False
    if wrong_pin:
        return INCORRECT_PIN, False
    if recorded == NOT_PERMITTED and other_currency:
        return recorded, False
    if verdict.restriction:
        return NOT_PERMITTED, False
    if recorded in AFTER_RESTRICTION:
        return recorded, False
    assumed = recorded == NOT_PERMITTED and was_restricted
    return risk_decision(decline=verdict.decline, verification=verdict.verification).code, assumed


def _model_factors(config: FraudConfig, values: list[dict]) -> list[RiskFactor | None]:
    """The model's factor for each decision, predicted in one batch (its points only: the
    words of the live factor need each row's contributions, which a backtest does not show)."""
    rule_config = config.rules.get("model")
    if not values or not rule_config or not rule_config.enabled or config.model is None:
        return [None] * len(values)
    import numpy as np

    model = inference.loaded_model(config.model)
    matrix = np.array([inference.vector(v, model.features) for v in values], dtype=np.float64)
    # The sum of the contributions, as the live path adds them up: the same raw score to the last bit.
    raw = model.booster.predict(matrix, pred_contrib=True, num_threads=2).sum(axis=1)
    weight = rule_config.score
    return [
        RiskFactor(
            "model",
            inference.model_points(inference.Prediction(model.version, inference.sigmoid(r), []), weight),
            "",
        )
        for r in raw.tolist()
    ]
