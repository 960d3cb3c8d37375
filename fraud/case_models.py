"""A card's alerts worked as one: the case and its comment thread (fraud/cases.py).
Imported into fraud.models, where Django finds every model of the app."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from cards.models import Card


class Case(models.Model):
    """The alerts of one card, worked as one: an assignee, a priority and the time its
    service level is due, an append-only comment thread and, at the end, a resolution
    for all its alerts (fraud/cases.py). A card has at most one unresolved case; an alert
    after the resolution opens a new one."""

    class Priority(models.IntegerChoices):
        URGENT = 1, "Urgent"
        HIGH = 2, "High"
        NORMAL = 3, "Normal"
        LOW = 4, "Low"

    class Resolution(models.TextChoices):
        CONFIRMED_FRAUD = "confirmed_fraud", "Confirmed fraud"
        FALSE_POSITIVE = "false_positive", "False positive"

    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="cases")
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="fraud_cases"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(help_text="When its service level runs out (by priority).")
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due_at"]
        indexes = [models.Index(fields=["resolved_at", "due_at"])]
        permissions = [("export_case", "Can export cases as CSV")]
        constraints = [
            models.UniqueConstraint(
                fields=["card"], condition=Q(resolved_at__isnull=True), name="one_unresolved_case_per_card"
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True, resolution="")
                | Q(resolved_at__isnull=False) & ~Q(resolution=""),
                name="case_resolved_with_a_resolution",
            ),
        ]

    def __str__(self):
        return f"case {self.pk} ({self.card})"

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


class CaseComment(models.Model):
    """One entry of a case's thread: written once, never changed or deleted."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_label = models.CharField(max_length=150)
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"comment by {self.author_label} on {self.case}"
