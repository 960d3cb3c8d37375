import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cards.management.demo_data import DEMO_BINS, DatabaseNotEmpty, seed_demo_data
from cardsystem.audit import Actor

MAX_CARDHOLDERS = 100_000


class Command(BaseCommand):
    help = (
        f"Fill an empty database with demo data through the services: {len(DEMO_BINS)} BINs of different "
        "networks, countries and currencies, cardholders with one or two cards each, balances, limits and "
        "a few blocked or lost cards. Reproducible with --seed. Idempotent: does nothing when the demo "
        "data is already there; refuses a database that holds other data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--cardholders", type=int, default=300, help="How many cardholders (default 300)."
        )
        parser.add_argument("--seed", type=int, default=42, help="Seed of the random choices (default 42).")

    def handle(self, *args, cardholders, seed, **options):
        if not 1 <= cardholders <= MAX_CARDHOLDERS:
            raise CommandError(f"Give --cardholders from 1 to {MAX_CARDHOLDERS}.")
        try:
            with tqdm(
                total=cardholders, file=sys.stderr, disable=None, unit="cardholder", desc="Seeding"
            ) as bar:
                summary = seed_demo_data(
                    cardholders=cardholders,
                    seed=seed,
                    actor=Actor.system("manage.py seed_demo"),
                    progress=bar.update,
                )
        except DatabaseNotEmpty as error:
            raise CommandError(str(error)) from error
        if summary is None:
            self.stdout.write("Demo data already present; nothing to do.")
            return
        self.stdout.write(
            f"Seeded demo data: {summary.bins} BINs, {summary.cardholders} cardholders, "
            f"{summary.cards} cards ({summary.blocked} blocked, {summary.lost} lost), "
            f"{summary.top_ups} top-ups."
        )
