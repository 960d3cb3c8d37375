import pytest

from fraud.geography import distance_km, neighbours


@pytest.mark.parametrize(("a", "b", "low", "high"), [("US", "FR", 7_500, 7_900), ("GB", "FR", 850, 1_000)])
def test_the_distance_between_two_countries_is_between_their_centroids(a, b, low, high):
    assert low < distance_km(a, b) < high
    assert distance_km(a, b) == pytest.approx(distance_km(b, a))


def test_a_country_is_no_distance_from_itself():
    assert distance_km("FR", "FR") == 0.0


@pytest.mark.parametrize("unknown", ["CW", "AQ", "XX"])
def test_a_country_without_a_centroid_has_no_distance(unknown):
    assert distance_km("US", unknown) is None and distance_km(unknown, "US") is None


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("US", "CA", True), ("CA", "US", True), ("FR", "DE", True), ("GB", "IE", True), ("GB", "FR", False)],
)
def test_neighbours_share_a_land_border(a, b, expected):
    assert neighbours(a, b) is expected
