from django.core.management.base import BaseCommand, CommandError

from cardsystem.audit import Actor
from cardsystem.progress import progress_bar
from demo.services import decisions_to_their_file_only
from demo.simulation import SCENARIOS, CannotReplay, ReplayResult, World, plan_world, replay_world

MAX_CARDHOLDERS = 100_000
MAX_DAYS = 365


class Command(BaseCommand):
    help = (
        "Add a simulated world to the database through the services the API uses: cardholders "
        "with their own habits and cards, their days of spending (travel, sprees, CVV typos "
        "included) and fraud (card testing, lost and stolen cards, a skimmed terminal's cloned "
        "cards, card details used abroad, CVV guessing, account takeover), each authorization "
        "decided by the fraud engine, and fraud reports filed days after the fraud. The world "
        "ends now; the same --seed plans the same world."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--cardholders", type=int, default=100, help="How many cardholders (default 100)."
        )
        parser.add_argument("--days", type=int, default=30, help="How many days up to now (default 30).")
        parser.add_argument("--seed", type=int, default=1, help="Seed of the random choices (default 1).")

    def handle(self, *args, cardholders, days, seed, **options):
        if not 1 <= cardholders <= MAX_CARDHOLDERS:
            raise CommandError(f"Give --cardholders from 1 to {MAX_CARDHOLDERS}.")
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"Give --days from 1 to {MAX_DAYS}.")
        if seed < 0:
            raise CommandError("Give --seed as a whole number from 0.")
        world = plan_world(cardholders=cardholders, days=days, seed=seed)
        total = len(world.holders) + world.attempts
        try:
            with (
                decisions_to_their_file_only(),
                progress_bar(total=total, desc="Simulating", stream=self.stderr) as bar,
            ):
                result = replay_world(
                    world, actor=Actor.system("manage.py simulate_traffic"), progress=bar.update
                )
        except CannotReplay as error:
            raise CommandError(str(error)) from error
        self.stdout.write(_describe(world, result))


def _describe(world: World, result: ReplayResult) -> str:
    outcomes = result.outcomes
    approved = sum(outcome.approved for outcome in outcomes)
    fraud = result.fraud_by_scenario()
    fraud_attempts = sum(n for n, _ in fraud.values())
    fraud_approved = sum(ok for _, ok in fraud.values())
    by_scenario = ", ".join(
        f"{scenario} {fraud[scenario][0]} (approved {fraud[scenario][1]})"
        for scenario in SCENARIOS
        if scenario in fraud
    )
    span = f"{world.start:%Y-%m-%d %H:%M} to {world.end:%Y-%m-%d %H:%M} UTC"
    return "\n".join(
        [
            f"Simulated world (seed {world.seed}), {span}",
            f"  cardholders: {result.cardholders}, cards: {result.cards} "
            f"(replacements: {result.replacements}), top-ups: {result.top_ups}",
            f"  transactions: {len(outcomes)}, approved: {approved}, declined: {len(outcomes) - approved}",
            f"  fraud transactions: {fraud_attempts} (approved: {fraud_approved})"
            + (f"; by scenario: {by_scenario}" if by_scenario else ""),
            f"  fraud reports filed: {result.reports}; cards blocked on a report: "
            f"{result.blocked_on_report}, by the fraud engine: {result.blocked_by_engine}; "
            f"reported lost or stolen: {result.reported_lost_or_stolen}",
            f"  fraud alerts: {sum(outcome.flagged for outcome in outcomes)}",
        ]
    )
