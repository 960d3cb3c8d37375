"""The time on the clocks of a cardholder's home country: a decision's night, and the
card history's offset from UTC (fraud/features.py)."""

import datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from cards.models import Card

MINUTE = datetime.timedelta(minutes=1)

# Where a country spans several zones, the one most of its people live in; zone.tab
# lists them by position, not population (Canada first at St John's).
PRINCIPAL_ZONES = {
    "AR": "America/Argentina/Buenos_Aires", "AU": "Australia/Sydney", "BR": "America/Sao_Paulo",
    "CA": "America/Toronto", "CD": "Africa/Kinshasa", "CL": "America/Santiago", "CN": "Asia/Shanghai",
    "DE": "Europe/Berlin", "EC": "America/Guayaquil", "ES": "Europe/Madrid", "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty", "MN": "Asia/Ulaanbaatar", "MX": "America/Mexico_City", "MY": "Asia/Kuala_Lumpur",
    "NZ": "Pacific/Auckland", "PT": "Europe/Lisbon", "RU": "Europe/Moscow", "UA": "Europe/Kyiv",
    "US": "America/New_York", "UZ": "Asia/Tashkent",
}  # fmt: skip


@cache
def _country_zones() -> dict[str, str]:
    """Country -> its principal time zone: PRINCIPAL_ZONES, else the first zone.tab of the
    tz database lists for it (the only one for most countries)."""
    zones = dict(PRINCIPAL_ZONES)
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _, zone = line.split("\t")[:3]
            zones.setdefault(country, zone)
    return zones


@cache
def _zone(country: str) -> ZoneInfo:
    name = _country_zones().get(country)
    return ZoneInfo(name) if name else ZoneInfo("UTC")


def home_time_zones() -> None:
    """Read the tz database's country table now (a server's warm-up), not at the first decision."""
    _country_zones()


def home_time(card: Card, at: datetime.datetime) -> datetime.datetime:
    """`at` on the clocks of the cardholder's home country (UTC for an unassigned card)."""
    holder = card.cardholder
    return at.astimezone(_zone(holder.country.code if holder else ""))


def home_utc_offset_minutes(card: Card, at: datetime.datetime) -> int:
    """The home country's offset from UTC at `at`, in minutes (India: 330)."""
    return round(home_time(card, at).utcoffset() / MINUTE)
