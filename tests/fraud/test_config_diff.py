"""The differences between two configuration snapshots, in an analyst's rows: a pure
function, tested on snapshots written out here."""

import copy

import pytest

from fraud.config_diff import Change, diff

BASE = {
    "review_threshold": 50,
    "decline_threshold": 80,
    "cvv_failure_limit": 3,
    "rules": {
        "amount_large": {
            "enabled": True,
            "score": 20,
            "params": {"threshold": "1000", "per_currency": {"JPY": "150000"}},
        },
        "foreign_country": {"enabled": True, "score": 10, "params": {}},
        "velocity_count": {"enabled": True, "score": 25, "params": {"per_minute": 3, "per_hour": 10}},
    },
    "countries": {"KP": "blocked"},
    "mccs": {"7995": "high_risk"},
    "model": None,
}


def changed(**edits):
    after = copy.deepcopy(BASE)
    for path, value in edits.items():
        *parents, last = path.split("__")
        target = after
        for key in parents:
            target = target[key]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return after


DELETE = object()


def test_the_same_configuration_has_no_difference():
    assert diff(BASE, copy.deepcopy(BASE)) == []


def test_the_first_version_has_nothing_before_it():
    assert diff(None, BASE) == []


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        (
            {"review_threshold": 40},
            [Change("settings", "review threshold", "changed", "50", "40")],
        ),
        (
            {"cvv_failure_limit": 5},
            [Change("settings", "wrong CVVs in a row before blocking", "changed", "3", "5")],
        ),
        (
            {"rules__foreign_country__enabled": False},
            [Change("rule", "foreign_country", "switched off", "on", "off")],
        ),
        (
            {"rules__foreign_country__score": 15},
            [Change("rule", "foreign_country", "points", "10", "15")],
        ),
        (
            {"rules__velocity_count__params__per_minute": 4},
            [Change("rule", "velocity_count", "param per_minute", "3", "4")],
        ),
        (
            {"rules__velocity_count__params__per_day": 30},
            [Change("rule", "velocity_count", "param per_day", "—", "30")],
        ),
        (
            {"rules__velocity_count__params__per_hour": DELETE},
            [Change("rule", "velocity_count", "param per_hour", "10", "—")],
        ),
        (
            {"rules__amount_large__params__per_currency": {"JPY": "150000", "KRW": "1300000"}},
            [Change("rule", "amount_large", "param per_currency.KRW", "—", "1300000")],
        ),
        (
            {"rules__amount_large__params__threshold": 1000},  # a number is not the decimal string
            [Change("rule", "amount_large", "param threshold", "1000", "1000")],
        ),
        (
            {"countries__NG": "high_risk"},
            [Change("country", "NG", "added", "—", "high_risk")],
        ),
        (
            {"countries__KP": DELETE},
            [Change("country", "KP", "removed", "blocked", "—")],
        ),
        (
            {"mccs__7995": "blocked"},
            [Change("merchant category", "7995", "level", "high_risk", "blocked")],
        ),
        (
            {"model": {"id": 7, "version": 3}},
            [Change("model", "model", "changed", "none (rules alone)", "v3")],
        ),
        (
            {"rules__model": {"enabled": True, "score": 100, "params": {"rule_weight": 0.3}}},
            [Change("rule", "model", "added", "—", 'on, 100 points, {"rule_weight": 0.3}')],
        ),
    ],
)
def test_each_kind_of_change_is_one_row(edits, expected):
    assert diff(BASE, changed(**edits)) == expected


def test_changes_come_settings_first_then_rules_lists_and_the_model_each_in_order():
    after = changed(
        model={"id": 1, "version": 1},
        mccs__5993="high_risk",
        countries__IR="blocked",
        rules__velocity_count__score=30,
        rules__foreign_country__enabled=False,
        decline_threshold=85,
        review_threshold=45,
    )
    rows = [(c.section, c.item, c.change) for c in diff(BASE, after)]
    assert rows == [
        ("settings", "review threshold", "changed"),
        ("settings", "decline threshold", "changed"),
        ("rule", "foreign_country", "switched off"),
        ("rule", "velocity_count", "points"),
        ("country", "IR", "added"),
        ("merchant category", "5993", "added"),
        ("model", "model", "changed"),
    ]
    assert diff(after, BASE)[0] == Change("settings", "review threshold", "changed", "45", "50")
