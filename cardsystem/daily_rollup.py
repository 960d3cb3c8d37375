"""Daily rollups of time-stamped rows, shared by the rule performance figures
(fraud/performance_counts.py) and the dashboard's decisions (transactions/dashboard.py):
which UTC days a period holds whole, and which of those a rollup must count again.

A complete day's rows can still change: the API takes past transaction times, so a row
stored after the day was counted can fall on it. A rollup therefore keeps how many rows
each day held when it was counted, and a day is counted again when that number differs:
one COUNT per run of consecutive counted days over the time column's index (index only),
and only when a run's total differs, one GROUP BY day to find which of its days changed.
"""

import datetime

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate

UTC = datetime.UTC
DAY = datetime.timedelta(days=1)


def day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=UTC)


def complete_days(
    since: datetime.datetime, until: datetime.datetime, now: datetime.datetime
) -> list[datetime.date]:
    """The UTC days wholly inside [since, until) that ended by `now`."""
    since, until, now = (moment.astimezone(UTC) for moment in (since, until, now))
    first = since.date() if since == day_start(since.date()) else since.date() + DAY
    end = min(until.date(), now.date())
    return [first + DAY * n for n in range(max(0, (end - first).days))]


def runs(days: list[datetime.date]) -> list[list[datetime.date]]:
    """Consecutive days, in runs."""
    found: list[list[datetime.date]] = []
    for day in days:
        if found and found[-1][-1] + DAY == day:
            found[-1].append(day)
        else:
            found.append([day])
    return found


def changed_days(
    days: list[datetime.date], counted: dict[datetime.date, int], rows: QuerySet, field: str
) -> set[datetime.date]:
    """Of these complete days, those never counted (absent from `counted`, which maps a
    day to the number of `rows` it held when counted) or now holding another number of
    rows, by the datetime column `field`."""
    changed = {day for day in days if day not in counted}
    for run in runs([day for day in days if day in counted]):
        in_run = rows.filter(**{f"{field}__gte": day_start(run[0]), f"{field}__lt": day_start(run[-1]) + DAY})
        if in_run.count() != sum(counted[day] for day in run):
            by_day = dict(
                in_run.annotate(on=TruncDate(field, tzinfo=UTC))
                .order_by()
                .values_list("on")
                .annotate(n=Count("pk"))
            )
            changed |= {day for day in run if by_day.get(day, 0) != counted[day]}
    return changed
