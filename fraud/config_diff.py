"""What changed between two versions of the fraud configuration, in an analyst's rows:
thresholds changed, rules switched on or off, points and params changed, countries and
merchant categories added, removed or moved between lists, the model changed.

A pure function of two snapshots (fraud.configuration.as_snapshot), so that the version
pages, the audit rows and the tests read the same differences.
"""

import json
from dataclasses import asdict, dataclass

from fraud.authentication import STEP_UP

NOTHING = "—"
SETTINGS = (
    ("review_threshold", "review threshold"),
    ("decline_threshold", "decline threshold"),
    ("cvv_failure_limit", "wrong CVVs in a row before blocking"),
)


@dataclass(frozen=True)
class Change:
    section: str  # settings, rule, country, merchant category, model
    item: str  # what changed: a setting's name, a rule's code, a country, an MCC
    change: str  # in words: "switched off", "points", "param per_hour", "added", ...
    before: str
    after: str

    def as_dict(self) -> dict:
        return asdict(self)


def shown(value) -> str:
    """A snapshot's value as the table shows it."""
    if value is None:
        return NOTHING
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def diff(before: dict | None, after: dict) -> list[Change]:
    """Every difference from `before` to `after` (two snapshots), settings first, then
    rules, countries, merchant categories and the model, each in code order. Against no
    version (`before` None) there is none: the first version is where history starts."""
    if before is None:
        return []
    changes = [
        Change("settings", label, "changed", shown(before.get(key)), shown(after.get(key)))
        for key, label in SETTINGS
        if before.get(key) != after.get(key)
    ]
    changes += _rules(before.get("rules", {}), after.get("rules", {}))
    changes += _listed("country", before.get("countries", {}), after.get("countries", {}))
    changes += _listed("merchant category", before.get("mccs", {}), after.get("mccs", {}))
    if before.get("model") != after.get("model"):
        changes.append(
            Change("model", "model", "changed", _model(before.get("model")), _model(after.get("model")))
        )
    return changes


def _rules(before: dict, after: dict) -> list[Change]:
    changes = []
    for code in sorted(before.keys() | after.keys()):
        old, new = before.get(code), after.get(code)
        if old is None or new is None:
            state = new or old
            changes.append(
                Change(
                    "rule",
                    code,
                    "added" if old is None else "removed",
                    NOTHING if old is None else _rule(code, state),
                    _rule(code, state) if old is None else NOTHING,
                )
            )
            continue
        if old["enabled"] != new["enabled"]:
            switched = "switched on" if new["enabled"] else "switched off"
            changes.append(Change("rule", code, switched, shown(old["enabled"]), shown(new["enabled"])))
        if old["score"] != new["score"]:
            changes.append(Change("rule", code, "points", shown(old["score"]), shown(new["score"])))
        old_params, new_params = _flat(old.get("params") or {}), _flat(new.get("params") or {})
        for key in sorted(old_params.keys() | new_params.keys()):
            if old_params.get(key, _MISSING) != new_params.get(key, _MISSING):
                changes.append(
                    Change(
                        "rule", code, f"param {key}", shown(old_params.get(key)), shown(new_params.get(key))
                    )
                )
    return changes


_MISSING = object()


def _flat(params: dict, prefix: str = "") -> dict:
    """Nested params as dotted keys: one row per per-currency threshold changed."""
    flat = {}
    for key, value in params.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _rule(code: str, rule: dict) -> str:
    # A step-up rule decides by asking for the PIN (1A), whatever its points: said so.
    kind = "step-up (1A), " if code in STEP_UP else ""
    return f"{shown(rule['enabled'])}, {kind}{rule['score']} points, {shown(rule.get('params') or {})}"


def _listed(section: str, before: dict, after: dict) -> list[Change]:
    changes = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        change = "added" if old is None else "removed" if new is None else "level"
        changes.append(Change(section, key, change, shown(old), shown(new)))
    return changes


def _model(model: dict | None) -> str:
    return f"v{model['version']}" if model else "none (rules alone)"
