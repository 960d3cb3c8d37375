from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django_countries.fields import CountryField

from cards.models import Card
from fraud.case_models import Case, CaseComment  # noqa: F401  (defined there, found by Django here)
from transactions.models import Transaction

MCC_VALIDATOR = RegexValidator(r"\A[0-9]{4}\Z", "An MCC is 4 digits.")


class FraudSettings(models.Model):
    """The decision thresholds and the model choice, one row: with the rules and the risk
    lists, the working copy staff edit. Nothing here decides until it is saved as a
    version (FraudConfigVersion) and that version is promoted."""

    review_threshold = models.PositiveSmallIntegerField(
        default=50,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="From this score on, an alert is opened for an analyst (risk level medium).",
    )
    decline_threshold = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="From this score on, the authorization is declined as suspected fraud (risk level high).",
    )
    cvv_failure_limit = models.PositiveSmallIntegerField(
        "wrong CVVs in a row before blocking",
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
    )
    model = models.ForeignKey(
        "FraudModel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The trained model that scores beside the rules, or none: the rules alone decide.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "fraud settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(review_threshold__lte=F("decline_threshold")),
                name="fraud_review_not_above_decline",
            ),
        ]

    def __str__(self):
        return f"review at {self.review_threshold}, decline at {self.decline_threshold}"


class Rule(models.Model):
    """A fraud rule's switch, points and thresholds. The logic is in fraud/scoring.py;
    every number it uses is here, so staff tune rules without a deploy."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    score = models.PositiveSmallIntegerField(
        "points",
        validators=[MaxValueValidator(100)],
        help_text="Added to the risk score when the rule fires.",
    )
    params = models.JSONField("thresholds", default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name


class RiskListEntry(models.Model):
    class Level(models.TextChoices):
        HIGH_RISK = "high_risk", "High risk (adds points)"
        BLOCKED = "blocked", "Blocked (not permitted)"

    level = models.CharField(max_length=16, choices=Level.choices, default=Level.HIGH_RISK)
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class CountryRisk(RiskListEntry):
    country = CountryField(unique=True)

    class Meta:
        ordering = ["country"]
        verbose_name = "country on the risk list"
        verbose_name_plural = "countries on the risk list"

    def __str__(self):
        return f"{self.country.code} {self.get_level_display()}"


class MerchantCategoryRisk(RiskListEntry):
    mcc = models.CharField("MCC", max_length=4, unique=True, validators=[MCC_VALIDATOR])

    class Meta:
        ordering = ["mcc"]
        verbose_name = "merchant category on the risk list"
        verbose_name_plural = "merchant categories on the risk list"

    def __str__(self):
        return f"{self.mcc} {self.get_level_display()}"


class FraudAlert(models.Model):
    """A transaction an analyst should look at."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        INVESTIGATING = "investigating", "Investigating"
        CONFIRMED_FRAUD = "confirmed_fraud", "Confirmed fraud"
        FALSE_POSITIVE = "false_positive", "False positive"

    transaction = models.OneToOneField(Transaction, on_delete=models.PROTECT, related_name="fraud_alert")
    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="fraud_alerts")
    case = models.ForeignKey("Case", null=True, blank=True, on_delete=models.PROTECT, related_name="alerts")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    risk_score = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=200)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fraud_alerts",
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-risk_score", "-created_at"]
        indexes = [models.Index(fields=["status", "-risk_score", "-created_at"])]
        permissions = [
            ("decide_fraudalert", "Can decide fraud alerts"),
            ("export_fraudalert", "Can export fraud alerts as CSV"),
        ]

    def __str__(self):
        return f"alert {self.pk} ({self.get_status_display()}, score {self.risk_score})"

    @property
    def is_resolved(self) -> bool:
        return self.status in (self.Status.CONFIRMED_FRAUD, self.Status.FALSE_POSITIVE)


class FraudModel(models.Model):
    """A trained fraud model (trained by fraud/training.py, run by fraud/inference.py):
    the LightGBM model as text, the feature names in the order it reads them, and how it
    was trained and measured. Kept in the database so that every app server reads the
    same one. At most one is active; with none, decisions are by the rules alone."""

    version = models.PositiveIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, editable=False, help_text="Who trained it.")
    artifact = models.TextField(
        editable=False, help_text="The LightGBM model, as model_to_string() wrote it."
    )
    features = models.JSONField(
        default=list, editable=False, help_text="Feature names, in the model's order."
    )
    metadata = models.JSONField(
        default=dict,
        editable=False,
        help_text="Training window, label delay, row and fraud counts, held-out metrics, parameters, "
        "library versions.",
    )
    active = models.BooleanField(default=False, editable=False)
    activated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-version"]
        permissions = [("activate_fraudmodel", "Can activate or deactivate a fraud model")]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=Q(active=True), name="fraud_model_one_active"
            ),
        ]

    def __str__(self):
        return f"fraud model v{self.version}{' (active)' if self.active else ''}"


class FraudConfigVersion(models.Model):
    """The whole fraud configuration at one moment, numbered and immutable: thresholds,
    every rule's switch, points and params, the country and merchant category lists, the
    model choice and its weight (fraud/configuration.py reads `snapshot` back into the
    FraudConfig the scorer uses). Exactly one version is live: the one that decides.

    Only the state and the promotion fields ever change (fraud/versions.py); `save()`
    refuses anything else on a stored row, and no version is deleted: decisions name them.
    """

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        RETIRED = "retired", "Retired"
        # A draft scored beside the live version on live traffic, deciding nothing
        # (fraud/shadow.py); promoting it ends its shadow.
        SHADOW = "shadow", "Shadow"

    # What a promotion may change on a stored version; the rest is its content.
    LIFECYCLE_FIELDS = frozenset({"state", "promoted_at", "promoted_by"})

    number = models.PositiveIntegerField(unique=True, editable=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT, editable=False)
    snapshot = models.JSONField(editable=False)
    model = models.ForeignKey(
        FraudModel, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    reason = models.CharField(max_length=500, editable=False)
    created_by = models.CharField(max_length=150, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_by = models.CharField(max_length=150, blank=True, editable=False)
    promoted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-number"]
        verbose_name = "fraud configuration version"
        permissions = [
            ("edit_fraud_configuration", "Can edit the fraud configuration: drafts, shadow, backtests"),
            ("promote_fraudconfigversion", "Can promote a fraud configuration version"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["state"], condition=Q(state="live"), name="fraud_config_one_live"
            ),
            models.UniqueConstraint(
                fields=["state"], condition=Q(state="shadow"), name="fraud_config_one_shadow"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="fraud_config_version_reason"),
        ]

    def __str__(self):
        return f"version {self.number} ({self.get_state_display().lower()})"

    def save(self, *args, update_fields=None, **kwargs):
        changing = self.pk is not None and not kwargs.get("force_insert")
        if changing and (update_fields is None or not set(update_fields) <= self.LIFECYCLE_FIELDS):
            raise ValueError("A fraud configuration version never changes: create a new one.")
        super().save(*args, update_fields=update_fields, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("A fraud configuration version is never deleted: decisions name it.")


class ShadowDecision(models.Model):
    """What the version in shadow would have decided on a live transaction, scored on the
    same attempt beside the live version (fraud/shadow.py). It never changed the answer,
    opened an alert, blocked a card or moved a balance. The live decision is copied at
    the moment of deciding (a later reversal does not change what was decided), so that
    a period's comparison reads this table alone, by (version, transaction_time)."""

    class Outcome(models.TextChoices):
        APPROVE = "approve", "Approve"
        REVIEW = "review", "Approve, alert for review"
        DECLINE = "decline", "Decline"

    transaction = models.OneToOneField(
        "transactions.Transaction", primary_key=True, on_delete=models.CASCADE, related_name="shadow_decision"
    )
    version = models.ForeignKey(
        FraudConfigVersion, to_field="number", on_delete=models.PROTECT, related_name="shadow_decisions"
    )
    transaction_time = models.DateTimeField()
    score = models.PositiveSmallIntegerField()
    level = models.CharField(max_length=8)
    decision = models.CharField(max_length=8, choices=Outcome.choices)
    response_code = models.CharField(max_length=2)
    factors = models.JSONField(default=list)
    live_score = models.PositiveSmallIntegerField()
    live_decision = models.CharField(max_length=8, choices=Outcome.choices)
    live_response_code = models.CharField(max_length=2)
    changed = models.BooleanField(help_text="Another decision or response code than the live one.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-transaction_time"]
        indexes = [
            models.Index(fields=["version", "transaction_time"]),
            models.Index(fields=["version", "changed", "transaction_time"]),
        ]

    def __str__(self):
        return f"shadow of version {self.version_id}: {self.decision} ({self.response_code})"


# --- The daily rollup of the performance figures (fraud/rollup.py) --------------------------------

ROLLUP_COUNTS = (
    "decisions",
    "approvals",
    "reviews",
    "declines",
    "risk_declines",
    "fraud",
    "fraud_caught",
    "false_declines",
    "high",
    "high_fraud",
    "flagged_level",
    "flagged_level_fraud",
    "decisive",
    "step_ups",
)


class PerformanceDay(models.Model):
    """A complete UTC day of decisions counted into PerformanceCount rows. `transactions`
    is how many transactions the day held when counted: a transaction stored later with a
    time on that day (the API takes past times) makes the day's count differ, and the day
    is counted again. `generation` is raised by each recount: of two recounts at once,
    the one that finds it changed stands down."""

    day = models.DateField(unique=True)
    transactions = models.PositiveIntegerField()
    generation = models.PositiveIntegerField(default=1)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-day"]

    def __str__(self):
        return f"performance of {self.day}"


class PerformanceCount(models.Model):
    """One day's counts of one configuration version's decisions (rule ""), or of those
    one rule added points to (rule = its code; `decisions` is then how often it fired),
    with the fraud reports known when the day was counted."""

    day = models.DateField()
    config_version = models.PositiveIntegerField(help_text="0: decided before versioning.")
    rule = models.CharField(max_length=40, blank=True)
    decisions = models.PositiveIntegerField(default=0)
    approvals = models.PositiveIntegerField(default=0)
    reviews = models.PositiveIntegerField(default=0)
    declines = models.PositiveIntegerField(default=0)
    risk_declines = models.PositiveIntegerField(default=0)
    fraud = models.PositiveIntegerField(default=0)
    fraud_caught = models.PositiveIntegerField(default=0)
    false_declines = models.PositiveIntegerField(default=0)
    high = models.PositiveIntegerField(default=0)
    high_fraud = models.PositiveIntegerField(default=0)
    flagged_level = models.PositiveIntegerField(default=0)
    flagged_level_fraud = models.PositiveIntegerField(default=0)
    decisive = models.PositiveIntegerField(default=0)
    step_ups = models.PositiveIntegerField(default=0, help_text="Answered 1A, verification required.")
    fraud_value = models.JSONField(
        default=dict, blank=True, help_text="{currency: [fraud, fraud caught]}, amounts in minor units."
    )

    class Meta:
        ordering = ["-day", "config_version", "rule"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "config_version", "rule"], name="performance_count_one_per_day_version_rule"
            )
        ]

    def __str__(self):
        return f"{self.day} version {self.config_version} {self.rule or 'all'}"


class PerformanceMark(models.Model):
    """A day whose counts changed after they were taken: a fraud report on one of its
    decisions, marked in the report's own database transaction. The next recount of the
    day deletes the marks it saw when it started; a mark made after that survives it."""

    day = models.DateField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["day"]

    def __str__(self):
        return f"performance of {self.day} to count again"
