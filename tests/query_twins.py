"""For tests/test_queries.py: the ORM twin of each written-out statement (the queryset
its docstring names, aggregation by aggregation), the histories they are compared on,
and how rows and row locks are read back."""

import datetime
import random

from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F, FloatField, Max, Min, Q, Sum, Value
from django.db.models.functions import Cast, Coalesce, ExtractHour, ExtractMinute, Mod

from cards.models import Card
from tests.concurrency import run_concurrently
from transactions.authentication_facts import CardholderVerification, EntryMode
from transactions.codes import Decision
from transactions.cross_card_queries import window_bounds
from transactions.models import FraudReport, Transaction


def orm_card_by_fingerprint(fingerprint: str, *, lock: bool):
    cards = Card.objects.select_related("cardholder")
    if lock:
        cards = cards.select_for_update(of=("self",))
    return cards.filter(pan_fingerprint=fingerprint).first()


AT = datetime.datetime(2026, 3, 14, 9, 30, 15, 250000, tzinfo=datetime.UTC)


MINUTE, HOUR, DAY = datetime.timedelta(minutes=1), datetime.timedelta(hours=1), datetime.timedelta(days=1)


SECOND, TICK = datetime.timedelta(seconds=1), datetime.timedelta(microseconds=1)


APPROVED, DECLINED, REVERSED = (
    Transaction.Status.APPROVED,
    Transaction.Status.DECLINED,
    Transaction.Status.REVERSED,
)


PRESENT = [Transaction.Channel.POS, Transaction.Channel.ATM]


DECLINES = [
    Decision.CVV_MISMATCH,
    Decision.INSUFFICIENT_FUNDS,
    Decision.EXCEEDS_LIMIT,
    Decision.SUSPECTED_FRAUD,
]


def record(card, *, at, status=APPROVED, decision=None, **values) -> Transaction:
    decision = decision or (Decision.APPROVED if status != DECLINED else Decision.SUSPECTED_FRAUD)
    return Transaction.objects.create(
        card=card,
        masked_pan=card.masked_pan if card else "400000******0002",
        bin_prefix=values.pop("bin_prefix", "400000"),
        amount_minor=values.pop("amount_minor", 42_00),
        currency="USD",
        merchant_id=values.pop("merchant_id", "M-1"),
        merchant_name="A shop",
        mcc=values.pop("mcc", "5814"),
        merchant_country=values.pop("merchant_country", "US"),
        channel=values.pop("channel", Transaction.Channel.POS),
        transaction_time=at,
        status=status,
        response_code=decision.code,
        reason=decision.reason,
        cvv_result=values.pop("cvv_result", Transaction.CvvResult.MATCH),
        **values,
    )


def a_history(card, *, seed: int, count: int = 60) -> None:
    """Transactions at random times around AT, of every kind, and others on the edges of
    every window (each edge in, a tick outside it out)."""
    rng = random.Random(seed)
    # How each was read and verified, from a generator of its own: the rest of the history
    # stays what it was before these facts were recorded.
    facts = random.Random(-seed)
    for _ in range(count):
        status = rng.choice([APPROVED, APPROVED, DECLINED, REVERSED])
        record(
            card,
            at=AT - rng.uniform(-2, 45) * DAY * rng.choice([1, 1 / 24, 1 / 1440]),
            status=status,
            decision=rng.choice(DECLINES) if status == DECLINED else None,
            amount_minor=rng.randint(1, 500_00),
            merchant_id=rng.choice(["M-1", "M-2", "M-3"]),
            merchant_country=rng.choice(["US", "FR", "IN"]),
            mcc=rng.choice(["5814", "5411", "7995"]),
            channel=rng.choice(list(Transaction.Channel)),
            cvv_result=rng.choice(list(Transaction.CvvResult)),
            bin_prefix=rng.choice(["400000", "510000"]),
            entry_mode=facts.choice(["", *EntryMode.values]),
            cardholder_verification=facts.choice(["", *CardholderVerification.values]),
            device_hash=facts.choice(["", "device-a", "device-b"]),
        )
    for window in (MINUTE, 10 * MINUTE, HOUR, DAY, 7 * DAY, 30 * DAY):
        record(card, at=AT - window, amount_minor=window // MINUTE, channel=Transaction.Channel.ATM)
        record(card, at=AT - window - TICK, amount_minor=7, merchant_country="JP")
    record(card, at=AT, amount_minor=3, merchant_id="M-at")  # the same time, recorded earlier: in
    record(card, at=AT + TICK, amount_minor=11, merchant_id="M-later", channel=Transaction.Channel.ATM)


PIN_FAILED, PIN_VERIFIED = CardholderVerification.PIN_FAILED, CardholderVerification.PIN_VERIFIED
SIGNATURE = CardholderVerification.SIGNATURE

# A failed card check on a known card.
FAILED_CHECK = Q(cvv_result=Transaction.CvvResult.MISMATCH) | Q(
    expiry_result=Transaction.ExpiryResult.MISMATCH
)


def card_history_twin(
    *,
    card_id,
    at,
    merchant_id,
    merchant_country,
    mcc,
    channel,
    utc_offset_minutes,
    night_ends_minute,
    tested_window=HOUR,
    device_hash="",
):
    """The ORM's answer to card_history_row, aggregation by aggregation."""
    ok = Q(status=APPROVED)

    def since(window):
        return Q(transaction_time__gte=at - window)

    def sum_of(expression, condition, output=None):
        return Coalesce(Sum(expression, filter=condition, output_field=output), Value(0, output_field=output))

    utc_minute = ExtractHour("transaction_time", tzinfo=datetime.UTC) * 60 + ExtractMinute(
        "transaction_time", tzinfo=datetime.UTC
    )
    history = Transaction.objects.filter(
        card_id=card_id, transaction_time__gte=at - 30 * DAY, transaction_time__lte=at
    ).annotate(home_minute=Mod(utc_minute + utc_offset_minutes + 1440, 1440))
    values = history.aggregate(
        count_1m=Count("pk", filter=since(MINUTE)),
        count_10m=Count("pk", filter=since(10 * MINUTE)),
        count_1h=Count("pk", filter=since(HOUR)),
        count_24h=Count("pk", filter=since(DAY)),
        count_7d=Count("pk", filter=since(7 * DAY)),
        count_30d=Count("pk"),
        approved_amount_10m=sum_of("amount_minor", ok & since(10 * MINUTE)),
        approved_amount_1h=sum_of("amount_minor", ok & since(HOUR)),
        approved_amount_24h=sum_of("amount_minor", ok & since(DAY)),
        approved_amount_7d=sum_of("amount_minor", ok & since(7 * DAY)),
        approved_amount_30d=sum_of("amount_minor", ok),
        approved_count_30d=Count("pk", filter=ok),
        approved_square_sum_30d=sum_of(
            Cast("amount_minor", FloatField()) * F("amount_minor"), ok, output=FloatField()
        ),
        approved_at_night_30d=Count("pk", filter=ok & Q(home_minute__lt=night_ends_minute)),
        declines_24h=Count("pk", filter=Q(status=DECLINED) & since(DAY)),
        declines_cvv_24h=Count("pk", filter=Q(response_code=Decision.CVV_MISMATCH.code) & since(DAY)),
        declines_funds_24h=Count("pk", filter=Q(response_code=Decision.INSUFFICIENT_FUNDS.code) & since(DAY)),
        declines_limit_24h=Count("pk", filter=Q(response_code=Decision.EXCEEDS_LIMIT.code) & since(DAY)),
        failures_at_merchant=Count(
            "pk", filter=Q(merchant_id=merchant_id) & since(min(tested_window, 30 * DAY)) & FAILED_CHECK
        ),
        magstripe_24h=Count("pk", filter=Q(entry_mode=EntryMode.MAGSTRIPE) & since(DAY)),
        chip_reads_30d=Count("pk", filter=Q(entry_mode__in=[EntryMode.CHIP, EntryMode.CONTACTLESS])),
        pin_failures_24h=Count("pk", filter=Q(cardholder_verification=PIN_FAILED) & since(DAY)),
        no_cvm_contactless_1h=Count(
            "pk",
            filter=Q(entry_mode=EntryMode.CONTACTLESS, cardholder_verification=CardholderVerification.NO_CVM)
            & since(HOUR),
        ),
        device_approvals_30d=Count("pk", filter=ok & Q(device_hash=device_hash) & ~Q(device_hash="")),
        approvals_with_device_30d=Count("pk", filter=ok & ~Q(device_hash="")),
        last_pin_failure_24h=Max(
            "transaction_time", filter=Q(cardholder_verification=PIN_FAILED) & since(DAY)
        ),
        last_pin_verified_24h=Max(
            "transaction_time",
            filter=Q(cardholder_verification=CardholderVerification.PIN_VERIFIED) & since(DAY),
        ),
        verified_cvm_1h=Count(
            "pk",
            filter=Q(cardholder_verification__in=[PIN_VERIFIED, CardholderVerification.CONSUMER_DEVICE])
            & since(HOUR),
        ),
    )
    used = Transaction.objects.filter(card_id=card_id, transaction_time__lte=at).exclude(status=DECLINED)
    present = history.filter(channel__in=PRESENT)
    unverified = history.filter(
        since(HOUR),
        channel__in=PRESENT,
        cardholder_verification__in=[PIN_FAILED, SIGNATURE, CardholderVerification.NO_CVM],
    )
    values |= {
        "unverified_present_mccs_1h": ",".join(sorted(set(unverified.values_list("mcc", flat=True)))),
        "seen_merchant": used.filter(merchant_id=merchant_id).exists(),
        "seen_country": used.filter(merchant_country=merchant_country).exists(),
        "seen_mcc": used.filter(mcc=mcc).exists(),
        "seen_channel": used.filter(channel=channel).exists(),
        "previous_time": Transaction.objects.filter(card_id=card_id, transaction_time__lte=at).aggregate(
            latest=Max("transaction_time")
        )["latest"],
        "previous_present_time": present.aggregate(latest=Max("transaction_time"))["latest"],
        "previous_present_country": present.order_by("-transaction_time", "-created_at")
        .values_list("merchant_country", flat=True)
        .first(),
    }
    return values


def cross_card_twin(
    *,
    merchant_id,
    bin_prefix,
    at,
    fraud_window,
    cap,
    sample,
    merchant_window=HOUR,
    bin_window=HOUR,
    tested_window=None,
):
    """The ORM's answer to cross_card_row, aggregation by aggregation."""

    def since(span):
        return Q(transaction_time__gte=window_bounds(at, span)[0])

    def failures(span):
        return Count("card_id", distinct=True, filter=since(span) & FAILED_CHECK) + Count(
            "pk", filter=since(span) & Q(card_id=None)
        )

    def window(testing, long, **column):
        until = window_bounds(at, HOUR)[1]
        rows = Transaction.objects.filter(**column, transaction_time__lt=until)

        def count(span):
            return rows.filter(since(span)).count()

        declined = rows.filter(since(max(HOUR, testing, long)), status=DECLINED)
        latest = declined.order_by("-transaction_time")[:cap]
        declines = latest.aggregate(
            cvv=Count("pk", filter=since(HOUR) & Q(cvv_result=Transaction.CvvResult.MISMATCH)),
            declined=Count("pk", filter=since(HOUR)),
            test_failures=failures(testing),
            test_declined=Count("pk", filter=since(testing)),
            long_failures=failures(long),
        )
        return declines | {"n": count(HOUR), "test_n": count(testing), "long_n": count(long)}

    merchant = window(merchant_window, tested_window or HOUR, merchant_id=merchant_id)
    bin = window(bin_window, HOUR, bin_prefix=bin_prefix)
    reports = FraudReport.objects.filter(merchant_id=merchant_id, transaction_time__lt=at, reported_at__lt=at)
    cards = reports.filter(transaction_time__gte=at - fraud_window).aggregate(
        n=Count("pk"), cards=Count("card_id", distinct=True)
    )
    recent = {"n": 0, "since": None}  # no reported fraud there: the sample is not read
    if cards["n"]:
        latest = Transaction.objects.filter(
            merchant_id=merchant_id, transaction_time__gte=at - fraud_window, transaction_time__lt=at
        ).order_by("-transaction_time")[:sample]
        recent = latest.aggregate(n=Count("pk"), since=Min("transaction_time"))
    return {
        "merchant_count_1h": merchant["n"],
        "merchant_cvv_mismatch_1h": merchant["cvv"],
        "merchant_declines_1h": merchant["declined"],
        "merchant_testing_attempts": merchant["test_n"],
        "merchant_testing_failures": merchant["test_failures"],
        "merchant_testing_declines": merchant["test_declined"],
        "merchant_failures_long": merchant["long_failures"] if tested_window else None,
        "merchant_attempts_long": merchant["long_n"] if tested_window else None,
        "bin_count_1h": bin["n"],
        "bin_cvv_mismatch_1h": bin["cvv"],
        "bin_declines_1h": bin["declined"],
        "bin_testing_attempts": bin["test_n"],
        "bin_testing_failures": bin["test_failures"],
        "bin_testing_declines": bin["test_declined"],
        "merchant_recent_count": recent["n"],
        "merchant_recent_fraud": (
            reports.filter(transaction_time__gte=recent["since"]).count() if recent["since"] else 0
        ),
        "merchant_fraud_cards_90d": cards["cards"],
    }


def reported(txn, *, at) -> FraudReport:
    return FraudReport.objects.create(
        transaction=txn,
        reason="not me",
        reported_at=at,
        merchant_id=txn.merchant_id,
        card_id=txn.card_id,
        transaction_time=txn.transaction_time,
    )


def stored(model, **lookup) -> dict:
    """Every concrete field of one row, as the ORM reads it back."""
    row = model.objects.get(**lookup)
    return {f.attname: getattr(row, f.attname) for f in model._meta.concrete_fields}


def without(values: dict, *names: str) -> dict:
    return {k: v for k, v in values.items() if k not in names}


def fields_of(instance) -> dict:
    """Every concrete field of an instance, as it is in memory."""
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def locked_from_elsewhere(model, pk) -> bool:
    """Whether another connection, in its own transaction, finds the row locked: on
    PostgreSQL the row itself; on SQLite, which locks the whole database for a writing
    transaction, the database (the probe does not wait for it)."""

    def probe(index):
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA busy_timeout = 0")
        try:
            with transaction.atomic():
                list(model.objects.select_for_update(nowait=True).filter(pk=pk))
        except DatabaseError:
            return True
        return False

    (locked,) = run_concurrently(1, probe)
    return locked
