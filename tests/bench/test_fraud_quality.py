"""The detection measure of bench/fraud_quality.py and bench/kept_world.py on a tiny
hand-made set of decisions, and the rows read from a replayed world: a step-up (1A, the
PIN asked for) stops an attack's attempt, and on a legitimate purchase it is no false
decline but a purchase stepped up. The benchmarks themselves never run here; only their
arithmetic does."""

import datetime
import importlib.util
import sys
from pathlib import Path

import pytest
import time_machine

from cardsystem.audit import Actor
from demo.simulation import plan_world, replay_world
from tests.demo.test_authentication import asking_for_the_pin
from tests.fraud.clock import NOW

BENCH = Path(__file__).resolve().parents[2] / "bench"
DECLINE = 70
T0 = datetime.datetime(2026, 10, 1, 12, tzinfo=datetime.UTC)


def bench_module(name: str):
    """A bench script as a module (bench/ is not a package: its scripts import each other
    from their own directory)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fraud_quality():
    return bench_module("fraud_quality")


@pytest.fixture(scope="module")
def kept_world():
    return bench_module("kept_world")


def row(
    order, *, card, score, fraud=False, scenario="everyday", attack=None, stepped_up=False, check_failed=False
):
    return {
        "fraud": fraud,
        "scenario": scenario,
        "attack": attack,
        "engine": score,
        "rules": score,
        "order": order,
        "card": card,
        "at": T0 + datetime.timedelta(minutes=order),
        "check_failed": check_failed,
        "stepped_up": stepped_up,
    }


def world() -> list[dict]:
    """Two lost or stolen cards (the first thief's first tap answered 1A, the second's never
    stopped), a card abroad stopped at its third attempt, and a clean card's purchases."""
    stolen = {"fraud": True, "scenario": "lost_stolen"}
    abroad = {"fraud": True, "scenario": "card_abroad", "attack": 3}
    rows = [
        row(0, card="clean", score=10, stepped_up=True),  # a tap, the PIN asked for
        row(1, card="clean", score=10),  # the card inserted, the PIN typed: approved
        row(2, card="clean", score=90, stepped_up=True),  # 1A whatever the score: no decline
        row(3, card="clean", score=80),  # a false decline
        row(4, card="clean", score=75, check_failed=True),  # a mistyped PIN: 55, out of the base
        row(5, card="s1", score=10, attack=1, stepped_up=True, **stolen),
        row(6, card="s1", score=10, attack=1, **stolen),  # the thief's wrong guess
        row(7, card="s1", score=90, attack=1, **stolen),
        row(8, card="s2", score=10, attack=2, **stolen),
        row(9, card="s2", score=20, attack=2, **stolen),
        row(10, card="s2", score=30, attack=2, **stolen),
        row(11, card="a", score=10, **abroad),
        row(12, card="a", score=10, **abroad),
        row(13, card="a", score=90, **abroad),
    ]
    return rows


def test_an_attempt_answered_1a_stops_the_attack_before_its_third(fraud_quality):
    kinds = fraud_quality.world_figures(world(), DECLINE)["kinds"]
    assert kinds["lost_stolen"] == {"attacks": 2, "before_third": 0.5, "stopped": 0.5}
    assert kinds["card_abroad"] == {"attacks": 1, "before_third": 0.0, "stopped": 1.0}


def test_a_1a_on_a_clean_purchase_is_no_false_decline_but_a_purchase_stepped_up(fraud_quality):
    figures = fraud_quality.world_figures(world(), DECLINE)
    assert figures["false_declines"] == {"declined": 1, "of": 2, "share": 0.5}
    assert figures["stepped_up"] == {"asked": 2, "of": 4, "share": 0.5}
    assert "2 of 4" in fraud_quality.stepped_up_line(figures)


def test_the_scenario_table_counts_a_1a_as_a_stop_for_rules_and_model_alike(fraud_quality):
    table = fraud_quality.scenario_table(world(), DECLINE)
    # lost_stolen: 1 of 2 attacks stopped; attempts declined or 1A: 2 of 6.
    assert "| lost_stolen | 2 | 6 | 50% | 50% | 33% | 33% |" in table


def test_the_worlds_and_worst_tables_show_the_share_stepped_up(fraud_quality):
    quiet = fraud_quality.world_figures(world(), DECLINE)
    busy_rows = [*world(), row(20, card="other", score=10, stepped_up=True)]
    busy = fraud_quality.world_figures(busy_rows, DECLINE)
    before = {key: value for key, value in quiet.items() if key != "stepped_up"}  # measured before 1A
    results = {(500, 45, 1): quiet, (500, 45, 2): busy, (500, 45, 3): before}
    table = fraud_quality.worlds_table(results)
    assert "stepped up (1A)" in table
    assert "| 50.000% (2 of 4) |" in table and "| 60.000% (3 of 5) |" in table
    assert table.splitlines()[4].endswith("| - |")  # the world measured before step-ups
    assert "| stepped up | 60.000% | 500x45-s2 |" in fraud_quality.worst_table(results)


def test_kept_world_counts_1a_as_fraud_quality_does(kept_world):
    rows = [
        {
            "risk_score": r["engine"],
            "fraud": r["fraud"],
            "scenario": r["scenario"],
            "attack": r["attack"],
            "stepped_up": r["stepped_up"],
            "clean": not r["fraud"] and not r["check_failed"],
        }
        for r in world()
    ]
    line = kept_world.figures(rows, DECLINE)
    assert "false declines 1 of 2, stepped up 2 of 4" in line
    assert "card_abroad=0/1 lost_stolen=1/2" in line
    # A candidate step-up on the second thief's first attempt (order 8) and on the clean
    # purchase approved at 10 (order 1): the attack stopped, the purchase stepped up, and a
    # score that declines (order 3) declines still.
    asked = {8, 1, 3}
    rows = [{**r, "order": n} for n, r in enumerate(rows)]
    line = kept_world.figures(rows, DECLINE, step=lambda r: r["order"] in asked)
    assert "false declines 1 of 1, stepped up 3 of 4, fired on 2 clean" in line
    assert "card_abroad=0/1 lost_stolen=2/2" in line


@pytest.mark.django_db
def test_the_rows_read_the_response_code_of_a_replayed_world(fraud_quality, monkeypatch):
    with time_machine.travel(NOW, tick=True):
        world = plan_world(cardholders=8, days=10, seed=13, end=NOW, fraud="showcase")
        answered = asking_for_the_pin(monkeypatch)
        result = replay_world(world, actor=Actor.system("test"))
    rows = fraud_quality.scored(result.outcomes)
    assert answered and sum(r["stepped_up"] for r in rows) == len(answered)
    figures = fraud_quality.world_figures(rows, DECLINE)
    assert figures["stepped_up"]["asked"] > 0
