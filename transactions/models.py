import uuid

from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField

from cards.models import Card
from cardsystem import money
from cardsystem.models import ApiClient
from transactions.authentication_facts import CardholderVerification, EntryMode, ThreeDS
from transactions.codes import REASON_CHOICES, RESPONSE_CODE_CHOICES

# What a window across cards reads of each decline besides its key and time
# (transactions/cross_card_queries.py): the card checks and the card.
WINDOW_DECLINE_COLUMNS = ["cvv_result", "expiry_result", "card"]


class Transaction(models.Model):
    """One authorization request and its decision. Every well-formed request is
    recorded, declines and unknown cards included (those with the masked number only)."""

    class Status(models.TextChoices):
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        REVERSED = "reversed", "Reversed"

    class Channel(models.TextChoices):
        POS = "pos", "Point of sale"
        ECOMMERCE = "ecommerce", "E-commerce"
        ATM = "atm", "ATM"
        MOTO = "moto", "Mail or telephone order"

    class CvvResult(models.TextChoices):
        MATCH = "match", "Match"
        MISMATCH = "mismatch", "Mismatch"
        ABSENT = "absent", "Not given"
        UNCHECKED = "unchecked", "Not checked"

    class ExpiryResult(models.TextChoices):
        MATCH = "match", "Match"
        MISMATCH = "mismatch", "Mismatch"
        UNCHECKED = "unchecked", "Not checked"

    class RiskLevel(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    card = models.ForeignKey(
        Card, null=True, blank=True, on_delete=models.PROTECT, related_name="transactions"
    )
    masked_pan = models.CharField(max_length=19)
    bin_prefix = models.CharField(
        max_length=6, blank=True, help_text="The leading digits the masked number shows: the issuer's range."
    )
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    merchant_id = models.CharField(max_length=64)
    merchant_name = models.CharField(max_length=100, blank=True)
    mcc = models.CharField("MCC", max_length=4)
    merchant_country = CountryField()
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.POS)
    transaction_time = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices)
    response_code = models.CharField(max_length=2, choices=RESPONSE_CODE_CHOICES)
    reason = models.CharField(max_length=32, choices=REASON_CHOICES)
    cvv_result = models.CharField(max_length=16, choices=CvvResult.choices, default=CvvResult.UNCHECKED)
    expiry_result = models.CharField(
        max_length=16,
        choices=ExpiryResult.choices,
        default=ExpiryResult.UNCHECKED,
        help_text="The expiry date given against the card's, checked on an active card only.",
    )
    # How the card and the cardholder were authenticated (transactions/authentication_facts.py).
    entry_mode = models.CharField(
        max_length=24, choices=EntryMode.choices, blank=True, default="", help_text="Blank: unknown."
    )
    cardholder_verification = models.CharField(
        "cardholder verification",
        max_length=16,
        choices=CardholderVerification.choices,
        blank=True,
        default="",
        help_text="Blank: unknown.",
    )
    three_ds = models.CharField(
        "3-D Secure",
        max_length=16,
        choices=ThreeDS.choices,
        blank=True,
        default="",
        help_text="Blank: unknown.",
    )
    device_hash = models.CharField(
        "device (keyed hash)",
        max_length=64,
        blank=True,
        default="",
        help_text="A keyed hash of the device identifier given (never the identifier); blank: none given.",
    )
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)
    risk_level = models.CharField(max_length=8, choices=RiskLevel.choices, blank=True)
    risk_factors = models.JSONField(default=list, blank=True)
    risk_features = models.JSONField(
        default=dict, blank=True, help_text="The values the risk assessment looked at, as of the decision."
    )
    risk_config_version = models.PositiveIntegerField(
        "fraud configuration version",
        null=True,
        blank=True,
        help_text="The number of the fraud configuration version that decided (none before versioning).",
    )
    risk_rules = models.TextField(
        blank=True,
        default="",
        help_text="The rules that added points, as the scorer summed them up for counting in the "
        "database (fraud/performance.py): ',code,' each, ',code!,' where its points were decisive.",
    )
    flagged = models.BooleanField(default=False, help_text="A fraud alert was opened for review.")
    client = models.ForeignKey(ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reversed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("export_transaction", "Can export transactions as CSV")]
        indexes = [
            # Every time-window rule and limit reads one card's history by transaction_time.
            models.Index(fields=["card", "transaction_time"]),
            # The fraud features' windows across cards (a merchant's, a BIN's last hour and
            # a merchant's latest transactions, card testing across cards) read these keys
            # alone: with the status, both check results and the card (distinct cards failing
            # a check, unknown numbers) in the key, PostgreSQL scans the index only, and never
            # picks the plain transaction_time index to filter an issuer's whole last hour.
            models.Index(
                fields=["merchant_id", "transaction_time", "status", "cvv_result", "expiry_result", "card"]
            ),
            # The declines of a merchant and of a BIN, failed card checks among them (every
            # failed check is declined): what the windows across cards read row by row,
            # beside the counts of MinuteCount. Partial, so an approval writes neither; the
            # statement names the status as a literal, which both databases need to use them.
            # On PostgreSQL they also hold what the windows read of each decline (INCLUDE;
            # SQLite has no such thing), so the read is from the index alone: no heap
            # fetch per decline, and cheaper to the generic plan than the dashboard's index
            # below, which it had taken while the statistics held no declines (bench/
            # README.md, "A plan that flipped"). A window reads them only where its minutes
            # count declines (MinuteCount), and then they are in the statistics.
            models.Index(
                fields=["merchant_id", "transaction_time"],
                include=WINDOW_DECLINE_COLUMNS,
                condition=Q(status="declined"),
                name="transaction_merchant_declined",
            ),
            models.Index(
                fields=["bin_prefix", "transaction_time"],
                include=WINDOW_DECLINE_COLUMNS,
                condition=Q(status="declined"),
                name="transaction_bin_declined",
            ),
            # "First time here" seeks of the fraud features.
            models.Index(fields=["card", "merchant_id", "transaction_time"]),
            models.Index(fields=["card", "merchant_country", "transaction_time"]),
            models.Index(fields=["card", "mcc", "transaction_time"]),
            models.Index(fields=["card", "channel", "transaction_time"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["response_code", "created_at"]),
            models.Index(fields=["risk_score"]),
            # A period's rows across cards (the performance rollup's counts, the dashboard):
            # with the columns the dashboard groups by in the key, both databases answer its
            # figures from the index alone instead of reading a million wide rows
            # (bench/dashboard.py). It replaced the plain transaction_time index.
            models.Index(fields=["transaction_time", "status", "flagged", "response_code", "risk_score"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="transaction_amount_positive"),
            models.CheckConstraint(
                condition=Q(risk_score__isnull=True) | Q(risk_score__lte=100),
                name="transaction_risk_score_0_100",
            ),
        ]

    def __str__(self):
        return f"{self.masked_pan} {self.amount} {self.currency} {self.reason}"

    @property
    def amount(self) -> str:
        return money.to_major(self.amount_minor, self.currency)


class MinuteCount(models.Model):
    """How many transactions a merchant (or a BIN) had in one minute of `transaction_time`,
    and how many of them were declined: what the windows across cards add up instead of
    counting a busy merchant's or BIN's every row, and what tells them whether a window
    has declines to read at all (transactions/cross_card_queries.py). Written by the
    database itself, by a trigger on each insert into the transactions table (migrations
    0015 and 0018), in the inserting transaction: every way a transaction is stored
    counts, and a rollback takes its count back. A transaction is declined when it is
    stored (the one change of status here is approved to reversed); one declined later,
    by an UPDATE, is counted then, by a second trigger.

    On PostgreSQL a minute has up to SLOTS rows per merchant or BIN, one per group of
    database sessions (the session's process id modulo SLOTS), so that concurrent
    authorizations at one BIN seldom wait for each other's commit; the reads add the slots
    up. Rows older than the longest window are pruned (`manage.py prune_minute_counts`),
    which leaves one row of scope PRUNED, at the minute before which nothing is counted
    any more: a window that starts earlier (an attempt dated days back) reads its declines
    whatever its counts say.

    On SQLite a migration that rebuilds the transactions table drops the triggers: it must
    create them again (see migration 0018)."""

    SLOTS = 8  # as the triggers of migration 0018 spell it

    class Scope(models.TextChoices):
        MERCHANT = "merchant", "Merchant"
        BIN = "bin", "BIN"
        PRUNED = "pruned", "Pruned before this minute"

    id = models.BigAutoField(primary_key=True)
    scope = models.CharField(max_length=8, choices=Scope.choices)
    key = models.CharField(max_length=64, help_text="The merchant id or the BIN prefix.")
    minute = models.BigIntegerField(help_text="Whole minutes since 1970-01-01 00:00 UTC.")
    slot = models.SmallIntegerField(default=0)
    attempts = models.IntegerField(default=0)
    declines = models.IntegerField(
        default=0, db_default=0, help_text="Of the attempts, how many were declined."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key", "minute", "slot"], name="minute_count_unique"),
        ]

    def __str__(self):
        return f"{self.scope} {self.key} minute {self.minute}: {self.attempts}"


class FraudReport(models.Model):
    """A cardholder dispute or chargeback: the transaction is confirmed fraud from
    `reported_at` on. The fraud engine sees a report only at decisions after that time."""

    id = models.BigAutoField(primary_key=True)
    transaction = models.OneToOneField(Transaction, on_delete=models.PROTECT, related_name="fraud_report")
    reason = models.CharField(max_length=200)
    reported_at = models.DateTimeField(db_index=True)
    client = models.ForeignKey(ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Copied from the transaction, so that "fraud at this merchant lately" reads the few
    # reports of one merchant by index instead of joining its every transaction.
    merchant_id = models.CharField(max_length=64, default="")
    card = models.ForeignKey(Card, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    transaction_time = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-reported_at", "-id"]
        indexes = [
            models.Index(fields=["merchant_id", "transaction_time"]),
            # The dashboard's fraud reported by transaction date (transactions/dashboard.py).
            models.Index(fields=["transaction_time"]),
        ]

    def __str__(self):
        return f"fraud report on {self.transaction_id}"


class DecisionDay(models.Model):
    """One complete UTC day of transactions counted for the dashboard's decisions
    (transactions/dashboard.py): by outcome, response code and risk score decile. What a
    transaction contributes never changes once stored (its status may become reversed,
    still an approval); a transaction stored later with a time on a counted day (the API
    takes past times) makes the day's number of transactions differ from `transactions`,
    and the day is counted again (cardsystem/daily_rollup.py)."""

    day = models.DateField(unique=True)
    transactions = models.PositiveIntegerField()
    figures = models.JSONField(help_text='{"outcomes": {outcome: n}, "codes": {code: n}, "scores": [n, ...]}')
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-day"]

    def __str__(self):
        return f"decisions of {self.day}"
