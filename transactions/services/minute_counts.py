"""Pruning the minutes' counts across cards (MinuteCount), which the database writes by
itself as transactions are stored: a window across cards reads at most a day back
(fraud/params.py), so older minutes are read by nothing."""

import datetime

from django.db import transaction
from django.utils import timezone

from transactions.cross_card_queries import minute_of
from transactions.models import MinuteCount

# A day of the longest window, and a day more for transactions stored late with an earlier
# time (the acquirer's clock).
MIN_KEEP = datetime.timedelta(days=2)


def minute_counts_prune(*, keep: datetime.timedelta = MIN_KEEP, now: datetime.datetime | None = None) -> int:
    """Delete the counts of the minutes more than `keep` (at least MIN_KEEP) before `now`;
    return how many rows went. Records the minute before which nothing is counted any more
    (MinuteCount.Scope.PRUNED): the windows that start earlier read their declines row by
    row (transactions/cross_card_queries.py)."""
    if keep < MIN_KEEP:
        raise ValueError(f"keep: at least {MIN_KEEP.days} days, the longest window and a day more.")
    before = minute_of((now or timezone.now()) - keep)
    older, pruned = MinuteCount.objects.filter(minute__lt=before), MinuteCount.Scope.PRUNED
    with transaction.atomic():
        deleted, _ = older.exclude(scope=pruned).delete()
        older.filter(scope=pruned).delete()
        # The reads take the latest (a prune that kept more days than the last leaves both).
        MinuteCount.objects.get_or_create(scope=pruned, key="", slot=0, minute=before)
    return deleted
