import csv
import errno
import os
import re
import stat
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class

from bins.models import Bin
from cards.models import Card, Cardholder, LedgerEntry
from cards.pan import cvv_matches
from cards.services import card_get_by_pan
from cardsystem.card_numbers import luhn_valid
from cardsystem.models import AuditLog
from tests.factories import BinFactory, CardFactory

pytestmark = pytest.mark.django_db


def run(*args, stderr=None):
    stdout = StringIO()
    call_command(*args, stdout=stdout, stderr=stderr or StringIO())
    return stdout.getvalue()


def counts():
    return (
        Bin.objects.count(),
        Cardholder.objects.count(),
        Card.objects.count(),
        LedgerEntry.objects.count(),
        AuditLog.objects.count(),
    )


# --- issue_cards ------------------------------------------------------------------------------


def read_rows(path):
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_issue_cards_writes_every_card_to_a_new_file_readable_only_by_its_owner(tmp_path):
    bin = BinFactory(bin="45871290", pan_length=16)
    output = tmp_path / "stock.csv"
    out = run("issue_cards", "--bin", "45871290", "--count", "5", "--output", str(output))
    assert out == (
        f"Issued 5 cards on BIN 45871290 to {output} "
        "(mode 0600: cleartext card data, hand to the manufacturer and destroy).\n"
    )
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    with output.open(newline="") as file:
        assert next(csv.reader(file)) == ["card_id", "pan", "cvv", "expiry_month", "expiry_year", "bin"]
    rows = read_rows(output)
    assert len(rows) == 5 == Card.objects.filter(bin=bin).count()
    assert len({row["pan"] for row in rows}) == 5


def test_issue_cards_prints_its_progress_as_lines_into_a_log_file(tmp_path):
    BinFactory(bin="45871290", pan_length=16)
    log = StringIO()  # not a terminal
    run("issue_cards", "--bin", "45871290", "--count", "20", "--output", str(tmp_path / "s.csv"), stderr=log)
    lines = log.getvalue().splitlines()
    assert lines[0] == "Issuing: 2/20 cards (10%), 0 s"
    assert lines[-1].startswith("Issuing: 20/20 cards (100%), done in ")
    assert not re.search(r"\d{13}", log.getvalue())


def test_issued_card_numbers_are_valid_and_belong_to_their_cards(tmp_path):
    BinFactory(bin="374245", network=Bin.Network.AMEX, pan_length=15)
    output = tmp_path / "stock.csv"
    run("issue_cards", "--bin", "374245", "--count", "3", "--output", str(output))
    for row in read_rows(output):
        pan = row["pan"]
        assert luhn_valid(pan) and pan.startswith("374245") and len(pan) == 15
        card = card_get_by_pan(pan)
        assert str(card.pk) == row["card_id"] and row["bin"] == "374245"
        assert (card.expiry_month, card.expiry_year) == (int(row["expiry_month"]), int(row["expiry_year"]))
        assert card.status == Card.Status.INACTIVE and card.cardholder is None
        assert len(row["cvv"]) == 4
        assert cvv_matches(
            cvv=row["cvv"],
            pan=pan,
            expiry_month=card.expiry_month,
            expiry_year=card.expiry_year,
            cvk_id=card.cvk_id,
        )


def test_issue_cards_is_audited_once_as_the_command(tmp_path):
    bin = BinFactory()
    output = tmp_path / "stock.csv"
    run("issue_cards", "--bin", bin.bin, "--count", "2", "--output", str(output))
    entry = AuditLog.objects.get()
    assert entry.action == AuditLog.Action.CARDS_BULK_ISSUED
    assert entry.actor_label == "manage.py issue_cards"
    assert entry.details["count"] == 2 and entry.details["output"] == str(output)


def test_issue_cards_says_in_its_help_that_the_file_holds_cleartext_card_data():
    help_text = (
        load_command_class("cards", "issue_cards").create_parser("manage.py", "issue_cards").format_help()
    )
    assert "cleartext PANs and CVVs" in help_text
    assert "mode 0600" in help_text and "destroy it" in help_text


def test_issue_cards_refuses_to_overwrite_an_existing_file(tmp_path):
    bin = BinFactory()
    output = tmp_path / "stock.csv"
    output.write_text("earlier stock\n")
    before = counts()
    with pytest.raises(CommandError, match="already exists: refusing to overwrite it"):
        run("issue_cards", "--bin", bin.bin, "--count", "2", "--output", str(output))
    assert output.read_text() == "earlier stock\n"
    assert counts() == before


def test_issue_cards_issues_nothing_when_the_output_directory_does_not_exist(tmp_path):
    bin = BinFactory()
    before = counts()
    with pytest.raises(CommandError, match=r"Cannot create .*No such file or directory"):
        run(
            "issue_cards",
            "--bin",
            bin.bin,
            "--count",
            "2",
            "--output",
            str(tmp_path / "absent" / "stock.csv"),
        )
    assert counts() == before


def test_a_write_failure_issues_nothing_and_removes_the_partial_file(tmp_path, monkeypatch):
    bin = BinFactory()
    output = tmp_path / "stock.csv"
    before = counts()

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(CommandError, match=re.escape("No space left on device. No card was issued.")):
        run("issue_cards", "--bin", bin.bin, "--count", "3", "--output", str(output))
    assert not output.exists()
    assert counts() == before


@pytest.mark.parametrize(
    ("bin_number", "count", "message"),
    [
        ("999999", "2", "No BIN '999999'"),
        ("400001", "2", "bin: This BIN is inactive and issues no new cards."),
        ("400000", "0", "Give a --count from 1 to 100000."),
        ("400000", "-3", "Give a --count from 1 to 100000."),
        ("400000", "100001", "Give a --count from 1 to 100000."),
        ("400000", "two", "argument --count: invalid int value: 'two'"),
    ],
)
def test_issue_cards_rejects_bad_input_and_writes_nothing(tmp_path, bin_number, count, message):
    BinFactory(bin="400000")
    BinFactory(bin="400001", is_active=False)
    output = tmp_path / "stock.csv"
    before = counts()
    with pytest.raises(CommandError, match=re.escape(message)):
        run("issue_cards", "--bin", bin_number, "--count", count, "--output", str(output))
    assert not output.exists()
    assert counts() == before


# --- verify_ledger -----------------------------------------------------------------------------


def test_verify_ledger_passes_when_every_balance_equals_its_entries():
    CardFactory(balance_minor=1250)
    CardFactory(balance_minor=0)
    out = run("verify_ledger")
    assert out == "Ledger verified: 2 cards, all balances equal the sum of their entries.\n"


def test_verify_ledger_fails_and_names_a_card_whose_balance_was_changed_behind_the_ledger():
    CardFactory(balance_minor=500)
    card = CardFactory(balance_minor=1000)
    Card.objects.filter(pk=card.pk).update(balance_minor=1500)
    stderr = StringIO()
    with pytest.raises(CommandError, match="1 card has a balance that differs") as raised:
        run("verify_ledger", stderr=stderr)
    assert raised.value.returncode == 1
    assert stderr.getvalue() == (
        f"Card {card.pk} {card.masked_pan}: balance 15.00 USD, ledger entries sum to 10.00 USD.\n"
    )
    assert card.pan not in stderr.getvalue() and card.pan not in str(raised.value)


def test_verify_ledger_finds_a_balance_without_any_entries_in_the_cards_currency():
    card = CardFactory(bin=BinFactory(bin="356912", network=Bin.Network.JCB, country="JP", currency="JPY"))
    Card.objects.filter(pk=card.pk).update(balance_minor=5000)
    stderr = StringIO()
    with pytest.raises(CommandError):
        run("verify_ledger", stderr=stderr)
    assert "balance 5000 JPY, ledger entries sum to 0 JPY." in stderr.getvalue()
