import datetime

from django.core.management.base import BaseCommand, CommandError

from transactions.services.minute_counts import MIN_KEEP, minute_counts_prune


class Command(BaseCommand):
    help = (
        "Delete the per-minute transaction counts of merchants and BINs older than --days (the "
        "windows across cards read at most a day back). Meant to run daily."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=MIN_KEEP.days,
            help=f"Days of counts to keep (default and least {MIN_KEEP.days}).",
        )

    def handle(self, *args, **options):
        if options["days"] < MIN_KEEP.days:
            raise CommandError(
                f"--days: must be at least {MIN_KEEP.days}, the longest window and a day more."
            )
        deleted = minute_counts_prune(keep=datetime.timedelta(days=options["days"]))
        self.stdout.write(f"Deleted {deleted} minute count(s) older than {options['days']} days.")
