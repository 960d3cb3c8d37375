import datetime
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from bins.models import Bin
from bins.networks import bin_rule_errors
from cards.models import Card, Cardholder, LedgerEntry
from cards.services import ledger_mismatches
from cardsystem.models import AuditLog
from demo.simulation.places import EURO
from demo.simulation.population import BINS as DEMO_BINS
from fraud.models import Case, CaseComment, FraudAlert, FraudConfigVersion
from tests.factories import BinFactory
from tests.fraud.clock import NOW
from transactions.models import FraudReport, Transaction

pytestmark = pytest.mark.django_db

# Small worlds keep the suite quick; from 100 transactions on the day includes the fraud.
SMALL = ("--cardholders", "20", "--transactions", "150")


def run(*args):
    stdout = StringIO()
    call_command("seed_demo", *args, stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


def counts():
    return (
        Bin.objects.count(),
        Cardholder.objects.count(),
        Card.objects.count(),
        LedgerEntry.objects.count(),
        Transaction.objects.count(),
        FraudAlert.objects.count(),
        FraudReport.objects.count(),
        AuditLog.objects.count(),
    )


def test_seed_demo_fills_an_empty_database_through_the_services():
    out = run(*SMALL)
    assert re.fullmatch(
        r"Seeded demo data: 7 BINs, 20 cardholders, \d+ cards \(\d+ blocked, \d+ lost\), \d+ top-ups; "
        r"150 transactions over the last 24 hours: \d+ approved, \d+ declined \((\d+ [a-z_]+(, )?)+\); "
        r"\d+ flagged with \d+ fraud alerts?, \d+ cards? blocked by the fraud engine, \d+ fraud reports?\.\n",
        out,
    )
    assert Bin.objects.count() == 7 and Cardholder.objects.count() == 20
    cards = Card.objects.count()
    assert 20 <= cards <= 40
    audited = AuditLog.objects.filter(actor_label="manage.py seed_demo")
    assert audited.filter(action=AuditLog.Action.BIN_CREATED).count() == 7
    assert audited.filter(action=AuditLog.Action.CARDHOLDER_CREATED).count() == 20
    assert audited.filter(action=AuditLog.Action.CARD_ISSUED).count() == cards
    top_ups = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.TOP_UP)
    assert audited.filter(action=AuditLog.Action.CARD_TOPPED_UP).count() == top_ups.count() > 0
    assert audited.filter(action=AuditLog.Action.FRAUD_REPORTED).count() == FraudReport.objects.count()
    # Every decision was made by the live configuration version, the migration's.
    live = FraudConfigVersion.objects.get(state=FraudConfigVersion.State.LIVE)
    scored = Transaction.objects.filter(card__isnull=False)
    assert set(scored.values_list("risk_config_version", flat=True)) == {live.number}


def test_the_summary_counts_the_transactions_by_decision():
    out = run(*SMALL)
    approved = Transaction.objects.filter(status=Transaction.Status.APPROVED).count()
    declined = Transaction.objects.filter(status=Transaction.Status.DECLINED).count()
    assert f"150 transactions over the last 24 hours: {approved} approved, {declined} declined (" in out
    for reason in Transaction.objects.exclude(reason="approved").values_list("reason", flat=True).distinct():
        count = Transaction.objects.filter(reason=reason).count()
        assert f"{count} {reason}" in out
    assert re.search(rf"\b{FraudReport.objects.count()} fraud reports?\.$", out)


def test_seed_demo_records_a_day_of_authorizations_in_time_order():
    started = timezone.now()
    run(*SMALL)
    transactions = Transaction.objects.order_by("created_at")
    assert transactions.count() == 150
    times = list(transactions.values_list("transaction_time", flat=True))
    assert times == sorted(times), "decided in the order they happened"
    # The 24 hours up to the minute the seeding started.
    assert started - datetime.timedelta(hours=24, minutes=1) <= times[0] and times[-1] <= started
    assert transactions.filter(status=Transaction.Status.APPROVED).count() > 100
    declined = transactions.filter(status=Transaction.Status.DECLINED)
    assert declined.exists()
    # The decisions are the engine's: every approval debited its card through the ledger.
    approved_ids = {str(pk) for pk in transactions.filter(status="approved").values_list("pk", flat=True)}
    debits = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.DEBIT)
    assert set(debits.values_list("reference", flat=True)) == approved_ids
    assert transactions.filter(card__isnull=False, risk_score__isnull=True).count() == 0


def test_every_transaction_is_in_its_cards_currency_at_a_merchant_with_a_name_and_category():
    run(*SMALL)
    on_cards = Transaction.objects.filter(card__isnull=False)
    assert on_cards.exclude(currency=F("card__currency")).count() == 0
    assert Transaction.objects.filter(merchant_name="").count() == 0
    assert Transaction.objects.values("merchant_id").distinct().count() >= 10
    assert set(Transaction.objects.values_list("channel", flat=True)) >= {"pos", "ecommerce"}
    # Mostly at home: the cardholder's own country.
    at_home = on_cards.filter(merchant_country=F("card__cardholder__country")).count()
    assert at_home > 0.7 * on_cards.count()


def test_the_day_includes_fraud_that_the_engine_flags():
    run(*SMALL)
    # Card testing: made-up numbers in the issuer's BINs, and guessed CVVs.
    assert Transaction.objects.filter(card__isnull=True, response_code="14").count() >= 5
    assert Transaction.objects.filter(response_code="N7").count() >= 3
    assert Transaction.objects.filter(flagged=True).exists()
    assert FraudAlert.objects.count() == Transaction.objects.filter(flagged=True).count()
    # Cardholders report fraud days later, as in life: the day holds only the reports due
    # within it (tests/demo/test_simulation.py checks them over longer worlds).
    reports = FraudReport.objects.select_related("transaction")
    now = timezone.now()
    for report in reports:
        assert report.transaction.transaction_time < report.reported_at <= now
        assert report.transaction.status == Transaction.Status.APPROVED
        assert report.reason


def test_a_day_below_a_hundred_transactions_is_ordinary_spending_only():
    run("--cardholders", "10", "--transactions", "40")
    assert Transaction.objects.count() == 40
    assert not FraudReport.objects.exists()
    assert not Transaction.objects.filter(card__isnull=True).exists()


def test_seed_demo_bins_span_networks_countries_and_currencies_and_obey_the_network_rules():
    assert len({fields["network"] for fields in DEMO_BINS}) >= 6
    assert len({fields["country"] for fields in DEMO_BINS}) >= 5
    assert {"USD", "GBP", "EUR", "JPY", "CNY"} <= {fields["currency"] for fields in DEMO_BINS}
    for fields in DEMO_BINS:
        assert (
            bin_rule_errors(
                bin=fields["bin"],
                network=fields["network"],
                currency=fields["currency"],
                pan_length=fields["pan_length"],
            )
            == {}
        )


def test_seed_demo_gives_adult_cardholders_cards_of_their_country_or_currency_or_in_dollars():
    run("--cardholders", "40", "--transactions", "0")
    today = timezone.localdate()
    assert all(18 <= holder.age_on(today) <= 90 for holder in Cardholder.objects.all())
    for card in Card.objects.select_related("bin", "cardholder"):
        euro = card.currency == "EUR" and card.cardholder.country.code in EURO
        assert card.bin.country == card.cardholder.country or euro or card.currency == "USD"
        assert card.status in (Card.Status.ACTIVE, Card.Status.BLOCKED, Card.Status.LOST)
    assert Card.objects.filter(currency="JPY").exists()
    assert not Transaction.objects.exists()


def test_seed_demo_leaves_a_ledger_that_verifies():
    run(*SMALL)
    assert not ledger_mismatches().exists()
    stdout = StringIO()
    call_command("verify_ledger", stdout=stdout)
    assert stdout.getvalue().startswith("Ledger verified:")


def test_running_seed_demo_twice_changes_nothing():
    run(*SMALL)
    before = counts()
    assert run(*SMALL) == "Demo data already present; nothing to do.\n"
    assert counts() == before


def people():
    return sorted(Cardholder.objects.values_list("name", "date_of_birth", "country", "email"))


def day():
    return sorted(Transaction.objects.values_list("merchant_id", "amount_minor", "currency", "reason"))


def remove_demo_data():
    FraudReport.objects.all().delete()
    FraudAlert.objects.all().delete()
    CaseComment.objects.all().delete()
    Case.objects.all().delete()
    LedgerEntry.objects.all().delete()
    Transaction.objects.all().delete()
    Card.objects.all().delete()
    Cardholder.objects.all().delete()
    Bin.objects.all().delete()


def test_seed_demo_is_reproducible_with_its_seed(clock):
    # The day is the 24 hours up to the minute of seeding: each run starts at the same moment.
    args = ("--cardholders", "10", "--transactions", "120")
    run(*args, "--seed", "7")
    first = (people(), day())
    remove_demo_data()
    clock.move_to(NOW)
    run(*args, "--seed", "7")
    assert (people(), day()) == first
    remove_demo_data()
    clock.move_to(NOW)
    run(*args, "--seed", "8")
    assert people() != first[0] and day() != first[1]


def test_seed_demo_refuses_a_database_holding_other_data():
    BinFactory()
    before = counts()
    with pytest.raises(CommandError, match="only into an empty one"):
        run(*SMALL)
    assert counts() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cardholders", "0"), "Give --cardholders from 1"),
        (("--transactions", "-1"), "Give --transactions from 0"),
    ],
)
def test_seed_demo_rejects_bad_counts_and_writes_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert counts() == (0, 0, 0, 0, 0, 0, 0, 0)
