"""Distances between countries, for the impossible-travel rule.

Countries are points (their centroid, from the countryinfo package): coarse, but the
rule only asks whether a card could have travelled between two countries in the
time between two of its transactions. Neighbours are the exception: their centroids
can be 2,000 km apart (US and Canada) while a border town is minutes from the
other side, so the rule asks `neighbours` first.
"""

import math
from functools import cache

from countryinfo import all_countries

EARTH_RADIUS_KM = 6371.0


@cache
def _countries() -> tuple[dict[str, tuple[float, float]], dict[str, frozenset[str]]]:
    """(alpha-2 -> centroid, alpha-2 -> alpha-2 codes of its land neighbours)."""
    points, borders, alpha3_to_2 = {}, {}, {}
    for country in all_countries():
        iso = country.iso() or {}
        code = (iso.get("alpha2") or "").upper()
        if not code:
            continue
        if iso.get("alpha3"):
            alpha3_to_2[iso["alpha3"].upper()] = code
        latlng = country.latlng()
        if latlng and len(latlng) == 2:
            points[code] = (float(latlng[0]), float(latlng[1]))
        borders[code] = [b.upper() for b in country.borders() or []]
    neighbours = {
        code: frozenset(alpha3_to_2[b] for b in alpha3 if b in alpha3_to_2)
        for code, alpha3 in borders.items()
    }
    return points, neighbours


def distance_km(country_a: str, country_b: str) -> float | None:
    """Great-circle distance between two countries' centroids; None if either is unknown."""
    if country_a == country_b:
        return 0.0
    points, _ = _countries()
    if country_a not in points or country_b not in points:
        return None
    (lat1, lon1), (lat2, lon2) = points[country_a], points[country_b]
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def neighbours(country_a: str, country_b: str) -> bool:
    """Whether the two countries share a land border (as either one lists it)."""
    _, borders = _countries()
    return country_b in borders.get(country_a, ()) or country_a in borders.get(country_b, ())
