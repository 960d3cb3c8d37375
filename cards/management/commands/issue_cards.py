import contextlib
import csv
import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from bins.models import Bin
from cards.services import IssuedCard, card_issue_bulk
from cardsystem.audit import Actor
from cardsystem.management.errors import command_error
from cardsystem.progress import Progress, progress_bar

MAX_COUNT = 100_000
COLUMNS = ("card_id", "pan", "cvv", "expiry_month", "expiry_year", "bin")
WARNING = "mode 0600: cleartext card data, hand to the manufacturer and destroy"


class Command(BaseCommand):
    help = (
        "Issue COUNT inactive, unassigned cards on a BIN (stock for the card manufacturer) and write them "
        f"to a new CSV file ({', '.join(COLUMNS)}), created with mode 0600 and never overwritten. "
        "The file holds cleartext PANs and CVVs, the only place they are ever written: hand it to the "
        "manufacturer over a secure channel, then destroy it. All or nothing: if the file cannot be "
        "written, no card is issued."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--bin", required=True, dest="bin_number", metavar="BIN", help="The BIN to issue on."
        )
        parser.add_argument("--count", required=True, type=int, help=f"How many cards, 1 to {MAX_COUNT}.")
        parser.add_argument(
            "--output", required=True, type=Path, help="The CSV file to create; it must not exist yet."
        )

    def handle(self, *args, bin_number, count, output, **options):
        if not 1 <= count <= MAX_COUNT:
            raise CommandError(f"Give a --count from 1 to {MAX_COUNT}.")
        bin = Bin.objects.filter(bin=bin_number).first()
        if bin is None:
            raise CommandError(f"No BIN {bin_number!r}: see the BINs in the admin or GET /api/v1/bins/.")
        try:
            # O_EXCL: never overwrite (nor follow a planted symlink); 0600 from the first byte.
            fd = os.open(output, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            raise CommandError(f"{output} already exists: refusing to overwrite it.") from None
        except OSError as error:
            raise CommandError(f"Cannot create {output}: {error.strerror}.") from None
        file = os.fdopen(fd, "w", newline="", encoding="utf-8")
        progress = progress_bar(total=count, desc="Issuing", unit="card", stream=self.stderr)
        try:
            card_issue_bulk(
                bin=bin,
                count=count,
                actor=Actor.system("manage.py issue_cards"),
                on_issued=_CardWriter(file, count, progress),
                source=str(output),
            )
        except BaseException as error:
            # The service rolled back: no card was issued, so no file of them may remain.
            progress.close()
            with contextlib.suppress(OSError):
                file.close()
            output.unlink(missing_ok=True)
            if isinstance(error, ValidationError):
                raise command_error(error) from error
            if isinstance(error, OSError):
                raise CommandError(f"Cannot write {output}: {error.strerror}. No card was issued.") from error
            raise
        progress.close()
        file.close()
        self.stdout.write(f"Issued {count} cards on BIN {bin.bin} to {output} ({WARNING}).")


class _CardWriter:
    """Writes each issued card as it comes, inside the issuing transaction."""

    def __init__(self, file, count: int, progress: Progress):
        self.file = file
        self.count = count
        self.progress = progress
        self.written = 0
        self.writer = csv.writer(file)
        self.writer.writerow(COLUMNS)

    def __call__(self, issued: IssuedCard) -> None:
        card = issued.card
        self.writer.writerow(
            [card.pk, issued.pan, issued.cvv, card.expiry_month, card.expiry_year, card.bin.bin]
        )
        self.written += 1
        self.progress.update()
        if self.written == self.count:
            # On disk before the cards commit: a full disk must fail here, while the
            # service can still roll back, not at close() after the commit.
            self.file.flush()
            os.fsync(self.file.fileno())
