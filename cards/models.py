import datetime
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField

from bins.models import Bin
from cardsystem import money
from cardsystem.models import DataKey


class Cardholder(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    country = CountryField(help_text="Home country.")
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self):
        return self.name

    def age_on(self, day: datetime.date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class Card(models.Model):
    """A payment card. Its number exists here only encrypted (`pan_encrypted`), as a
    keyed fingerprint for lookup and as the masked form; the CVV is never stored."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        BLOCKED = "blocked", "Blocked"
        LOST = "lost", "Lost"
        STOLEN = "stolen", "Stolen"
        EXPIRED = "expired", "Expired"
        CLOSED = "closed", "Closed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bin = models.ForeignKey(Bin, on_delete=models.PROTECT, related_name="cards")
    cardholder = models.ForeignKey(
        Cardholder,
        on_delete=models.PROTECT,
        related_name="cards",
        null=True,
        blank=True,
        help_text="Empty for card stock issued in bulk and not yet handed to anyone.",
    )
    pan_key_id = models.CharField(
        max_length=16, editable=False, help_text="The id of the CARD_DATA_KEY the number is encrypted under."
    )
    pan_encrypted = models.BinaryField(editable=False)
    pan_fingerprint = models.CharField(max_length=64, unique=True, editable=False)
    masked_pan = models.CharField(max_length=19, editable=False)
    # The card verification key its CVV was computed with: kept for the card's life, so
    # that the printed CVV keeps verifying across CARD_DATA_KEY rotations.
    cvk = models.ForeignKey(
        DataKey,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        limit_choices_to={"purpose": DataKey.Purpose.CARD_VERIFICATION},
    )
    last4 = models.CharField(max_length=4, db_index=True, editable=False)
    expiry_month = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(12)])
    expiry_year = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=200, blank=True)
    # Set when the fraud engine or an analyst blocked the card for fraud, cleared when it
    # leaves that block: unblocking such a card takes a second person (four eyes).
    blocked_for_fraud = models.BooleanField(default=False, editable=False)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3, editable=False)
    balance_minor = models.BigIntegerField(default=0, editable=False)
    limit_per_transaction_minor = models.BigIntegerField(null=True, blank=True)
    limit_daily_minor = models.BigIntegerField(null=True, blank=True)
    limit_monthly_minor = models.BigIntegerField(null=True, blank=True)
    replaces = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="replaced_by",
        help_text="The card this one replaced (closed when this one was issued).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        permissions = [
            ("top_up_card", "Can top up a card"),
            ("block_card", "Can block a card or report it lost or stolen"),
            ("unblock_card", "Can unblock or reactivate a card"),
            ("change_card_limits", "Can change a card's spending limits"),
            ("replace_card", "Can replace a card"),
        ]
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["created_at"]),
            # Which cards are still under an older CARD_DATA_KEY, in batches (rotation).
            models.Index(fields=["pan_key_id", "id"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(balance_minor__gte=0), name="card_balance_not_negative"),
            models.CheckConstraint(
                condition=Q(expiry_month__gte=1, expiry_month__lte=12), name="card_expiry_month"
            ),
            models.CheckConstraint(
                condition=Q(limit_per_transaction_minor__isnull=True) | Q(limit_per_transaction_minor__gt=0),
                name="card_limit_per_transaction_positive",
            ),
            models.CheckConstraint(
                condition=Q(limit_daily_minor__isnull=True) | Q(limit_daily_minor__gt=0),
                name="card_limit_daily_positive",
            ),
            models.CheckConstraint(
                condition=Q(limit_monthly_minor__isnull=True) | Q(limit_monthly_minor__gt=0),
                name="card_limit_monthly_positive",
            ),
        ]

    def __str__(self):
        return self.masked_pan

    @property
    def balance(self) -> str:
        return money.to_major(self.balance_minor, self.currency)

    def expires_after(self) -> datetime.date:
        """The first day on which the card is no longer valid."""
        if self.expiry_month == 12:
            return datetime.date(self.expiry_year + 1, 1, 1)
        return datetime.date(self.expiry_year, self.expiry_month + 1, 1)

    def is_expired(self, *, on: datetime.date) -> bool:
        return on >= self.expires_after()


class LedgerEntry(models.Model):
    """One change of a card's balance. Immutable: corrections are new entries."""

    class Kind(models.TextChoices):
        TOP_UP = "top_up", "Top-up"
        DEBIT = "debit", "Debit"
        REVERSAL = "reversal", "Reversal"
        REPLACEMENT = "replacement", "Moved on replacement"

    id = models.BigAutoField(primary_key=True)
    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount_minor = models.BigIntegerField(help_text="Signed: credits positive, debits negative.")
    balance_after_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["card", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(amount_minor=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(balance_after_minor__gte=0), name="ledger_balance_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {money.format_amount(self.amount_minor, self.currency)}"
