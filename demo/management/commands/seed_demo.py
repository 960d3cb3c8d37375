import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cardsystem.audit import Actor
from demo.services import (
    FRAUD_MINIMUM,
    DatabaseNotEmpty,
    DemoSummary,
    decisions_to_their_file_only,
    seed_demo_data,
)
from demo.simulation.population import BINS

MAX_CARDHOLDERS = 100_000
MAX_TRANSACTIONS = 1_000_000


class Command(BaseCommand):
    help = (
        f"Fill an empty database with demo data through the services: {len(BINS)} BINs of different "
        "networks, countries and currencies, then a simulated day (as simulate_traffic makes): "
        "cardholders with one or two cards each, balances, limits, a few blocked or lost cards, and "
        "authorizations decided by the fraud engine (ordinary spending, travel, CVV typos and, from "
        f"{FRAUD_MINIMUM} transactions on, every kind of fraud the simulator knows, with the reports "
        "due within the day). Reproducible with --seed. Idempotent: does nothing when the demo data "
        "is already there; refuses a database that holds other data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--cardholders", type=int, default=300, help="How many cardholders (default 300)."
        )
        parser.add_argument(
            "--transactions",
            type=int,
            default=1500,
            help=f"How many authorizations in the last 24 hours (default 1500; fraud from {FRAUD_MINIMUM}).",
        )
        parser.add_argument("--seed", type=int, default=42, help="Seed of the random choices (default 42).")

    def handle(self, *args, cardholders, transactions, seed, **options):
        if not 1 <= cardholders <= MAX_CARDHOLDERS:
            raise CommandError(f"Give --cardholders from 1 to {MAX_CARDHOLDERS}.")
        if not 0 <= transactions <= MAX_TRANSACTIONS:
            raise CommandError(f"Give --transactions from 0 to {MAX_TRANSACTIONS}.")
        try:
            with (
                decisions_to_their_file_only(),
                tqdm(
                    total=cardholders + transactions,
                    file=sys.stderr,
                    disable=None,
                    unit="step",
                    desc="Seeding",
                ) as bar,
            ):
                summary = seed_demo_data(
                    cardholders=cardholders,
                    transactions=transactions,
                    seed=seed,
                    actor=Actor.system("manage.py seed_demo"),
                    progress=bar.update,
                )
        except DatabaseNotEmpty as error:
            raise CommandError(str(error)) from error
        if summary is None:
            self.stdout.write("Demo data already present; nothing to do.")
            return
        self.stdout.write(_describe(summary))


def _describe(summary: DemoSummary) -> str:
    total = sum(summary.transactions.values())
    approved = summary.transactions.get("approved", 0)
    declines = ", ".join(
        f"{n} {reason}" for reason, n in summary.transactions.items() if reason != "approved"
    )
    return (
        f"Seeded demo data: {summary.bins} BINs, {summary.cardholders} cardholders, "
        f"{summary.cards} cards ({summary.blocked} blocked, {summary.lost} lost), "
        f"{summary.top_ups} top-ups; {total} transactions over the last 24 hours: {approved} approved, "
        f"{total - approved} declined" + (f" ({declines})" if declines else "") + "; "
        f"{summary.flagged} flagged with {_count(summary.alerts, 'fraud alert')}, "
        f"{_count(summary.blocked_by_engine, 'card')} blocked by the fraud engine, "
        f"{_count(summary.fraud_reports, 'fraud report')}."
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
