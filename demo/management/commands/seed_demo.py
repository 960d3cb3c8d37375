from django.core.management.base import BaseCommand, CommandError

from cardsystem.audit import Actor
from cardsystem.progress import progress_bar
from demo.services import (
    ATTACK_RATE,
    MODEL_LABEL_DELAY,
    MODEL_SCORES_FOR,
    DatabaseNotEmpty,
    DemoSummary,
    decisions_to_their_file_only,
    demo_data_present,
    demo_world,
    seed_demo_data,
)
from demo.simulation.population import BINS

MAX_CARDHOLDERS = 100_000
MAX_DAYS = 365
ALREADY_THERE = "Demo data already present; nothing to do."


class Command(BaseCommand):
    help = (
        f"Fill an empty database with demo data through the services: {len(BINS)} BINs of different "
        "networks, countries and currencies, then simulated weeks up to now (as simulate_traffic makes): "
        "cardholders with one or two cards each, balances, limits, a few blocked or lost cards, "
        "authorizations decided by the fraud engine (ordinary spending, travel, CVV typos, and every kind "
        f"of fraud the simulator knows, {ATTACK_RATE:g} times as often as in life) and the cardholders' "
        f"fraud reports. {MODEL_SCORES_FOR.days} days before the end a fraud model is trained on the "
        "history and activated, so the last days are scored by rules and model together. Reproducible "
        "with --seed. Idempotent: does nothing when the demo data is already there; refuses a database "
        "that holds other data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--cardholders", type=int, default=200, help="How many cardholders (default 200)."
        )
        parser.add_argument(
            "--days",
            type=int,
            default=28,
            help="How many days of history up to now (default 28; a model needs more than "
            f"{(MODEL_SCORES_FOR + MODEL_LABEL_DELAY).days}).",
        )
        parser.add_argument("--seed", type=int, default=42, help="Seed of the random choices (default 42).")

    def handle(self, *args, cardholders, days, seed, **options):
        if not 1 <= cardholders <= MAX_CARDHOLDERS:
            raise CommandError(f"Give --cardholders from 1 to {MAX_CARDHOLDERS}.")
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"Give --days from 1 to {MAX_DAYS}.")
        if seed < 0:
            raise CommandError("Give --seed as a whole number from 0.")
        if demo_data_present():  # checked again by the service, in its transaction
            self.stdout.write(ALREADY_THERE)
            return
        world = demo_world(cardholders=cardholders, days=days, seed=seed)
        total = len(world.holders) + world.attempts
        try:
            with (
                decisions_to_their_file_only(),
                progress_bar(total=total, desc="Seeding", stream=self.stderr) as bar,
            ):
                summary = seed_demo_data(
                    world=world, actor=Actor.system("manage.py seed_demo"), progress=bar.update
                )
        except DatabaseNotEmpty as error:
            raise CommandError(str(error)) from error
        self.stdout.write(ALREADY_THERE if summary is None else describe(summary))


def describe(summary: DemoSummary) -> str:
    total = sum(summary.transactions.values())
    approved = summary.transactions.get("approved", 0)
    declines = ", ".join(
        f"{n} {reason}" for reason, n in summary.transactions.items() if reason != "approved"
    )
    lines = [
        f"Seeded demo data: {summary.bins} BINs, {summary.cardholders} cardholders, "
        f"{summary.cards} cards ({summary.blocked} blocked, {summary.lost} lost), {summary.top_ups} top-ups.",
        f"{total} transactions over the last {summary.days} days: {approved} approved, "
        f"{total - approved} declined" + (f" ({declines})" if declines else "") + ".",
        f"{summary.flagged} flagged; {_count(summary.open_alerts, 'open fraud alert')} in "
        f"{_count(summary.open_cases, 'open case')} ({summary.resolved_cases} older ones resolved by "
        f"analysts); {_count(summary.blocked_by_engine, 'card')} blocked "
        f"by the fraud engine; {_count(summary.fraud_reports, 'fraud report')}.",
    ]
    model = summary.model
    if model is None:
        lines.append(f"No fraud model ({summary.no_model_because}): the rules alone decide.")
    else:
        meta = model.metadata
        lines.append(
            f"Fraud model v{model.version} active, trained on {meta['rows']} transactions "
            f"({meta['frauds']} confirmed frauds) known {MODEL_SCORES_FOR.days} days ago, "
            f"ROC AUC {meta['holdout']['roc_auc']:.3f} on the latest fifth."
        )
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
