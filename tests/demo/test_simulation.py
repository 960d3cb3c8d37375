"""The traffic simulator: a plan from a seed (no database), replayed through the services."""

import datetime
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from bins.models import Bin
from cards.models import Card, Cardholder
from cards.services import ledger_mismatches
from cardsystem.audit import Actor
from cardsystem.card_numbers import luhn_valid
from demo.simulation import SCENARIOS, CannotReplay, plan_world, replay_world
from demo.simulation.plan import MADE_UP, WRONG, Attempt
from demo.simulation.population import BIN_FIELDS
from tests.factories import BinFactory
from tests.fraud.clock import DAY, NOW
from transactions.models import FraudReport, Transaction

END = NOW  # the clock fixture starts every test here
LOOK_ALIKES = {"travel", "spree", "big_purchase", "cvv_typo", "remittance", "skimmed_terminal"}


def attempts(world) -> list[Attempt]:
    return [event for event in world.events if isinstance(event, Attempt)]


# --- The plan (no database: pytest-django refuses any query in these tests) -----------------------


def test_the_same_seed_plans_the_same_world_and_another_seed_another():
    first = plan_world(cardholders=30, days=5, seed=3, end=END)
    assert plan_world(cardholders=30, days=5, seed=3, end=END) == first
    other = plan_world(cardholders=30, days=5, seed=4, end=END)
    assert [holder.name for holder in other.holders] != [holder.name for holder in first.holders]
    assert attempts(other) != attempts(first)
    times = [event.at for event in first.events]
    assert times == sorted(times)
    assert first.start == END - 5 * DAY and first.start <= times[0] and times[-1] <= END


@pytest.fixture(scope="module")
def natural():
    return plan_world(cardholders=600, days=60, seed=11, end=END)


def test_a_natural_world_holds_every_fraud_scenario_at_a_realistic_share(natural):
    planned = attempts(natural)
    fraud = [attempt for attempt in planned if attempt.truth.is_fraud]
    assert {attempt.truth.scenario for attempt in fraud} == set(SCENARIOS)
    assert 0.005 <= len(fraud) / len(planned) <= 0.02
    scenario_of = {}
    for attempt in fraud:  # an attack is one story
        assert (
            scenario_of.setdefault(attempt.truth.attack_id, attempt.truth.scenario) == attempt.truth.scenario
        )
    # Card testing tries made-up numbers in the issuer's BINs, each with a valid check digit.
    made_up = [attempt for attempt in planned if attempt.holder == MADE_UP]
    assert made_up and {attempt.truth.scenario for attempt in made_up} == {"card_testing"}
    for attempt in made_up:
        fields = next(f for prefix, f in BIN_FIELDS.items() if attempt.made_up_pan.startswith(prefix))
        assert len(attempt.made_up_pan) == fields["pan_length"] and luhn_valid(attempt.made_up_pan)
        assert attempt.currency == fields["currency"]
    assert "made_up_pan" not in repr(made_up[0])


def test_legitimate_spending_looks_like_fraud_to_any_single_rule(natural):
    legit = [attempt for attempt in attempts(natural) if not attempt.truth.is_fraud]
    assert {attempt.truth.scenario for attempt in legit} >= LOOK_ALIKES
    home = {index: holder.country for index, holder in enumerate(natural.holders)}
    offset = {index: holder.utc_offset for index, holder in enumerate(natural.holders)}
    abroad = [a for a in legit if a.merchant.channel == "pos" and a.merchant.country != home[a.holder]]
    assert len(abroad) > 500
    at_night = [a for a in legit if (a.at + datetime.timedelta(hours=offset[a.holder])).hour < 5]
    assert len(at_night) > 0.01 * len(legit)
    assert sum(a.cvv == WRONG for a in legit) > 100
    assert sum(a.merchant.mcc == "4829" for a in legit) > 20  # money transfer: a high-risk category


def test_disputes_come_days_later_only_for_fraud_and_only_when_due(natural):
    disputed = [attempt for attempt in attempts(natural) if attempt.dispute]
    assert disputed
    assert all(attempt.truth.is_fraud and attempt.holder != MADE_UP for attempt in disputed)
    assert all(attempt.at < attempt.dispute.at <= END for attempt in disputed)
    delays = sorted((attempt.dispute.at - attempt.at) / DAY for attempt in disputed)
    assert 1 <= delays[len(delays) // 2] <= 14, "days after the fraud, at the median"


def test_a_demo_day_shows_every_scenario_in_exactly_the_transactions_asked_for():
    day = plan_world(cardholders=20, days=1, seed=5, end=END, fraud="showcase", transactions=150)
    assert len(attempts(day)) == 150
    assert {attempt.truth.scenario for attempt in attempts(day) if attempt.truth.is_fraud} == set(SCENARIOS)
    quiet = plan_world(cardholders=20, days=1, seed=5, end=END, fraud="none", transactions=40)
    assert len(attempts(quiet)) == 40
    assert not any(attempt.truth.is_fraud for attempt in attempts(quiet))


# --- The replay ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tiny_world_replays_through_the_services_with_its_ground_truth():
    world = plan_world(cardholders=8, days=10, seed=3, end=END, fraud="showcase")
    result = replay_world(world, actor=Actor.system("test"))
    planned = attempts(world)
    outcomes = [outcome for outcome in result.outcomes if not outcome.after_step_up]  # of the plan
    assert Cardholder.objects.count() == result.cardholders == 8
    assert Card.objects.count() == result.cards
    assert Transaction.objects.count() == len(result.outcomes) and len(outcomes) == len(planned)
    recorded = Transaction.objects.in_bulk([outcome.transaction_id for outcome in result.outcomes])
    for attempt, outcome in zip(planned, outcomes, strict=True):
        transaction = recorded[outcome.transaction_id]
        assert (transaction.transaction_time, transaction.merchant_id, transaction.amount_minor) == (
            attempt.at,
            attempt.merchant.id,
            attempt.amount_minor,
        )
        truth = attempt.truth
        assert (outcome.is_fraud, outcome.scenario, outcome.attack_id) == (
            truth.is_fraud,
            truth.scenario,
            truth.attack_id,
        )
        assert outcome.approved == (transaction.status == Transaction.Status.APPROVED)
        assert outcome.flagged == transaction.flagged
        if attempt.holder == MADE_UP:
            assert transaction.card is None and transaction.response_code == "14"
    # Reports: exactly the approved fraud whose dispute falls due by the end.
    due = {
        outcome.transaction_id
        for attempt, outcome in zip(planned, outcomes, strict=True)
        if outcome.approved and attempt.dispute and attempt.dispute.at <= END
    }
    reports = FraudReport.objects.select_related("transaction")
    assert due and {report.transaction_id for report in reports} == due and result.reports == len(due)
    for report in reports:
        assert report.transaction.transaction_time < report.reported_at <= END
        # Filed before any authorization with a later time was decided.
        later = Transaction.objects.filter(transaction_time__gt=report.reported_at)
        assert not later.filter(created_at__lt=report.created_at).exists()
    # The bank blocks the card on most reports (unless it is already blocked, lost or stolen).
    blocking = [
        outcome.transaction_id
        for attempt, outcome in zip(planned, outcomes, strict=True)
        if outcome.transaction_id in due and attempt.dispute.block
    ]
    assert blocking
    for transaction_id in blocking:
        assert Card.objects.get(pk=recorded[transaction_id].card_id).status != Card.Status.ACTIVE
    assert not ledger_mismatches().exists()


@pytest.mark.django_db
def test_checkpoints_are_called_once_the_stream_reaches_their_time():
    world = plan_world(cardholders=5, days=2, seed=9, end=END)
    seen = []

    def checkpoint(at):
        assert not Transaction.objects.filter(transaction_time__gt=at).exists()
        seen.append((at, Transaction.objects.count()))

    midway = world.start + DAY
    replay_world(world, actor=Actor.system("test"), checkpoints=[(midway, checkpoint)])
    assert seen == [(midway, sum(attempt.at <= midway for attempt in attempts(world)))]


@pytest.mark.django_db
def test_a_world_cannot_end_in_the_future():
    world = plan_world(cardholders=2, days=1, seed=1, end=END + DAY)
    with pytest.raises(CannotReplay, match="future"):
        replay_world(world, actor=Actor.system("test"))
    assert not Cardholder.objects.exists()


# --- The command ---------------------------------------------------------------------------------


def simulate(*args, stderr=None) -> str:
    stdout = StringIO()
    call_command("simulate_traffic", *args, stdout=stdout, stderr=stderr or StringIO())
    return stdout.getvalue()


@pytest.mark.django_db
def test_simulate_traffic_adds_a_world_to_a_database_holding_data_and_summarises_it():
    simulate("--cardholders", "6", "--days", "2", "--seed", "3")
    bins = Bin.objects.count()
    out = simulate("--cardholders", "6", "--days", "2", "--seed", "3")
    assert Cardholder.objects.count() == 12 and Bin.objects.count() == bins
    second = Transaction.objects.count() // 2
    assert re.search(rf"transactions: {second}, approved: \d+, declined: \d+\n", out)
    assert out.startswith("Simulated world (seed 3), 2026-06-13 12:00 to 2026-06-15 12:00 UTC\n")
    assert "fraud alerts:" in out and "fraud reports filed:" in out
    assert not re.search(r"\d{12,}", out), "no card numbers"


@pytest.mark.django_db
def test_simulate_traffic_prints_its_progress_as_lines_into_a_log_file():
    log = StringIO()  # not a terminal
    simulate("--cardholders", "4", "--days", "1", "--seed", "3", stderr=log)
    steps = 4 + Transaction.objects.count()
    lines = log.getvalue().splitlines()
    assert len(lines) >= 2
    assert lines[-1].startswith(f"Simulating: {steps}/{steps} steps (100%), done in ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cardholders", "0"), "Give --cardholders from 1 to 100000"),
        (("--cardholders", "100001"), "Give --cardholders from 1 to 100000"),
        (("--days", "0"), "Give --days from 1 to 365"),
        (("--days", "366"), "Give --days from 1 to 365"),
        (("--seed", "-1"), "Give --seed as a whole number from 0"),
    ],
)
@pytest.mark.django_db
def test_simulate_traffic_rejects_bad_arguments_and_writes_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        simulate(*args)
    assert not Cardholder.objects.exists() and not Transaction.objects.exists()


@pytest.mark.django_db
def test_simulate_traffic_refuses_a_bin_of_its_own_that_exists_with_another_currency():
    BinFactory(bin="453201", currency="EUR")
    with pytest.raises(CommandError, match="BIN 453201 exists here with another currency"):
        simulate("--cardholders", "40", "--days", "1")
    assert Bin.objects.count() == 1 and not Cardholder.objects.exists()
