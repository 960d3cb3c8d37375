from django.core.management.base import BaseCommand, CommandError

from fraud.performance_counts import refresh_recent


class Command(BaseCommand):
    help = (
        "Count into the performance rollup the complete days of the last --days that were never "
        "counted, were marked by a fraud report since, or hold transactions stored since (and any "
        "older marked day). Meant to run every few minutes; the rule performance page then reads "
        "whole days from the rollup."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=31, help="How many complete days back (default 31).")

    def handle(self, *args, **options):
        if options["days"] < 1:
            raise CommandError("--days: must be at least 1.")
        days, counted, left = refresh_recent(days=options["days"])
        self.stdout.write(
            f"Counted {len(counted)} day(s) into the performance rollup; {len(days)} checked"
            + (f", {len(left)} left to a concurrent count." if left else ".")
        )
