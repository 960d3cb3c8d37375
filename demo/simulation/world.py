"""Plan a world: everything that will happen in it, from one seeded generator, with no
database access. The same arguments give the same plan (card numbers are drawn only when
the replay issues the cards)."""

import datetime
import random
from dataclasses import dataclass

from django.utils import timezone

from demo.simulation.attacks import Attacks
from demo.simulation.authentication import authenticate
from demo.simulation.plan import DAY, Attempt, Event, Window
from demo.simulation.population import HolderPlan, plan_population
from demo.simulation.spending import Spending

FRAUD_MODES = ("natural", "showcase", "none")


@dataclass(frozen=True)
class World:
    seed: int
    start: datetime.datetime
    end: datetime.datetime
    holders: tuple[HolderPlan, ...]
    events: tuple[Event, ...]  # in time order

    @property
    def attempts(self) -> int:
        return sum(isinstance(event, Attempt) for event in self.events)


def default_end() -> datetime.datetime:
    """Now, to the minute (down)."""
    return timezone.now().replace(second=0, microsecond=0)


def plan_world(
    *,
    cardholders: int,
    days: int,
    seed: int,
    end: datetime.datetime | None = None,
    transactions: int | None = None,
    fraud: str = "natural",
    attack_rate: float = 1.0,
) -> World:
    """Plan `cardholders` people's `days` up to `end` (default: now).

    `fraud`: "natural" (attacks as often as in life, about 1% of transactions), "showcase"
    (at least one attack of every scenario, for a demo) or "none". `transactions`: exactly
    that many authorizations, ordinary purchases added or left out to get there.
    `attack_rate`: attacks that many times as often as in life (a demo's weeks show more
    fraud than a real issuer's).
    """
    if fraud not in FRAUD_MODES:
        raise ValueError(f"fraud must be one of {', '.join(FRAUD_MODES)}")
    end = end or default_end()
    window = Window(end - days * DAY, end)
    rng = random.Random(seed)  # noqa: S311 -- a simulation, reproducible by design; no secrets
    holders = plan_population(rng, cardholders, today=end.date())
    spending = Spending(rng, window)
    events: list[Event] = []
    for index, holder in enumerate(holders):
        events += spending.plan(index, holder)
    if fraud != "none":
        events += Attacks(rng, holders, window, spending).plan(showcase=fraud == "showcase", rate=attack_rate)
    if transactions is not None:
        events = _to_count(rng, events, transactions, holders, spending)
    # Last, from a generator of its own: the rest of the plan is the same with or without them.
    events = authenticate(seed, events, typos=transactions is None)
    return World(seed=seed, start=window.start, end=end, holders=tuple(holders), events=tuple(events))


def _to_count(
    rng: random.Random, events: list[Event], count: int, holders: list[HolderPlan], spending: Spending
) -> list[Event]:
    """Exactly `count` attempts: more ordinary purchases by the busier cardholders, or
    fewer, ordinary ones first (fraud goes only when nothing else is left)."""
    attempts = sum(isinstance(event, Attempt) for event in events)
    weights = [holder.habits.per_day for holder in holders]
    while attempts < count and holders:
        index = rng.choices(range(len(holders)), weights)[0]
        extra = spending.one_more(index, holders[index])[: count - attempts]
        events += extra
        attempts += len(extra)
    if attempts > count:
        order = sorted(
            (position for position, event in enumerate(events) if isinstance(event, Attempt)),
            key=lambda position: (
                events[position].truth.scenario != "everyday",
                events[position].truth.is_fraud,
            ),
        )
        ordinary = [p for p in order if events[p].truth.scenario == "everyday"]
        rng.shuffle(ordinary)
        dropped = set((ordinary + order[len(ordinary) :])[: attempts - count])
        events = [event for position, event in enumerate(events) if position not in dropped]
    return events
