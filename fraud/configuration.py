"""The fraud engine's configuration as one decision reads it: the settings, every rule's
switch, points and thresholds, the country and merchant category lists and the model
choice, in one immutable snapshot.

Two sources, one shape. The working copy (`read_config()`) is what staff edit in the
admin (FraudSettings, Rule, CountryRisk, MerchantCategoryRisk): it decides nothing. A
version (FraudConfigVersion) stores a working copy's `as_snapshot()` for good; the live
version's snapshot, read back by `from_snapshot()`, is what every decision uses
(`live_config()`, cached per process).
"""

import datetime
import functools
import logging
from dataclasses import dataclass, replace

from django.db import connection

from cardsystem.process_cache import ProcessCache
from fraud.models import CountryRisk, FraudConfigVersion, FraudSettings, MerchantCategoryRisk, Rule

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleConfig:
    score: int
    params: dict
    enabled: bool = True


@dataclass(frozen=True)
class ModelChoice:
    """The stored model that scores beside the rules (FraudModel's pk and version)."""

    pk: int
    version: int


@dataclass(frozen=True)
class FraudConfig:
    review_threshold: int
    decline_threshold: int
    cvv_failure_limit: int
    # Every rule, disabled ones too: amount_large's threshold is the yardstick of other
    # rules (velocity_amount, large_amount_velocity, cardholder_age) even when it adds no
    # points itself.
    rules: dict[str, RuleConfig]
    countries: dict[str, str]  # country -> level
    mccs: dict[str, str]  # mcc -> level
    model: ModelChoice | None = None  # None: the rules alone decide
    version: int | None = None  # the version's number; None for the working copy


def read_config() -> FraudConfig:
    """The working copy as stored now (four queries); the defaults when no settings row
    exists. It decides nothing until it is saved as a version and promoted."""
    stored = FraudSettings.objects.select_related("model").first() or FraudSettings()
    model = stored.model
    return FraudConfig(
        review_threshold=stored.review_threshold,
        decline_threshold=stored.decline_threshold,
        cvv_failure_limit=stored.cvv_failure_limit,
        rules={r.code: RuleConfig(r.score, r.params or {}, r.enabled) for r in Rule.objects.all()},
        countries=dict(CountryRisk.objects.values_list("country", "level")),
        mccs=dict(MerchantCategoryRisk.objects.values_list("mcc", "level")),
        model=ModelChoice(model.pk, model.version) if model is not None else None,
    )


# --- Snapshots: a configuration as a version stores it ----------------------------------------


def as_snapshot(config: FraudConfig) -> dict:
    """The configuration as JSON, keys sorted by the database's JSON as they come: what a
    FraudConfigVersion stores. `from_snapshot()` reads it back equal."""
    return {
        "review_threshold": config.review_threshold,
        "decline_threshold": config.decline_threshold,
        "cvv_failure_limit": config.cvv_failure_limit,
        "rules": {
            code: {"enabled": rule.enabled, "score": rule.score, "params": rule.params}
            for code, rule in sorted(config.rules.items())
        },
        "countries": dict(sorted(config.countries.items())),
        "mccs": dict(sorted(config.mccs.items())),
        "model": {"id": config.model.pk, "version": config.model.version} if config.model else None,
    }


def from_snapshot(snapshot: dict, version: int | None = None) -> FraudConfig:
    """The FraudConfig a version's snapshot holds: scoring under any version is
    `fraud.scoring.assess(attempt, from_snapshot(v.snapshot, v.number))`."""
    model = snapshot.get("model")
    return FraudConfig(
        review_threshold=snapshot["review_threshold"],
        decline_threshold=snapshot["decline_threshold"],
        cvv_failure_limit=snapshot["cvv_failure_limit"],
        rules={
            code: RuleConfig(rule["score"], rule["params"] or {}, rule["enabled"])
            for code, rule in sorted(snapshot["rules"].items())
        },
        countries=dict(snapshot["countries"]),
        mccs=dict(snapshot["mccs"]),
        model=ModelChoice(model["id"], model["version"]) if model else None,
        version=version,
    )


def version_config(version: FraudConfigVersion) -> FraudConfig:
    return from_snapshot(version.snapshot, version.number)


# --- The live version, per process ------------------------------------------------------------

# The configuration of the versions this process has seen, by (pk, number): a version
# never changes, so its snapshot is parsed once. (The pk as well: in tests a flushed
# database numbers its versions from 1 again.)
_parsed: dict[tuple[int, int], FraudConfig] = {}
NO_VERSION = FraudConfig(
    review_threshold=FraudSettings._meta.get_field("review_threshold").default,
    decline_threshold=FraudSettings._meta.get_field("decline_threshold").default,
    cvv_failure_limit=FraudSettings._meta.get_field("cvv_failure_limit").default,
    rules={},
    countries={},
    mccs={},
)


def _parse(pk: int, number: int) -> FraudConfig:
    if (pk, number) not in _parsed:
        snapshot = FraudConfigVersion.objects.values_list("snapshot", flat=True).get(pk=pk)
        while len(_parsed) >= 4:  # the live one, the shadow, and the last few a rollback may return to
            _parsed.pop(next(iter(_parsed)))
        _parsed[(pk, number)] = from_snapshot(snapshot, number)
    return _parsed[(pk, number)]


def _read_versions() -> tuple[FraudConfig, FraudConfig | None]:
    """One query for which version is live and which one (if any) is in shadow; each
    snapshot only the first time."""
    State = FraudConfigVersion.State
    rows = FraudConfigVersion.objects.filter(state__in=[State.LIVE, State.SHADOW]).values_list(
        "pk", "number", "state"
    )
    by_state = {state: (pk, number) for pk, number, state in rows}
    shadow = _parse(*by_state[State.SHADOW]) if State.SHADOW in by_state else None
    if State.LIVE not in by_state:
        # Every migrated database has one (migration 0007); only a database emptied by
        # hand lacks it. The shipped thresholds with no rule, rather than the unversioned
        # working copy: what decides is always a version or nothing staff edited.
        logger.error("no live fraud configuration version: deciding by the default thresholds alone")
        return NO_VERSION, shadow
    return _parse(*by_state[State.LIVE]), shadow


_versions = ProcessCache(_read_versions, on_forget=_parsed.clear)


def live_config(*, ttl_seconds: float) -> FraudConfig:
    """The live version's configuration. Which version is live is looked up at most every
    `ttl_seconds` per process (one cheap query, none per decision); a promotion in this
    process forgets the copy at once, other processes see it within the TTL."""
    return _versions.get(ttl_seconds=ttl_seconds)[0]


def shadow_config(*, ttl_seconds: float) -> FraudConfig | None:
    """The configuration of the version in shadow, or None: read with the live one, in
    the same query, so that no shadow costs no query."""
    return _versions.get(ttl_seconds=ttl_seconds)[1]


def cached_versions(*, ttl_seconds: float) -> tuple[int | None, int | None]:
    """The numbers of the live and the shadow version this process decides by (None: none)."""
    live, shadow = _versions.get(ttl_seconds=ttl_seconds)
    return live.version, shadow.version if shadow is not None else None


def versions_sql() -> tuple[str, str]:
    """Scalar subqueries giving the numbers of the live and the shadow version now, for a
    decision to read in a statement it sends anyway (fraud/feature_reads.py) and compare
    with `cached_versions`. The states are the model's own constants, not input."""
    return _versions_sql(connection.vendor)


@functools.cache
def _versions_sql(vendor: str) -> tuple[str, str]:
    """Cached per `vendor`, whose quoting it uses."""
    table = connection.ops.quote_name(FraudConfigVersion._meta.db_table)
    State = FraudConfigVersion.State
    return tuple(
        f"(SELECT MAX(number) FROM {table} WHERE state = '{state}')"  # noqa: S608
        for state in (State.LIVE.value, State.SHADOW.value)
    )


def forget_live() -> None:
    """Forget which versions are live and in shadow: the next decision reads them again."""
    _versions.forget()


def without_version(config: FraudConfig) -> FraudConfig:
    """The configuration alone, whichever version (if any) it came from: for comparing."""
    return replace(config, version=None)


def reported_merchant_window(config: FraudConfig) -> datetime.timedelta:
    """How far back fraud at a merchant counts: the reported_merchant rule's window, also
    the window of the stored merchant features."""
    rule_config = config.rules.get("reported_merchant")
    return datetime.timedelta(days=int((rule_config.params if rule_config else {}).get("window_days", 90)))
