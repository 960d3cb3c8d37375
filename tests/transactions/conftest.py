import pytest

from fraud import scoring
from fraud.models import FraudSettings, Rule
from tests.factories import CardFactory


@pytest.fixture(autouse=True)
def _fresh_fraud_config():
    """The fraud configuration is cached per process for a few seconds, across the
    rollback that ends each test: drop it on both sides, so that no test sees another
    test's thresholds or rules."""
    scoring.forget_config()
    yield
    scoring.forget_config()


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
        scoring.forget_config()

    return set_thresholds


@pytest.fixture
def rule(db):
    """Enable a fraud rule with the given points (whatever earlier tests left behind)."""

    def set_rule(code: str, score: int, **params) -> None:
        Rule.objects.update_or_create(
            code=code, defaults={"name": code, "score": score, "enabled": True, "params": params}
        )
        scoring.forget_config()

    return set_rule
