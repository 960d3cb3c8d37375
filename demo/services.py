"""Believable demo data for a local trial, written through the same services as real data.

The issuer's BINs, then a simulated day (demo/simulation): cardholders with one or two
cards, balances, limits and a few blocked or lost cards, and a day of authorizations
decided by the fraud engine, fraud among them from 100 transactions on. Deterministic for
a seed (relative to the minute of seeding); only the card numbers differ between runs,
since the issuing service draws them from `secrets`, as it must.

It lives in the demo app, above every other: the day goes through `transactions` and the
fraud engine, and no app that decides may depend on the tools that exercise it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count

from bins.models import Bin
from bins.services import bin_create
from cards.models import Card, Cardholder
from cardsystem.audit import Actor
from demo.simulation import plan_world, replay_world
from demo.simulation.population import BINS
from fraud.models import FraudAlert
from transactions.models import Transaction

# Below this many transactions the day is ordinary spending only.
FRAUD_MINIMUM = 100


class DatabaseNotEmpty(Exception):
    """The database holds data that is not the demo's; nothing was written."""


@dataclass(frozen=True)
class DemoSummary:
    bins: int
    cardholders: int
    cards: int
    top_ups: int
    blocked: int
    lost: int
    transactions: dict[str, int]  # by reason ("approved", "insufficient_funds", ...)
    flagged: int
    alerts: int
    blocked_by_engine: int
    fraud_reports: int


def seed_demo_data(
    *,
    cardholders: int,
    transactions: int,
    seed: int,
    actor: Actor,
    progress: Callable[[], object] = lambda: None,
) -> DemoSummary | None:
    """Fill an empty database with the demo BINs and a simulated day of `cardholders` and
    exactly `transactions` authorizations, all or nothing. Returns None, writing nothing,
    when the demo data is already there; raises DatabaseNotEmpty when other data is.
    `progress` is called once per cardholder and once per authorization."""
    with transaction.atomic():
        if Bin.objects.filter(bin__in=[fields["bin"] for fields in BINS]).exists():
            return None
        if (
            Bin.objects.exists()
            or Cardholder.objects.exists()
            or Card.objects.exists()
            or Transaction.objects.exists()
        ):
            raise DatabaseNotEmpty(
                "The database already holds BINs, cardholders, cards or transactions; demo data goes "
                "only into an empty one. Nothing was written."
            )
        bins = [bin_create(actor=actor, **fields) for fields in BINS]
        world = plan_world(
            cardholders=cardholders,
            days=1,
            seed=seed,
            transactions=transactions,
            fraud="showcase" if transactions >= FRAUD_MINIMUM else "none",
        )
        played = replay_world(world, actor=actor, progress=progress)
        by_reason = dict(
            Transaction.objects.values_list("reason").annotate(n=Count("pk")).order_by("-n", "reason")
        )
        flagged = Transaction.objects.filter(flagged=True).count()
        alerts = FraudAlert.objects.count()
    statuses = [card.status for holder in world.holders for card in holder.cards]
    return DemoSummary(
        bins=len(bins),
        cardholders=played.cardholders,
        cards=played.cards,
        top_ups=played.top_ups,
        blocked=statuses.count("blocked"),
        lost=statuses.count("lost"),
        transactions=by_reason,
        flagged=flagged,
        alerts=alerts,
        blocked_by_engine=played.blocked_by_engine,
        fraud_reports=played.reports,
    )
