import pytest

from fraud.models import FraudSettings, Rule
from tests.factories import CardFactory
from tests.fraud.configuration import go_live


@pytest.fixture
def card(db):
    """An active USD card holding 100.00, its cardholder living in the US."""
    return CardFactory(balance_minor=100_00)


@pytest.fixture
def thresholds(db):
    """Set the fraud engine's review and decline thresholds."""

    def set_thresholds(*, review: int, decline: int) -> None:
        row = FraudSettings.objects.first() or FraudSettings()
        row.review_threshold, row.decline_threshold = review, decline
        row.save()
        go_live()

    return set_thresholds


@pytest.fixture
def rule(db):
    """Enable a fraud rule with the given points (whatever earlier tests left behind)."""

    def set_rule(code: str, score: int, **params) -> None:
        Rule.objects.update_or_create(
            code=code, defaults={"name": code, "score": score, "enabled": True, "params": params}
        )
        go_live()

    return set_rule
