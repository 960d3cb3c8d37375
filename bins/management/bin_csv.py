"""Reading a CSV file of BINs into rows for bins.services.bin_import.

Only the file's shape is checked here (readable UTF-8, known columns, one value per
column); every value goes to the service, which validates all of them, so a value is
judged the same way here as in the API and the admin.
"""

import csv
import io
from pathlib import Path

REQUIRED_COLUMNS = ("bin", "network", "issuer_name", "card_type", "country", "currency")
OPTIONAL_COLUMNS = ("pan_length", "is_active")
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class BinCsvError(Exception):
    """The file cannot be read as a BIN table; the message is safe to show."""


def read_bin_rows(path: Path) -> list[tuple[str, dict]]:
    """[("line 2", {field: value}), ...] for every non-blank row of the file."""
    try:
        # utf-8-sig: spreadsheets often start their CSV exports with a byte order mark.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BinCsvError(f"No such file: {path}.") from None
    except UnicodeDecodeError:
        raise BinCsvError(f"{path} is not UTF-8 text.") from None
    except OSError as error:
        raise BinCsvError(f"Cannot read {path}: {error.strerror or error}.") from None
    if "\x00" in text:
        # PostgreSQL cannot store NUL characters; a CSV never holds one.
        raise BinCsvError(f"{path} holds NUL characters: not a CSV text file.")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(name.strip() for name in header):
            raise BinCsvError(f"{path} is empty: expected a header line, then one BIN per line.")
        columns = _columns(header)
        rows = []
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            label = f"line {reader.line_num}"
            if len(values) > len(columns):
                raise BinCsvError(f"{label}: {len(values)} values for {len(columns)} columns.")
            fields = dict(zip(columns, (value.strip() for value in values), strict=False))
            rows.append((label, _typed(fields)))
    except csv.Error as error:
        raise BinCsvError(f"line {reader.line_num}: {error}.") from None
    if not rows:
        raise BinCsvError(f"{path} holds no BINs: expected one per line after the header.")
    return rows


def _columns(header: list[str]) -> list[str]:
    columns = [name.strip().lower() for name in header]
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    problems = []
    if missing := [name for name in REQUIRED_COLUMNS if name not in columns]:
        problems.append(f"missing required columns: {', '.join(missing)}")
    if unknown := [name for name in columns if name not in known]:
        problems.append(f"unknown columns: {', '.join(repr(name) for name in unknown)}")
    if repeated := sorted({name for name in columns if columns.count(name) > 1}):
        problems.append(f"repeated columns: {', '.join(repeated)}")
    if problems:
        expected = f"{', '.join(REQUIRED_COLUMNS)}, optionally {' and '.join(OPTIONAL_COLUMNS)}"
        raise BinCsvError(f"Header line: {'; '.join(problems)} (expected {expected}).")
    return columns


def _typed(fields: dict[str, str]) -> dict:
    """Normalise codes' case and convert the optional columns. A value that does not
    convert is passed on as written, for the service to reject by name."""
    for name in ("network", "card_type"):
        fields[name] = fields.get(name, "").lower()
    for name in ("country", "currency"):
        fields[name] = fields.get(name, "").upper()
    # An empty optional value takes the model's default (16 digits, active).
    for name in OPTIONAL_COLUMNS:
        if fields.get(name) == "":
            del fields[name]
    if fields.get("pan_length", "").isdigit():
        fields["pan_length"] = int(fields["pan_length"])
    if "is_active" in fields:
        fields["is_active"] = BOOLEANS.get(fields["is_active"].lower(), fields["is_active"])
    return fields
