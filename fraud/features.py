"""What the rules look at, read point in time: only transactions up to the attempt's
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
# Only where the card itself was: an online merchant's country says nothing about
# where the cardholder is.
CARD_PRESENT = [Transaction.Channel.POS, Transaction.Channel.ATM]
CVV_CHECKED = [Transaction.CvvResult.MATCH, Transaction.CvvResult.MISMATCH]


@dataclass(frozen=True)
class CardActivity:
    """The card's history up to the attempt, the attempt itself not included (it is not
    recorded yet). Counts are of every attempt (declines say something too); amounts are
    of approvals only. `previous_*` is the latest card-present transaction."""

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
    """Windows end at `at` inclusive and start at `at - window` inclusive. A transaction
    recorded earlier with the same time is part of the history: acquirers often send
    whole seconds, and a burst within one second must still count. A transaction with a
    later time (recorded first, by store-and-forward) never counts."""
    before = Transaction.objects.filter(card=card, transaction_time__lte=at)
    totals = before.filter(transaction_time__gte=at - HISTORY).aggregate(
        count_1m=Count("pk", filter=Q(transaction_time__gte=at - MINUTE)),
        count_1h=Count("pk", filter=Q(transaction_time__gte=at - HOUR)),
        count_24h=Count("pk", filter=Q(transaction_time__gte=at - DAY)),
        approved_amount_1h=Sum("amount_minor", filter=APPROVED & Q(transaction_time__gte=at - HOUR)),
        approved_amount_24h=Sum("amount_minor", filter=APPROVED & Q(transaction_time__gte=at - DAY)),
        approved_count_30d=Count("pk", filter=APPROVED),
        approved_amount_30d=Sum("amount_minor", filter=APPROVED),
    )
    previous = (
        before.filter(channel__in=CARD_PRESENT)
        .order_by("-transaction_time", "-created_at")
        .values("transaction_time", "merchant_country")
        .first()
    )
    return CardActivity(
        **{name: value or 0 for name, value in totals.items()},
        previous_time=previous["transaction_time"] if previous else None,
        previous_country=previous["merchant_country"] if previous else None,
    )


def cvv_mismatches_in_a_row(card: Card, look_back: int) -> int:
    """Wrong CVVs among the card's latest checked CVVs, up to the first right one.

    In the order the attempts arrived (`created_at`), not by `transaction_time`: the
    time is the acquirer's to set, and an attacker who sent every guess with the same or
    an earlier time would otherwise never be counted. Only since the card's last status
    change: unblocking starts the count afresh."""
    checked = Transaction.objects.filter(card=card, cvv_result__in=CVV_CHECKED)
    if card.status_changed_at:
        checked = checked.filter(created_at__gt=card.status_changed_at)
    results = checked.order_by("-created_at").values_list("cvv_result", flat=True)[:look_back]
    streak = 0
    for result in results:
        if result != Transaction.CvvResult.MISMATCH:
            break
        streak += 1
    return streak


def merchant_fraud_cards(merchant_id: str, at: datetime.datetime, window: datetime.timedelta) -> int:
    """Distinct cards with confirmed fraud at this merchant in the window, counting only
    reports filed strictly before `at`."""
    return (
        FraudReport.objects.filter(
            reported_at__lt=at,
            transaction__merchant_id=merchant_id,
            transaction__card__isnull=False,  # unknown-card attempts are not "cards"
            transaction__transaction_time__gte=at - window,
            transaction__transaction_time__lt=at,
        )
        .values("transaction__card")
        .distinct()
        .count()
    )
