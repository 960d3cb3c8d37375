"""Distances between countries, for the impossible-travel rule.

Countries are points (their centroid, from the countryinfo package): coarse, but the
rule only asks whether a card could have travelled between two countries in the
time between two of its transactions.
"""

import math
from functools import cache

from countryinfo import all_countries

EARTH_RADIUS_KM = 6371.0


@cache
def _centroids() -> dict[str, tuple[float, float]]:
    points = {}
    for country in all_countries():
        code = (country.iso() or {}).get("alpha2")
        latlng = country.latlng()
        if code and latlng and len(latlng) == 2:
            points[code.upper()] = (float(latlng[0]), float(latlng[1]))
    return points


def distance_km(country_a: str, country_b: str) -> float | None:
    """Great-circle distance between two countries' centroids; None if either is unknown."""
    if country_a == country_b:
        return 0.0
    points = _centroids()
    if country_a not in points or country_b not in points:
        return None
    (lat1, lon1), (lat2, lon2) = points[country_a], points[country_b]
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))
