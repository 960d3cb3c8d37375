import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from bins.models import Bin
from cardsystem.models import AuditLog
from tests.factories import BinFactory

pytestmark = pytest.mark.django_db

HEADER = "bin,network,issuer_name,card_type,country,currency,pan_length,is_active"
GOOD_ROWS = [
    "453201,visa,Liberty National Bank,debit,US,USD,16,true",
    "22213400,mastercard,Thames & Harbour Bank,credit,GB,GBP,,",
    "374245,amex,Meridian Charge Company,credit,US,USD,15,no",
]


def write_csv(tmp_path, *lines, name="bins.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def run(path, stderr=None):
    stdout = StringIO()
    call_command("import_bins", path, stdout=stdout, stderr=stderr or StringIO())
    return stdout.getvalue()


def counts():
    return Bin.objects.count(), AuditLog.objects.count()


def test_import_bins_imports_every_row_of_a_good_file(tmp_path):
    out = run(write_csv(tmp_path, HEADER, *GOOD_ROWS))
    assert out == "Imported 3 BINs.\n"
    visa, mastercard, amex = (Bin.objects.get(bin=number) for number in ("453201", "22213400", "374245"))
    assert (visa.network, visa.country.code, visa.currency, visa.is_active) == ("visa", "US", "USD", True)
    assert (mastercard.card_type, mastercard.pan_length, mastercard.is_active) == ("credit", 16, True)
    assert (amex.pan_length, amex.is_active) == (15, False)


def test_import_bins_is_audited_once_as_the_command(tmp_path):
    path = write_csv(tmp_path, HEADER, *GOOD_ROWS)
    run(path)
    entry = AuditLog.objects.get()
    assert entry.action == AuditLog.Action.BINS_IMPORTED
    assert entry.actor_label == "manage.py import_bins"
    assert entry.details == {"count": 3, "bins": ["453201", "22213400", "374245"]}
    assert entry.target_label == str(path)


def test_import_bins_takes_the_defaults_when_the_optional_columns_are_absent(tmp_path):
    run(
        write_csv(
            tmp_path, "bin,network,issuer_name,card_type,country,currency", "453201,visa,B,debit,US,USD"
        )
    )
    imported = Bin.objects.get()
    assert (imported.pan_length, imported.is_active) == (16, True)


def test_import_bins_accepts_a_byte_order_mark_spaces_and_codes_in_any_case(tmp_path):
    path = write_csv(
        tmp_path, "\ufeff" + HEADER.upper(), " 453201 , Visa , Liberty Bank , DEBIT , us , usd , 16 , "
    )
    assert run(path) == "Imported 1 BIN.\n"
    imported = Bin.objects.get()
    assert (imported.network, imported.card_type, imported.country.code, imported.currency) == (
        "visa",
        "debit",
        "US",
        "USD",
    )
    assert imported.issuer_name == "Liberty Bank"


@pytest.mark.parametrize(
    ("written", "is_active"),
    [
        ("true", True),
        ("1", True),
        ("yes", True),
        ("YES", True),
        ("false", False),
        ("0", False),
        ("no", False),
    ],
)
def test_import_bins_reads_is_active_as_true_false_1_0_yes_or_no(tmp_path, written, is_active):
    run(write_csv(tmp_path, HEADER, f"453201,visa,Liberty Bank,debit,US,USD,16,{written}"))
    assert Bin.objects.get().is_active is is_active


@pytest.mark.parametrize(
    ("bad_row", "report"),
    [
        (
            "512345,visa,Wrong Network Bank,debit,US,USD,16,true",
            "line 3: network: BIN 512345 belongs to Mastercard, not Visa.",
        ),
        ("453201,visa,Twice Bank,debit,US,USD,16,true", "line 3: bin: Duplicate of line 2 in this file."),
        ("455555,visa,Old Bank,debit,US,USD,16,true", "line 3: bin: BIN with this BIN already exists."),
        ("45320,visa,Short Bank,debit,US,USD,16,true", "line 3: bin: A BIN is 6 or 8 digits."),
        (
            "453202,visa,Nowhere Bank,debit,XX,USD,16,true",
            "line 3: country: Value 'XX' is not a valid choice.",
        ),
        ("453202,visa,Odd Money Bank,debit,US,ZZZ,16,true", "line 3: currency: Unknown currency 'ZZZ'"),
        (
            "453202,visa,Long Bank,debit,US,USD,20,true",
            "line 3: pan_length: Ensure this value is less than or",
        ),
        ("453202,visa,Word Bank,debit,US,USD,sixteen,true", "line 3: pan_length: “sixteen” value must be an"),
        (
            "374246,amex,Amex Bank,credit,US,USD,16,true",
            "line 3: pan_length: American Express PANs are 15 digits",
        ),
        ("453202,visa,Maybe Bank,debit,US,USD,16,maybe", "line 3: is_active: “maybe” value must be either"),
        (
            "453202,visa,Plastic Bank,gold,US,USD,16,true",
            "line 3: card_type: Value 'gold' is not a valid choice.",
        ),
        ("453202,visa,,debit,US,USD,16,true", "line 3: issuer_name: This field cannot be blank."),
        ("453202,visa,Short Row Bank,debit,US", "line 3: currency: This field cannot be blank."),
    ],
)
def test_import_bins_imports_nothing_when_one_row_is_bad_and_names_its_line_and_field(
    tmp_path, bad_row, report
):
    BinFactory(bin="455555")
    before = counts()
    path = write_csv(tmp_path, HEADER, GOOD_ROWS[0], bad_row, *GOOD_ROWS[1:])
    stderr = StringIO()
    with pytest.raises(CommandError, match=re.escape("Nothing was imported: errors in 1 of 4 rows")):
        run(path, stderr)
    lines = stderr.getvalue().splitlines()
    assert any(line.startswith(report) for line in lines)
    assert all(line.startswith("line 3: ") for line in lines)
    assert counts() == before


def test_import_bins_reports_every_bad_row(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER,
        "512345,visa,Wrong Network Bank,debit,US,USD,16,true",
        GOOD_ROWS[0],
        "453299,visa,Nowhere Bank,debit,XX,ZZZ,16,true",
    )
    stderr = StringIO()
    with pytest.raises(CommandError, match=re.escape("errors in 2 of 3 rows")):
        run(path, stderr)
    assert stderr.getvalue().splitlines() == [
        "line 2: network: BIN 512345 belongs to Mastercard, not Visa.",
        "line 4: country: Value 'XX' is not a valid choice.",
        "line 4: currency: Unknown currency 'ZZZ': use an ISO 4217 code such as USD.",
    ]
    assert not Bin.objects.exists()


@pytest.mark.parametrize(
    ("lines", "encoding", "message"),
    [
        ([], "utf-8", "is empty"),
        ([HEADER], "utf-8", "holds no BINs"),
        ([HEADER, "", "  ,  ,,"], "utf-8", "holds no BINs"),
        (
            ["bin,network,issuer_name,card_type", "453201,visa,B,debit"],
            "utf-8",
            "missing required columns: country",
        ),
        ([HEADER + ",colour", GOOD_ROWS[0] + ",blue"], "utf-8", "unknown columns: 'colour'"),
        ([HEADER + ",bin", GOOD_ROWS[0] + ",453201"], "utf-8", "repeated columns: bin"),
        ([HEADER, GOOD_ROWS[0] + ",extra"], "utf-8", "line 2: 9 values for 8 columns"),
        ([HEADER, "453201,visa,Müller Bank,debit,DE,EUR,16,true"], "latin-1", "is not UTF-8 text"),
        ([HEADER, "453201,visa,Nul\x00Bank,debit,US,USD,16,true"], "utf-8", "holds NUL characters"),
    ],
)
def test_import_bins_rejects_a_file_it_cannot_read_as_a_bin_table(tmp_path, lines, encoding, message):
    path = tmp_path / "bins.csv"
    path.write_bytes("\n".join(lines).encode(encoding))
    before = counts()
    with pytest.raises(CommandError, match=re.escape(message)):
        run(path)
    assert counts() == before


def test_import_bins_rejects_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run(tmp_path / "absent.csv")
    assert counts() == (0, 0)


def test_import_bins_rejects_a_directory(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run(tmp_path)
    assert counts() == (0, 0)
