"""Play a planned world through the services the API uses.

First the cardholders and their cards (cardholder_create, card_issue, card_top_up,
card_change_status), then one time-ordered stream: the planned authorizations, top-ups
and lost-card calls, and the fraud reports, filed at their planned time for the fraud that
was approved. A report is filed before any authorization with a later time is decided,
so every decision sees the labels known at its time, as the engine would in life. When a
report comes in the bank usually blocks the card and issues a replacement, crediting the
disputed amount; the cardholder's own spending moves to the new card, while the
fraudster still holds the old one. A card the engine blocks (three wrong CVVs in a row)
is replaced a day later. An in-person attempt answered 1A (verification required: a
step-up) is followed, seconds later, by what its person does when asked for the PIN
(`Attempt.step_up`: the cardholder inserts the card and types it, a thief guesses wrong
or walks away), decided and recorded like any attempt; one that would fall after the
world's end is not played.

Card numbers and CVVs live in memory only, for the decisions.
"""

import datetime
import heapq
import itertools
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction as db
from django.utils import timezone

from bins.models import Bin
from bins.services import bin_create
from cards.models import Card, Cardholder
from cards.services import IssuedCard, card_change_status, card_issue, card_top_up, cardholder_create
from cardsystem.audit import Actor
from cardsystem.exceptions import ConflictError
from demo.simulation.plan import ABSENT, DAY, MADE_UP, RIGHT, Attempt, CardNotice, TopUp
from demo.simulation.population import BIN_FIELDS, CardPlan
from demo.simulation.world import World
from transactions import authentication_facts
from transactions.codes import Decision
from transactions.models import Transaction
from transactions.services import AuthorizationRequest, authorization_decide, fraud_report_create

EVER = datetime.datetime.min.replace(tzinfo=datetime.UTC)
# Stream events per database transaction: fewer commits, and a bounded queue of
# on-commit work (the decisions' log lines).
CHUNK = 500


class CannotReplay(Exception):
    """The world cannot be played into this database; nothing was written."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One authorization played: its Transaction and what really happened."""

    transaction_id: uuid.UUID
    is_fraud: bool
    scenario: str
    attack_id: int | None
    approved: bool
    flagged: bool
    after_step_up: bool = False  # made when the terminal asked for the PIN (1A): not in the plan


@dataclass
class ReplayResult:
    outcomes: list[Outcome] = field(default_factory=list)
    cardholders: int = 0
    cards: int = 0  # issued, replacements included
    replacements: int = 0
    top_ups: int = 0
    reports: int = 0
    blocked_on_report: int = 0
    blocked_by_engine: int = 0
    reported_lost_or_stolen: int = 0

    def fraud_by_scenario(self) -> dict[str, tuple[int, int]]:
        """Fraud attempts per scenario: (attempts, approved)."""
        attempts, approved = Counter(), Counter()
        for outcome in self.outcomes:
            if outcome.is_fraud:
                attempts[outcome.scenario] += 1
                approved[outcome.scenario] += outcome.approved
        return {scenario: (n, approved[scenario]) for scenario, n in sorted(attempts.items())}


Checkpoint = tuple[datetime.datetime, Callable[[datetime.datetime], object]]


def replay_world(
    world: World,
    *,
    actor: Actor,
    progress: Callable[[], object] = lambda: None,
    checkpoints: Sequence[Checkpoint] = (),
) -> ReplayResult:
    """Create the world's people and cards, then play its stream. `progress` is called once
    per cardholder created and once per authorization decided; each checkpoint's callback
    is called with its time once everything before it was played (say, to train a model
    on the labels known then). CannotReplay, before anything is written, for a world that
    ends in the future or needs a BIN that exists here with other settings."""
    return _Replay(world, actor, progress).run(checkpoints)


@dataclass(order=True)
class _Later:
    """An event the replay itself schedules: a report, a replacement, a checkpoint."""

    at: datetime.datetime
    sequence: int
    action: Callable[[datetime.datetime], None] = field(compare=False)


class _Replay:
    def __init__(self, world: World, actor: Actor, progress: Callable[[], object]):
        self.world = world
        self.actor = actor
        self.progress = progress
        self.result = ReplayResult()
        self.bins: dict[str, Bin] = {}
        self.people: list[Cardholder] = []
        self.slots: list[list[list[tuple[datetime.datetime, IssuedCard]]]] = []  # cards, newest last
        self.later: list[_Later] = []
        self.sequence = itertools.count()

    def run(self, checkpoints: Sequence[Checkpoint]) -> ReplayResult:
        if self.world.end > timezone.now():
            raise CannotReplay("The world ends in the future: reports cannot be filed ahead of time.")
        for at, callback in checkpoints:
            self._schedule(at, callback)
        self._ensure_bins()
        holders = iter(self.world.holders)
        while batch := list(itertools.islice(holders, CHUNK)):
            with db.atomic():
                for holder in batch:
                    self._create(holder)
                    self.progress()
        stream = self._stream()
        while True:
            with db.atomic():
                played = sum(1 for _ in itertools.islice(stream, CHUNK))
            if played < CHUNK:
                return self.result

    # --- The people ---------------------------------------------------------------------------------

    def _ensure_bins(self) -> None:
        """The BINs the world's cards need, created where missing (checked first: all or none)."""
        needed = sorted({card.bin for holder in self.world.holders for card in holder.cards})
        found = Bin.objects.in_bulk(needed, field_name="bin")
        for prefix, existing in found.items():
            fields = BIN_FIELDS[prefix]
            if (existing.currency, existing.pan_length) != (fields["currency"], fields["pan_length"]):
                raise CannotReplay(f"BIN {prefix} exists here with another currency or card length.")
        for prefix in needed:
            self.bins[prefix] = found.get(prefix) or bin_create(actor=self.actor, **BIN_FIELDS[prefix])

    def _create(self, holder) -> None:
        person = cardholder_create(
            name=holder.name,
            date_of_birth=holder.date_of_birth,
            country=holder.country,
            email=holder.email,
            actor=self.actor,
        )
        self.people.append(person)
        self.result.cardholders += 1
        slots = []
        for plan in holder.cards:
            issued = self._issue(person, plan, plan.expiry_month, plan.expiry_year)
            for amount, reference in plan.top_ups:
                card_top_up(card=issued.card, amount_minor=amount, actor=self.actor, reference=reference)
                self.result.top_ups += 1
            if plan.status != Card.Status.ACTIVE:
                reason = (
                    "Cardholder reported the card lost"
                    if plan.status == "lost"
                    else ("Blocked after suspicious activity, pending a call with the cardholder")
                )
                card_change_status(card=issued.card, status=plan.status, reason=reason, actor=self.actor)
            slots.append([(EVER, issued)])
        self.slots.append(slots)

    def _issue(self, person: Cardholder, plan: CardPlan, month: int | None, year: int | None) -> IssuedCard:
        self.result.cards += 1
        return card_issue(
            bin=self.bins[plan.bin],
            cardholder=person,
            expiry_month=month,
            expiry_year=year,
            limits=dict(plan.limits) or None,
            actor=self.actor,
        )

    def _card(self, holder: int, slot: int, as_of: datetime.datetime | None = None) -> IssuedCard:
        """The card in the slot now, or the one it held at `as_of`."""
        history = self.slots[holder][slot]
        if as_of is None:
            return history[-1][1]
        return next(issued for since, issued in reversed(history) if since <= as_of)

    def _replace(self, holder: int, slot: int, old: Card, at: datetime.datetime) -> None:
        """A new card for the slot, if `old` is still the card in it, with the old card's
        balance (the old one keeps its own: no service moves a balance between cards)."""
        if self._card(holder, slot).card.pk != old.pk:
            return
        old.refresh_from_db(fields=["balance_minor"])
        plan = self.world.holders[holder].cards[slot]
        issued = self._issue(self.people[holder], plan, None, None)
        self.slots[holder][slot].append((at, issued))
        self.result.replacements += 1
        if old.balance_minor:
            self._credit(issued.card, old.balance_minor, "Balance of the replaced card")

    def _credit(self, card: Card, amount: int, reference: str) -> None:
        try:
            card_top_up(card=card, amount_minor=amount, actor=self.actor, reference=reference)
        except ValidationError:  # lost, stolen or closed: takes no money
            return
        self.result.top_ups += 1

    # --- The stream ---------------------------------------------------------------------------------

    def _stream(self) -> Iterator[None]:
        """The planned events and the scheduled ones, merged in time order; the scheduled
        first at equal times (a report filed at 10:00 counts for a decision at 10:00)."""
        planned = iter(self.world.events)
        following = next(planned, None)
        while following is not None or self.later:
            if self.later and (following is None or self.later[0].at <= following.at):
                event = heapq.heappop(self.later)
                event.action(event.at)
            else:
                self._play(following)
                following = next(planned, None)
            yield

    def _schedule(self, at: datetime.datetime, action: Callable[[datetime.datetime], object]) -> None:
        heapq.heappush(self.later, _Later(at, next(self.sequence), action))

    def _play(self, event) -> None:
        if isinstance(event, Attempt):
            self._decide(event)
        elif isinstance(event, TopUp):
            self._credit(self._card(event.holder, event.slot).card, event.amount_minor, event.reference)
        elif isinstance(event, CardNotice):
            self._notice(event)

    def _decide(self, attempt: Attempt, *, after_step_up: bool = False) -> None:
        decided = authorization_decide(request=self._request(attempt))
        approved = decided.status == Transaction.Status.APPROVED
        truth = attempt.truth
        self.result.outcomes.append(
            Outcome(
                decided.pk,
                truth.is_fraud,
                truth.scenario,
                truth.attack_id,
                approved,
                decided.flagged,
                after_step_up,
            )
        )
        self.progress()
        if approved and attempt.dispute and attempt.dispute.at <= self.world.end:
            self._schedule(attempt.dispute.at, lambda at: self._report(at, attempt, decided))
        if decided.reason == Decision.VERIFICATION_REQUIRED.reason:
            for retry in attempt.step_up:
                if retry.at <= self.world.end:
                    self._schedule(retry.at, lambda at, retry=retry: self._decide(retry, after_step_up=True))
        if decided.reason == Decision.CVV_MISMATCH.reason and decided.card is not None:
            card = decided.card
            card.refresh_from_db(fields=["status"])
            if card.status == Card.Status.BLOCKED:  # the engine blocked it; a new card tomorrow
                self.result.blocked_by_engine += 1
                self._schedule(
                    attempt.at + DAY, lambda at: self._replace(attempt.holder, attempt.slot, card, at)
                )

    def _request(self, attempt: Attempt) -> AuthorizationRequest:
        if attempt.holder == MADE_UP:
            pan, cvv = attempt.made_up_pan, None
            month, year = attempt.at.month, attempt.at.year + 2
        else:
            issued = self._card(attempt.holder, attempt.slot, attempt.compromised_at)
            pan, month, year = issued.pan, issued.card.expiry_month, issued.card.expiry_year
            cvv = None if attempt.cvv == ABSENT else issued.cvv
            if attempt.cvv not in (ABSENT, RIGHT):
                cvv = _mistyped(issued.cvv, attempt.cvv_twist)
        merchant = attempt.merchant
        # As the API reads them: the device as its keyed hash.
        facts = authentication_facts.from_request(
            {
                name: value
                for name, value in (
                    ("entry_mode", attempt.entry_mode),
                    ("cardholder_verification", attempt.verification),
                    ("three_ds", attempt.three_ds),
                    ("device_id", attempt.device),
                )
                if value
            }
        )
        return AuthorizationRequest(
            card_number=pan,
            expiry_month=month,
            expiry_year=year,
            cvv=cvv,
            amount_minor=attempt.amount_minor,
            currency=attempt.currency,
            merchant_id=merchant.id,
            merchant_name=merchant.name,
            mcc=merchant.mcc,
            merchant_country=merchant.country,
            channel=merchant.channel,
            transaction_time=attempt.at,
            **facts,
        )

    def _report(self, at: datetime.datetime, attempt: Attempt, decided: Transaction) -> None:
        dispute = attempt.dispute
        fraud_report_create(transaction=decided, reason=dispute.reason, actor=self.actor, reported_at=at)
        self.result.reports += 1
        card = decided.card
        if dispute.block:
            card.refresh_from_db(fields=["status"])
            if card.status == Card.Status.ACTIVE:
                reason = "Fraud reported by the cardholder; a new card is on its way."
                card_change_status(card=card, status=Card.Status.BLOCKED, reason=reason, actor=self.actor)
                self.result.blocked_on_report += 1
            self._replace(attempt.holder, attempt.slot, card, at)
        self._credit(self._card(attempt.holder, attempt.slot).card, decided.amount_minor, "Dispute credit")

    def _notice(self, notice: CardNotice) -> None:
        card = self._card(notice.holder, notice.slot, notice.compromised_at).card
        try:
            card_change_status(card=card, status=notice.status, reason=notice.reason, actor=self.actor)
        except ConflictError:  # already lost, stolen or closed
            return
        self.result.reported_lost_or_stolen += 1
        self._replace(notice.holder, notice.slot, card, notice.at)


def _mistyped(cvv: str, twist: int) -> str:
    """The CVV with one digit off (see spending.twist)."""
    position, change = (twist // 10) % len(cvv), twist % 10
    digit = (int(cvv[position]) + change) % 10
    return cvv[:position] + str(digit) + cvv[position + 1 :]
