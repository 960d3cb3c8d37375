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
from demo import services as demo_services
from demo.simulation.places import EURO
from demo.simulation.population import BINS as DEMO_BINS
from fraud.models import Case, CaseComment, FraudAlert, FraudConfigVersion, FraudModel
from tests.factories import BinFactory
from tests.fraud.clock import NOW
from transactions.models import FraudReport, Transaction

pytestmark = pytest.mark.django_db

# Small worlds keep the suite quick: two days, too few to train a model on (see
# test_weeks_of_history_train_and_activate_a_model_that_scores_the_last_week).
SMALL = ("--cardholders", "20", "--days", "2")


def run(*args, stderr=None):
    stdout = StringIO()
    call_command("seed_demo", *args, stdout=stdout, stderr=stderr or StringIO())
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
        r"Seeded demo data: 7 BINs, 20 cardholders, \d+ cards \(\d+ blocked, \d+ lost\), \d+ top-ups\.\n"
        r"\d+ transactions over the last 2 days: \d+ approved, \d+ declined \((\d+ [a-z_]+(, )?)+\)\.\n"
        r"\d+ flagged; \d+ open fraud alerts? in \d+ open cases? \(\d+ older ones resolved by analysts\); "
        r"\d+ cards? blocked by the fraud engine; "
        r"\d+ fraud reports?\.\n"
        r"No fraud model \(too few days to train on\): the rules alone decide\.\n",
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
    assert not FraudModel.objects.exists()


def test_the_summary_counts_the_transactions_by_decision_and_the_open_alerts_and_cases():
    out = run(*SMALL)
    total = Transaction.objects.count()
    approved = Transaction.objects.filter(status=Transaction.Status.APPROVED).count()
    declined = Transaction.objects.filter(status=Transaction.Status.DECLINED).count()
    assert f"{total} transactions over the last 2 days: {approved} approved, {declined} declined (" in out
    for reason in Transaction.objects.exclude(reason="approved").values_list("reason", flat=True).distinct():
        count = Transaction.objects.filter(reason=reason).count()
        assert f"{count} {reason}" in out
    alerts = FraudAlert.objects.filter(status=FraudAlert.Status.OPEN).count()
    cases = Case.objects.filter(resolved_at__isnull=True).count()
    assert alerts > 0 and cases > 0
    resolved = Case.objects.filter(resolved_at__isnull=False).count()
    assert re.search(rf"; {alerts} open fraud alerts? in {cases} open cases? \({resolved} older ones", out)
    assert re.search(rf"; {FraudReport.objects.count()} fraud reports?\.$", out, re.MULTILINE)


def test_seed_demo_records_days_of_authorizations_in_time_order():
    started = timezone.now()
    run(*SMALL)
    transactions = Transaction.objects.order_by("created_at")
    times = list(transactions.values_list("transaction_time", flat=True))
    assert times == sorted(times), "decided in the order they happened"
    # The two days up to the minute the seeding started, both of them busy.
    assert started - datetime.timedelta(days=2, minutes=1) <= times[0] and times[-1] <= started
    yesterday = started - datetime.timedelta(days=1)
    assert transactions.filter(transaction_time__lt=yesterday).count() > 20
    assert transactions.filter(transaction_time__gte=yesterday).count() > 20
    assert transactions.filter(status=Transaction.Status.APPROVED).count() > 50
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


def test_the_history_includes_fraud_that_the_engine_flags():
    run(*SMALL)
    # Card testing: made-up numbers in the issuer's BINs, and guessed CVVs.
    assert Transaction.objects.filter(card__isnull=True, response_code="14").count() >= 5
    assert Transaction.objects.filter(response_code="N7").count() >= 2
    assert Transaction.objects.filter(flagged=True).exists()
    assert FraudAlert.objects.count() == Transaction.objects.filter(flagged=True).count()
    # Cardholders report fraud days later, as in life: the history holds only the reports
    # due within it (tests/demo/test_simulation.py checks them over longer worlds).
    reports = FraudReport.objects.select_related("transaction")
    now = timezone.now()
    for report in reports:
        assert report.transaction.transaction_time < report.reported_at <= now
        assert report.transaction.status == Transaction.Status.APPROVED
        assert report.reason


def test_alerts_date_from_their_transactions_and_analysts_resolved_the_older_cases_by_the_truth():
    run("--cardholders", "40", "--days", "6")
    end = timezone.now()
    alerts = FraudAlert.objects.select_related("transaction", "case")
    assert alerts.count() >= 3
    for alert in alerts:
        assert alert.created_at == alert.transaction.transaction_time
        assert alert.case.opened_at <= alert.created_at
    for case in Case.objects.prefetch_related("alerts__transaction"):
        latest = max(alert.transaction.transaction_time for alert in case.alerts.all())
        older = latest < end - demo_services.ANALYSTS_DECIDE_WITHIN
        assert (case.resolved_at is not None) == older
        assert case.opened_at == min(alert.transaction.transaction_time for alert in case.alerts.all())
    resolved = Case.objects.filter(resolved_at__isnull=False)
    assert resolved.exists()
    assert set(resolved.values_list("resolution", flat=True)) <= {"confirmed_fraud", "false_positive"}
    assert not FraudAlert.objects.filter(case__in=resolved, status=FraudAlert.Status.OPEN).exists()
    # Audited as the command's work, like everything seeded.
    decided = AuditLog.objects.filter(action=AuditLog.Action.CASE_RESOLVED, actor_label="manage.py seed_demo")
    assert decided.count() == resolved.count()


def test_weeks_of_history_train_and_activate_a_model_that_scores_the_last_week(monkeypatch):
    # A smaller world than the default's (200 cardholders, 28 days), with the training
    # minimums lowered to its size: the suite stays quick.
    monkeypatch.setattr(demo_services, "MODEL_MIN_FRAUDS", 3)
    monkeypatch.setattr(demo_services, "MODEL_MIN_ROWS", 200)
    started = timezone.now()
    out = run("--cardholders", "40", "--days", "21")

    model = FraudModel.objects.get()
    assert model.active
    assert re.search(
        rf"^Fraud model v{model.version} active, trained on {model.metadata['rows']} transactions "
        rf"\({model.metadata['frauds']} confirmed frauds\) known 7 days ago, ROC AUC [01]\.\d{{3}}",
        out,
        re.MULTILINE,
    )
    cutoff = datetime.datetime.fromisoformat(model.metadata["cutoff"])
    assert started - datetime.timedelta(days=7, minutes=1) <= cutoff <= started - datetime.timedelta(days=7)
    live = FraudConfigVersion.objects.get(state=FraudConfigVersion.State.LIVE)
    assert live.model == model
    # Activated as the operator's command does it: at once, audited, no second person.
    audited = AuditLog.objects.filter(actor_label="manage.py seed_demo")
    assert audited.filter(action=AuditLog.Action.MODEL_TRAINED).count() == 1
    assert audited.filter(action=AuditLog.Action.MODEL_ACTIVATED).count() == 1
    # The first week was decided by the rules alone, the last by the version with the model.
    scored = Transaction.objects.filter(card__isnull=False)
    before, after = scored.filter(transaction_time__lt=cutoff), scored.filter(transaction_time__gte=cutoff)
    assert before.exists() and after.exists()
    assert set(before.values_list("risk_config_version", flat=True)) == {live.number - 1}
    assert set(after.values_list("risk_config_version", flat=True)) == {live.number}
    assert any(
        factor["code"] == "model"
        for factors in after.values_list("risk_factors", flat=True)
        for factor in factors
    )


def test_seed_demo_prints_its_progress_as_lines_when_not_on_a_terminal():
    stderr = StringIO()  # not a terminal, as a log file
    run(*SMALL, stderr=stderr)
    lines = stderr.getvalue().splitlines()
    steps = 20 + Transaction.objects.count()
    assert len(lines) >= 2
    assert all(re.fullmatch(rf"Seeding: [\d,]+/{steps:,} steps \(\d+%\), .*\d+ s", line) for line in lines)
    assert lines[-1].startswith(f"Seeding: {steps:,}/{steps:,} steps (100%), done in ")


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
    run("--cardholders", "40", "--days", "1")
    today = timezone.localdate()
    assert all(18 <= holder.age_on(today) <= 90 for holder in Cardholder.objects.all())
    for card in Card.objects.select_related("bin", "cardholder"):
        euro = card.currency == "EUR" and card.cardholder.country.code in EURO
        assert card.bin.country == card.cardholder.country or euro or card.currency == "USD"
        assert card.status in (Card.Status.ACTIVE, Card.Status.BLOCKED, Card.Status.LOST)
    assert Card.objects.filter(currency="JPY").exists()


def test_seed_demo_leaves_a_ledger_that_verifies():
    run(*SMALL)
    assert not ledger_mismatches().exists()
    stdout = StringIO()
    call_command("verify_ledger", stdout=stdout)
    assert stdout.getvalue().startswith("Ledger verified:")


def test_running_seed_demo_twice_changes_nothing():
    run(*SMALL)
    before = counts()
    stderr = StringIO()
    assert run(*SMALL, stderr=stderr) == "Demo data already present; nothing to do.\n"
    assert counts() == before
    assert stderr.getvalue() == ""


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
    # The history runs up to the minute of seeding: each run starts at the same moment.
    args = ("--cardholders", "10", "--days", "1")
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
        (("--days", "0"), "Give --days from 1"),
        (("--days", "366"), "Give --days from 1"),
        (("--seed", "-1"), "Give --seed as a whole number"),
    ],
)
def test_seed_demo_rejects_bad_counts_and_writes_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert counts() == (0, 0, 0, 0, 0, 0, 0, 0)
