"""The minutes' counts across cards (MinuteCount), written by the database's trigger as
transactions are stored: of attempts and of declines, equal to counting the stored
transactions, whatever stored them, concurrently too, and those stored before the
declines were counted; pruned once no window reads them."""

import datetime
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tests.authorizing import authorize_at, wrong_cvv
from tests.concurrency import run_concurrently
from tests.factories import CardFactory
from tests.query_twins import APPROVED, AT, DAY, DECLINED, HOUR, MINUTE, REVERSED, SECOND, TICK, record
from transactions.cross_card_queries import minute_of, window_bounds
from transactions.models import MinuteCount, Transaction
from transactions.services.minute_counts import minute_counts_prune

pytestmark = pytest.mark.django_db


def counted() -> Counter:
    """The stored counts of attempts and of declines, the slots added up."""
    totals = Counter()
    for scope, key, minute, attempts, declines in MinuteCount.objects.values_list(
        "scope", "key", "minute", "attempts", "declines"
    ):
        totals[scope, key, minute, "attempts"] += attempts
        totals[scope, key, minute, "declines"] += declines
    return +totals


def recounted(since: datetime.datetime | None = None) -> Counter:
    """What counting the stored transactions (since `since`'s minute) gives."""
    totals = Counter()
    stored = Transaction.objects.all()
    if since:
        stored = stored.filter(transaction_time__gte=window_bounds(since, MINUTE)[0])
    for merchant_id, bin_prefix, at, status in stored.values_list(
        "merchant_id", "bin_prefix", "transaction_time", "status"
    ):
        for scope, key in ((MinuteCount.Scope.MERCHANT, merchant_id), (MinuteCount.Scope.BIN, bin_prefix)):
            totals[scope, key, minute_of(at), "attempts"] += 1
            totals[scope, key, minute_of(at), "declines"] += status == DECLINED
    return +totals


def attempts(counts: Counter) -> int:
    return sum(n for (*_, what), n in counts.items() if what == "attempts")


def test_the_minutes_count_every_transaction_however_it_was_stored(card):
    start = AT.replace(second=0, microsecond=0)
    # One at a time, on a minute's first and last instant and across the hour's end.
    for at in (start, start + MINUTE - TICK, start + MINUTE, start + 59 * MINUTE + 30 * SECOND, AT):
        record(card, at=at)
    record(None, at=AT, status=DECLINED, merchant_id="M-2", bin_prefix="510000")  # an unknown number
    # Many in one statement.
    Transaction.objects.bulk_create(
        [
            Transaction(
                **_fields(card, at=AT + n * 20 * SECOND, merchant_id=f"M-{n % 3}", declined=n % 4 == 0)
            )
            for n in range(9)
        ]
    )
    # Through the authorization service, approved and declined.
    authorize = authorize_at(AT)
    authorize(card, merchant_id="M-api")
    authorize(card, merchant_id="M-api", cvv=wrong_cvv(card))

    assert counted() == recounted()
    assert counted()[MinuteCount.Scope.MERCHANT, "M-api", minute_of(AT), "attempts"] == 2
    assert counted()[MinuteCount.Scope.MERCHANT, "M-api", minute_of(AT), "declines"] == 1
    assert attempts(counted()) == 2 * Transaction.objects.count() == 2 * 17
    assert Transaction.objects.filter(status=DECLINED).count() == 5  # one unknown number, 3 in bulk, 1 API


def _fields(card, *, at, merchant_id, declined=False) -> dict:
    return {
        "card": card,
        "masked_pan": card.masked_pan,
        "bin_prefix": card.masked_pan[:6],
        "amount_minor": 100,
        "currency": "USD",
        "merchant_id": merchant_id,
        "mcc": "5814",
        "merchant_country": "US",
        "transaction_time": at,
        "status": DECLINED if declined else Transaction.Status.APPROVED,
        "response_code": "05" if declined else "00",
        "reason": "declined" if declined else "approved",
    }


def test_the_triggers_are_in_the_database_every_migration_leaves():
    """On SQLite a migration that rebuilds the transactions table drops its triggers: the
    migration after 0018 that does so must create them again (see 0018)."""
    if connection.vendor == "sqlite":
        query = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = %s"
    else:
        query = "SELECT COUNT(*) FROM pg_trigger WHERE tgname = %s AND NOT tgisinternal"
    with connection.cursor() as cursor:
        for trigger in ("transactions_count_minutes", "transactions_count_declined"):
            cursor.execute(query, [trigger])
            assert cursor.fetchone() == (1,), trigger
            if connection.vendor == "postgresql":  # its slots are the model's
                cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [trigger])
                assert f"pg_backend_pid() % {MinuteCount.SLOTS}," in cursor.fetchone()[0]


def test_a_transaction_declined_after_it_was_stored_is_counted_then(card):
    """Nothing here declines a stored transaction (the one change of status is to
    reversed), but a correction by hand, or a test, may: the windows must still read it."""
    stored = record(card, at=AT)
    Transaction.objects.filter(pk=stored.pk).update(status=DECLINED)
    Transaction.objects.filter(pk=stored.pk).update(reason="declined")  # no second count
    reversed_ = record(card, at=AT + SECOND)
    Transaction.objects.filter(pk=reversed_.pk).update(status=REVERSED)

    assert counted() == recounted()
    assert counted()[MinuteCount.Scope.MERCHANT, "M-1", minute_of(AT), "declines"] == 1


def test_a_rolled_back_transaction_takes_its_count_back(card):
    record(card, at=AT)
    before = counted()

    with pytest.raises(RuntimeError), transaction.atomic():
        record(card, at=AT)
        assert counted() != before  # counted in the inserting transaction
        raise RuntimeError

    assert counted() == before == recounted()


@pytest.mark.django_db(transaction=True)
def test_concurrent_authorizations_at_one_merchant_lose_no_count():
    cards = [CardFactory(balance_minor=10_000_00) for _ in range(4)]
    authorize = authorize_at(datetime.datetime.now(datetime.UTC).replace(second=30))

    def work(index):
        for number in range(5):
            authorize(
                cards[index], merchant_id="M-busy", **({"cvv": wrong_cvv(cards[index])} if number % 2 else {})
            )

    run_concurrently(4, work)

    assert counted() == recounted()
    busy = Counter()
    for (_, key, _, what), n in counted().items():
        busy[what] += n if key == "M-busy" else 0
    declined = Transaction.objects.filter(merchant_id="M-busy", status=DECLINED).count()
    assert busy["attempts"] == 20 and busy["declines"] == declined >= 8  # the wrong CVVs at least
    assert set(MinuteCount.objects.values_list("slot", flat=True)) <= set(range(MinuteCount.SLOTS))


@pytest.mark.django_db(transaction=True)
def test_the_migration_that_counts_declines_counts_those_stored_before_it():
    card = CardFactory()
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("transactions", "0016_covering_decline_indexes")])
    try:  # the transactions' table is as it is now: 0017 and 0018 change the counts' alone
        for second, status in enumerate((APPROVED, DECLINED, DECLINED, APPROVED)):
            record(card, at=AT + second * SECOND, status=status, merchant_id=f"M-{second % 2}")
        record(None, at=AT - HOUR, status=DECLINED, merchant_id="M-0", bin_prefix="510000")
        # Pruned as 0015's time pruned, leaving no record of it.
        record(card, at=AT - 3 * DAY, status=DECLINED)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM transactions_minutecount WHERE minute < %s", [minute_of(AT - HOUR)])
    finally:
        MigrationExecutor(connection).migrate(latest)

    assert pruned_before() == minute_of(AT - HOUR)  # the earliest minute still counted
    assert counted() == recounted(since=AT - HOUR)
    assert counted()[MinuteCount.Scope.MERCHANT, "M-1", minute_of(AT), "declines"] == 1
    assert counted()[MinuteCount.Scope.BIN, "510000", minute_of(AT - HOUR), "declines"] == 1
    # And from here on by the trigger.
    record(card, at=AT, status=DECLINED, merchant_id="M-1")
    assert counted() == recounted(since=AT - HOUR)
    assert counted()[MinuteCount.Scope.MERCHANT, "M-1", minute_of(AT), "declines"] == 2
    # Back and forward again (a rolled back deployment): counted afresh, once.
    MigrationExecutor(connection).migrate([("transactions", "0017_minute_declines")])
    MigrationExecutor(connection).migrate(latest)
    assert counted() == recounted(since=AT - HOUR)
    assert pruned_before() == minute_of(AT - HOUR)


def pruned_before() -> int | None:
    """The minute before which the counts are pruned, as the windows read it."""
    return max(
        MinuteCount.objects.filter(scope=MinuteCount.Scope.PRUNED, key="").values_list("minute", flat=True)
    )


def test_pruning_deletes_the_minutes_no_window_reads(card):
    now = AT
    for age in (2 * 24 * 60 + 1, 2 * 24 * 60, 60, 0):
        record(card, at=now - age * MINUTE)

    deleted = minute_counts_prune(now=now)

    assert deleted == 2  # the oldest minute, at its merchant and in its BIN
    assert min(minute for _, _, minute, _ in counted()) == minute_of(now - 2 * 24 * 60 * MINUTE)
    assert pruned_before() == minute_of(now - 2 * 24 * 60 * MINUTE)
    # Keeping more days later deletes nothing and moves nothing back; keeping fewer moves on.
    assert minute_counts_prune(keep=datetime.timedelta(days=3), now=now + MINUTE) == 0
    assert pruned_before() == minute_of(now - 2 * 24 * 60 * MINUTE)
    assert minute_counts_prune(now=now + 61 * MINUTE) == 2
    assert pruned_before() == minute_of(now - 2 * 24 * 60 * MINUTE + 61 * MINUTE)
    assert MinuteCount.objects.filter(scope=MinuteCount.Scope.PRUNED).count() == 1
    with pytest.raises(ValueError, match="at least 2 days"):
        minute_counts_prune(keep=datetime.timedelta(days=1), now=now)


def test_the_prune_command_refuses_to_keep_less_than_two_days(capsys):
    with pytest.raises(CommandError, match="at least 2"):
        call_command("prune_minute_counts", "--days", "1")

    call_command("prune_minute_counts")

    assert "Deleted 0 minute count(s) older than 2 days." in capsys.readouterr().out
