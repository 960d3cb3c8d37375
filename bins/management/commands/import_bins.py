from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize

from bins.management.bin_csv import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, BinCsvError, read_bin_rows
from bins.services import BinImportError, bin_import
from cardsystem.audit import Actor
from cardsystem.management.errors import error_lines


class Command(BaseCommand):
    help = (
        f"Import BINs from a UTF-8 CSV file with the header {','.join(REQUIRED_COLUMNS)} and optionally "
        f"{' and '.join(OPTIONAL_COLUMNS)} (12-19, default 16; true/false/1/0/yes/no, default true). "
        "All or nothing: if any row is invalid, every problem is listed by line and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file to import.")

    def handle(self, *args, file, **options):
        try:
            rows = read_bin_rows(file)
            created = bin_import(rows=rows, actor=Actor.system("manage.py import_bins"), source=str(file))
        except BinCsvError as error:
            raise CommandError(str(error)) from error
        except BinImportError as error:
            for label, fields in error.errors.items():
                for line in error_lines(fields):
                    self.stderr.write(f"{label}: {line}")
            raise CommandError(
                f"Nothing was imported: errors in {len(error.errors)} of {len(rows)} rows (listed above)."
            ) from error
        self.stdout.write(f"Imported {len(created)} BIN{pluralize(len(created))}.")
