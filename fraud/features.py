"""What the rules look at, read point in time: only transactions before the attempt's
`transaction_time` and fraud reports filed before it count.

Each function is one indexed query over a bounded window (transactions by
(card, transaction_time) or (merchant_id, transaction_time)), never a scan of a card's
whole history.
"""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from cards.models import Card
from transactions.models import FraudReport, Transaction

MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
HISTORY = datetime.timedelta(days=30)

APPROVED = Q(status=Transaction.Status.APPROVED)


@dataclass(frozen=True)
class CardActivity:
    """The card's recent history before the attempt. Counts are of every attempt
    (declines say something too); amounts are of approvals only."""

    count_1m: int
    count_1h: int
    count_24h: int
    approved_amount_1h: int
    approved_amount_24h: int
    approved_count_30d: int
    approved_amount_30d: int
    previous_time: datetime.datetime | None
    previous_country: str | None

    @property
    def average_amount_30d(self) -> float | None:
        if not self.approved_count_30d:
            return None
        return self.approved_amount_30d / self.approved_count_30d


def card_activity(card: Card, at: datetime.datetime) -> CardActivity:
    before = Transaction.objects.filter(card=card, transaction_time__lt=at)
    totals = before.filter(transaction_time__gte=at - HISTORY).aggregate(
        count_1m=Count("pk", filter=Q(transaction_time__gte=at - MINUTE)),
        count_1h=Count("pk", filter=Q(transaction_time__gte=at - HOUR)),
        count_24h=Count("pk", filter=Q(transaction_time__gte=at - DAY)),
        approved_amount_1h=Sum("amount_minor", filter=APPROVED & Q(transaction_time__gte=at - HOUR)),
        approved_amount_24h=Sum("amount_minor", filter=APPROVED & Q(transaction_time__gte=at - DAY)),
        approved_count_30d=Count("pk", filter=APPROVED),
        approved_amount_30d=Sum("amount_minor", filter=APPROVED),
    )
    previous = before.order_by("-transaction_time").values("transaction_time", "merchant_country").first()
    return CardActivity(
        **{name: value or 0 for name, value in totals.items()},
        previous_time=previous["transaction_time"] if previous else None,
        previous_country=previous["merchant_country"] if previous else None,
    )


def cvv_mismatches_in_a_row(card: Card, at: datetime.datetime, look_back: int) -> int:
    """Wrong CVVs among the card's latest checked CVVs before `at`, up to the first right
    one. Only since the card's last status change: unblocking starts the count afresh."""
    checked = Transaction.objects.filter(
        card=card,
        transaction_time__lt=at,
        cvv_result__in=[Transaction.CvvResult.MATCH, Transaction.CvvResult.MISMATCH],
    )
    if card.status_changed_at:
        checked = checked.filter(created_at__gt=card.status_changed_at)
    results = checked.order_by("-transaction_time").values_list("cvv_result", flat=True)[:look_back]
    streak = 0
    for result in results:
        if result != Transaction.CvvResult.MISMATCH:
            break
        streak += 1
    return streak


def merchant_fraud_cards(merchant_id: str, at: datetime.datetime, window: datetime.timedelta) -> int:
    """Distinct cards with confirmed fraud at this merchant in the window, counting only
    reports filed before `at`."""
    return (
        FraudReport.objects.filter(
            reported_at__lt=at,
            transaction__merchant_id=merchant_id,
            transaction__transaction_time__gte=at - window,
            transaction__transaction_time__lt=at,
        )
        .values("transaction__card")
        .distinct()
        .count()
    )
