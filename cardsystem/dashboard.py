"""The back office's front page: a dashboard of panels over a period (the last 24 hours,
7 or 30 days), above the list of the apps.

The ground floor knows no panel. Each app registers its own from its AppConfig.ready()
(transactions/dashboard.py, fraud/dashboard.py) with the permission that reads its data:
a staff member sees the panels their roles may view, and nothing is queried for the
others. A panel's `build` takes the Period and returns its tiles (the big numbers at the
top) and its charts (Chart.js configurations, drawn by templates/admin/includes/chart.html).
Every figure is one aggregate query bounded by the period on an indexed time column
(bench/dashboard.py measures them on a million transactions). Time buckets are UTC.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models.functions import TruncDay, TruncHour
from django.urls import reverse
from django.utils import timezone

UTC = datetime.UTC
PERIODS = {
    # key: (length, bucket, label)
    "24h": (datetime.timedelta(hours=24), "hour", "Last 24 hours"),
    "7d": (datetime.timedelta(days=7), "day", "Last 7 days"),
    "30d": (datetime.timedelta(days=30), "day", "Last 30 days"),
}
DEFAULT_PERIOD = "24h"
STEPS = {"hour": datetime.timedelta(hours=1), "day": datetime.timedelta(days=1)}


class TextPrefixOnSqlite:
    """A UTC Trunc that SQLite answers in SQL. Django's Trunc calls a Python function per
    row there (a million rows: about 25 s, bench/dashboard.py); SQLite stores a datetime
    as UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff', whose prefix is the hour or the day."""

    prefix: int
    zeros: str

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.lhs)
        return f"(substr({sql}, 1, {self.prefix}) || '{self.zeros}')", params


class HourUTC(TextPrefixOnSqlite, TruncHour):
    prefix, zeros = 13, ":00:00"


class DayUTC(TextPrefixOnSqlite, TruncDay):
    prefix, zeros = 10, " 00:00:00"


@dataclass
class Period:
    """[since, until) cut in hourly or daily UTC buckets. `shared` holds what two panels of
    one page would otherwise both compute (fraud/dashboard.py: the performance tallies)."""

    key: str
    label: str
    since: datetime.datetime
    until: datetime.datetime
    bucket: str  # "hour" or "day"
    shared: dict = field(default_factory=dict, repr=False)

    def trunc(self, field_name: str):
        """The bucket of a time column, in the database, in UTC."""
        return (HourUTC if self.bucket == "hour" else DayUTC)(field_name, tzinfo=UTC)

    def starts(self) -> list[datetime.datetime]:
        """The start of every bucket the period touches, oldest first."""
        first = self.since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if self.bucket == "day":
            first = first.replace(hour=0)
        step, starts = STEPS[self.bucket], []
        while first < self.until:
            starts.append(first)
            first += step
        return starts

    def labels(self) -> list[str]:
        fmt = "%H:00" if self.bucket == "hour" else "%b %d"
        return [start.strftime(fmt) for start in self.starts()]

    def series(self, values: dict[datetime.datetime, float]) -> list[float]:
        """The values of the buckets, in the order of `starts()`, 0 where none."""
        return [values.get(start, 0) for start in self.starts()]

    def shared_value(self, key: str, compute: Callable):
        if key not in self.shared:
            self.shared[key] = compute()
        return self.shared[key]


def period_from(value: str | None, now: datetime.datetime | None = None) -> tuple[Period, str]:
    """The period a `?period=` value names, and a message when the value is unknown (the
    default period is then shown)."""
    message = ""
    if value not in PERIODS:
        if value is not None:
            message = f"Unknown period {value[:20]!r}: showing the {PERIODS[DEFAULT_PERIOD][2].lower()}."
        value = DEFAULT_PERIOD
    length, bucket, label = PERIODS[value]
    until = now or timezone.now()
    return Period(key=value, label=label, since=until - length, until=until, bucket=bucket), message


def changelist(model: str, **lookups) -> str:
    """The admin list of `app.model` filtered by `lookups` (datetimes in ISO format)."""
    app, name = model.split(".")
    query = {
        key: value.isoformat() if isinstance(value, datetime.datetime) else value
        for key, value in lookups.items()
    }
    url = reverse(f"admin:{app}_{name}_changelist")
    return f"{url}?{urlencode(query)}" if query else url


@dataclass(frozen=True)
class Tile:
    """A big number at the top of the page."""

    label: str
    value: str
    link: str = ""
    note: str = ""


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    config: dict  # a whole Chart.js configuration: type, data, options
    link: str = ""  # the list the chart summarises
    note: str = ""
    wide: bool = False


@dataclass
class PanelContent:
    tiles: list[Tile] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # said plainly, in place of a chart


@dataclass(frozen=True)
class Panel:
    key: str
    permission: str  # "app.view_model": who may see the panel
    build: Callable[[Period], PanelContent]
    order: int = 100


_panels: dict[str, Panel] = {}


def register(panel: Panel) -> None:
    """Add a panel to the dashboard (again under the same key: replace it)."""
    _panels[panel.key] = panel


def visible_panels(user) -> list[Panel]:
    return sorted(
        (panel for panel in _panels.values() if user.has_perm(panel.permission)),
        key=lambda panel: (panel.order, panel.key),
    )


def dashboard_context(request) -> dict:
    """What templates/admin/index.html shows above the apps: the period, its choices, and
    the tiles and charts of the panels the user may view."""
    period, message = period_from(request.GET.get("period"))
    contents = [panel.build(period) for panel in visible_panels(request.user)]
    return {
        "period": period,
        "period_message": message,
        "period_choices": [(key, label) for key, (_, _, label) in PERIODS.items()],
        "tiles": [tile for content in contents for tile in content.tiles],
        "charts": [chart for content in contents for chart in content.charts],
        "panel_notes": [note for content in contents for note in content.notes],
        "has_panels": bool(contents),
    }
