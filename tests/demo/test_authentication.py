"""How the simulated world's authorizations were read and verified
(demo/simulation/authentication.py): deterministic per seed, honest noise that is never
zero, attacks with the signals they leave in life, and replayed through the services the
API uses (the device as its keyed hash)."""

import dataclasses
import datetime
import uuid
from collections import Counter

import pytest

from cardsystem.audit import Actor
from demo.simulation import plan_world, replay_world
from demo.simulation.authentication import _Authenticator
from demo.simulation.plan import MADE_UP, Attempt
from tests.fraud.clock import NOW
from tests.fraud.configuration import set_rule
from transactions.authentication_facts import device_digest
from transactions.codes import Decision
from transactions.models import Transaction
from transactions.services import authorization_decide

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
    outcomes = [outcome for outcome in result.outcomes if not outcome.after_step_up]  # of the plan
    for attempt, outcome in zip(attempts(world), outcomes, strict=True):
        transaction = recorded[outcome.transaction_id]
        assert (
            transaction.entry_mode,
            transaction.cardholder_verification,
            transaction.three_ds,
            transaction.device_hash,
        ) == (attempt.entry_mode, attempt.verification, attempt.three_ds, device_digest(attempt.device))
        assert not attempt.device or attempt.device != transaction.device_hash


# --- Asked for the PIN (answer 1A, verification required) ---------------------------------------

STEP_UP = (datetime.timedelta(seconds=20), datetime.timedelta(seconds=60 + 40))  # the pause, a typo's


def same_purchase(retry: Attempt, attempt: Attempt) -> bool:
    return (retry.holder, retry.slot, retry.merchant, retry.amount_minor, retry.currency) == (
        attempt.holder,
        attempt.slot,
        attempt.merchant,
        attempt.amount_minor,
        attempt.currency,
    ) and (STEP_UP[0] <= retry.at - attempt.at <= STEP_UP[1])


def test_only_an_unverified_in_person_attempt_says_what_follows_a_step_up(natural):
    for attempt in attempts(natural):
        if attempt.step_up:
            assert attempt.merchant.channel in ("pos", "atm")
            assert attempt.verification in ("no_cvm", "signature")
        assert all(not retry.step_up for retry in attempt.step_up)
    online = [a for a in attempts(natural) if a.merchant.channel == "ecommerce"]
    assert online and not any(a.step_up for a in online)


def test_an_honest_cardholder_asked_for_the_pin_inserts_the_card_and_types_it(natural):
    asked = [
        a
        for a in attempts(natural)
        if not a.truth.is_fraud
        and a.merchant.channel == "pos"
        and a.verification in ("no_cvm", "signature")
        and a.entry_mode != "keyed"
    ]
    assert len(asked) > 1000
    typos = 0
    for attempt in asked:
        *mistyped, done = attempt.step_up
        assert same_purchase(done, attempt) and done.truth == attempt.truth
        assert done.verification == "pin_verified" and done.dispute == attempt.dispute
        assert done.entry_mode == ("magstripe" if attempt.entry_mode == "magstripe" else "chip")
        for typo in mistyped:  # now and then mistyped first, as at any terminal
            assert same_purchase(typo, attempt) and typo.at < done.at
            assert typo.verification == "pin_failed" and not typo.truth.is_fraud
            typos += 1
    assert 0 < typos < 0.05 * len(asked)
    keyed = [a for a in attempts(natural) if not a.truth.is_fraud and a.entry_mode == "keyed"]
    assert keyed and not any(a.step_up for a in keyed)  # a card that cannot be read: paid another way


def test_a_thief_asked_for_the_pin_guesses_it_wrong_or_walks_away(natural):
    stolen = [
        a
        for a in attempts(natural)
        if a.truth.scenario == "lost_stolen" and a.verification in ("no_cvm", "signature")
    ]
    guesses = [a for a in stolen if a.step_up]
    assert 0.1 * len(stolen) < len(guesses) < 0.5 * len(stolen)  # most walk away
    for attempt in guesses:
        (guess,) = attempt.step_up
        assert same_purchase(guess, attempt) and guess.truth == attempt.truth
        assert (guess.entry_mode, guess.verification, guess.dispute) == ("chip", "pin_failed", None)
    typed_in = [
        a
        for a in attempts(natural)
        if a.truth.scenario in ("card_abroad", "account_takeover") and a.merchant.channel == "pos"
    ]
    assert not any(a.step_up for a in typed_in)  # card details alone: no card to insert


def test_the_step_up_reactions_leave_the_rest_of_the_plan_as_it_was(monkeypatch):
    world = plan_world(cardholders=40, days=10, seed=3, end=END)
    again = plan_world(cardholders=40, days=10, seed=3, end=END)
    assert any(a.step_up for a in attempts(world))
    assert [a.step_up for a in attempts(again)] == [a.step_up for a in attempts(world)]
    monkeypatch.setattr(_Authenticator, "step_up", lambda self, attempt: attempt)
    before = plan_world(cardholders=40, days=10, seed=3, end=END)
    assert [dataclasses.replace(a, step_up=()) for a in attempts(world)] == attempts(before)


def asking_for_the_pin(monkeypatch) -> list[uuid.UUID]:
    """Make the decision the replay calls answer 1A to every unverified in-person attempt
    the engine would have let through its card checks (the engine's own step-up rules are
    not needed to test the reaction); the pks of all answered 1A, by the engine or here."""
    answered = []

    def decide(*, request):
        decided = authorization_decide(request=request)
        if decided.reason == Decision.VERIFICATION_REQUIRED.reason:
            answered.append(decided.pk)
            return decided
        unverified = request.channel == "pos" and request.cardholder_verification in ("no_cvm", "signature")
        if unverified and decided.reason in (Decision.APPROVED.reason, Decision.SUSPECTED_FRAUD.reason):
            Transaction.objects.filter(pk=decided.pk).update(
                status=Transaction.Status.DECLINED,
                response_code=Decision.VERIFICATION_REQUIRED.code,
                reason=Decision.VERIFICATION_REQUIRED.reason,
            )
            decided.refresh_from_db()
            answered.append(decided.pk)
        return decided

    monkeypatch.setattr("demo.simulation.replay.authorization_decide", decide)
    return answered


@pytest.mark.django_db
def test_the_replay_plays_what_follows_a_1a_in_time_with_its_ground_truth(monkeypatch):
    world = plan_world(cardholders=8, days=10, seed=13, end=END, fraud="showcase")
    answered = asking_for_the_pin(monkeypatch)
    result = replay_world(world, actor=Actor.system("test"))
    planned = attempts(world)
    recorded = Transaction.objects.in_bulk([o.transaction_id for o in result.outcomes])
    by_time = {(t.transaction_time, t.merchant_id, t.amount_minor): t for t in recorded.values()}
    followed = [
        a for a in planned if a.step_up and by_time[(a.at, a.merchant.id, a.amount_minor)].pk in answered
    ]
    assert len(result.outcomes) == len(planned) + sum(len(a.step_up) for a in followed)
    assert sum(not o.after_step_up for o in result.outcomes) == len(planned)
    kinds = Counter()
    for attempt in followed:
        for retry in attempt.step_up:
            transaction = by_time[(retry.at, retry.merchant.id, retry.amount_minor)]
            assert (transaction.entry_mode, transaction.cardholder_verification) == (
                retry.entry_mode,
                retry.verification,
            )
            outcome = next(o for o in result.outcomes if o.transaction_id == transaction.pk)
            assert outcome.after_step_up
            assert (outcome.is_fraud, outcome.scenario, outcome.attack_id) == (
                retry.truth.is_fraud,
                retry.truth.scenario,
                retry.truth.attack_id,
            )
            assert outcome.approved == (transaction.status == Transaction.Status.APPROVED)
            if retry.verification == "pin_failed":
                assert transaction.response_code == Decision.INCORRECT_PIN.code
            kinds[(retry.truth.scenario, retry.verification)] += 1
    assert kinds[("everyday", "pin_verified")] > 20 and kinds[("lost_stolen", "pin_failed")]
    honest = [
        by_time[(a.step_up[-1].at, a.merchant.id, a.amount_minor)] for a in followed if not a.truth.is_fraud
    ]
    assert sum(t.status == Transaction.Status.APPROVED for t in honest) > 0.9 * len(honest)
    walked_away = [a for a in planned if a.truth.scenario == "lost_stolen" and not a.step_up]
    assert any(by_time[(a.at, a.merchant.id, a.amount_minor)].pk in answered for a in walked_away)
    # Decided in time order, the retries among the planned attempts.
    times = [recorded[o.transaction_id].transaction_time for o in result.outcomes]
    assert times == sorted(times)


@pytest.mark.django_db
def test_without_a_1a_nothing_follows():
    for code in ("unverified_cash_out_again", "unverified_cash_out_new_category"):
        set_rule(code, enabled=False)  # the engine's step-ups off: nothing answers 1A
    world = plan_world(cardholders=8, days=10, seed=13, end=END, fraud="showcase")
    result = replay_world(world, actor=Actor.system("test"))
    assert len(result.outcomes) == len(attempts(world)) == Transaction.objects.count()
