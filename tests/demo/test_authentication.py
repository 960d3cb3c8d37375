"""How the simulated world's authorizations were read and verified
(demo/simulation/authentication.py): deterministic per seed, honest noise that is never
zero, attacks with the signals they leave in life, and replayed through the services the
API uses (the device as its keyed hash)."""

import datetime
from collections import Counter

import pytest

from cardsystem.audit import Actor
from demo.simulation import plan_world, replay_world
from demo.simulation.plan import MADE_UP, Attempt
from tests.fraud.clock import NOW
from transactions.authentication_facts import device_digest
from transactions.models import Transaction

END = NOW


def attempts(world) -> list[Attempt]:
    return [event for event in world.events if isinstance(event, Attempt)]


def facts(attempt: Attempt) -> tuple:
    return attempt.entry_mode, attempt.verification, attempt.three_ds, attempt.device


@pytest.fixture(scope="module")
def natural():
    return plan_world(cardholders=600, days=60, seed=11, end=END)


def test_the_same_seed_gives_the_same_facts_and_another_seed_others():
    first = [facts(a) for a in attempts(plan_world(cardholders=40, days=10, seed=3, end=END))]
    assert [facts(a) for a in attempts(plan_world(cardholders=40, days=10, seed=3, end=END))] == first
    assert [facts(a) for a in attempts(plan_world(cardholders=40, days=10, seed=4, end=END))] != first


def test_every_attempt_says_how_it_was_read(natural):
    for attempt in attempts(natural):
        assert attempt.entry_mode and attempt.verification
        online = attempt.merchant.channel == "ecommerce"
        assert bool(attempt.three_ds) is online and bool(attempt.device) is online


def test_honest_traffic_shows_each_signal_now_and_then(natural):
    legit = [a for a in attempts(natural) if not a.truth.is_fraud]
    present = [a for a in legit if a.merchant.channel in ("pos", "atm")]
    online = [a for a in legit if a.merchant.channel == "ecommerce"]
    stripe = sum(a.entry_mode == "magstripe" for a in present)
    assert 0.001 * len(present) < stripe < 0.01 * len(present)  # chips that fail
    assert Counter(a.entry_mode for a in present).most_common(1)[0][0] == "contactless"
    keyed = [a for a in present if a.entry_mode == "keyed"]  # neither chip nor stripe read: typed by the shop
    assert 0.0005 * len(present) < len(keyed) < 0.005 * len(present)
    assert {a.verification for a in keyed} == {"signature"} and {a.merchant.channel for a in keyed} == {"pos"}
    typos = [a for a in legit if a.verification == "pin_failed"]
    assert len(typos) > 50 and {a.truth.scenario for a in typos} >= {"pin_typo"}
    assert 0.005 < sum(a.three_ds == "failed" for a in online) / len(online) < 0.05
    devices = Counter(a.device for a in online)
    assert sum(n == 1 for n in devices.values()) > 50  # devices used once: new phones, borrowed computers


def test_each_honest_pin_typo_is_followed_by_the_right_pin_at_the_same_merchant(natural):
    planned = attempts(natural)
    typos = [a for a in planned if a.truth.scenario == "pin_typo"]
    right = {(a.holder, a.slot, a.merchant, a.at) for a in planned if a.verification == "pin_verified"}
    for typo in typos:
        assert any(
            (typo.holder, typo.slot, typo.merchant, typo.at + datetime.timedelta(seconds=s)) in right
            for s in range(8, 41)
        )


def test_attacks_leave_the_signals_they_leave_in_life(natural):
    fraud = [a for a in attempts(natural) if a.truth.is_fraud]
    by_scenario = {
        scenario: [a for a in fraud if a.truth.scenario == scenario]
        for scenario in {a.truth.scenario for a in fraud}
    }
    assert {a.entry_mode for a in by_scenario["skimmed_terminal"]} == {"magstripe"}  # copies of the stripe
    stolen = Counter((a.entry_mode, a.verification) for a in by_scenario["lost_stolen"])
    assert set(stolen) <= {("contactless", "no_cvm"), ("chip", "pin_failed"), ("chip", "signature")}
    assert stolen[("chip", "pin_failed")] and stolen[("contactless", "no_cvm")]
    honest_devices = {a.device for a in attempts(natural) if not a.truth.is_fraud}
    for scenario in ("account_takeover", "card_abroad", "cvv_guessing"):
        online = [a for a in by_scenario[scenario] if a.merchant.channel == "ecommerce"]
        assert online and not {a.device for a in online} & honest_devices
        assert {a.three_ds for a in online} <= {"failed", "not_performed", "attempted"}
    assert all(a.entry_mode == "ecommerce" for a in fraud if a.holder == MADE_UP)


def test_a_world_of_an_exact_size_keeps_its_size():
    world = plan_world(cardholders=20, days=2, seed=5, end=END, fraud="showcase", transactions=150)
    assert len(attempts(world)) == 150
    assert all(a.entry_mode for a in attempts(world))


@pytest.mark.django_db
def test_the_replay_sends_the_facts_as_the_api_reads_them():
    world = plan_world(cardholders=8, days=10, seed=2, end=END, fraud="showcase")
    result = replay_world(world, actor=Actor.system("test"))
    recorded = Transaction.objects.in_bulk([outcome.transaction_id for outcome in result.outcomes])
    for attempt, outcome in zip(attempts(world), result.outcomes, strict=True):
        transaction = recorded[outcome.transaction_id]
        assert (
            transaction.entry_mode,
            transaction.cardholder_verification,
            transaction.three_ds,
            transaction.device_hash,
        ) == (attempt.entry_mode, attempt.verification, attempt.three_ds, device_digest(attempt.device))
        assert not attempt.device or attempt.device != transaction.device_hash
