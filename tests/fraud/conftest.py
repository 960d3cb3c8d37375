import pytest
import time_machine

from fraud.models import CountryRisk
from tests.factories import CardFactory
from tests.fraud.clock import NOW
from tests.fraud.configuration import go_live


@pytest.fixture(autouse=True)
def clock():
    """Time starts at NOW and runs on (arrivals keep their order); requests carry
    explicit transaction times relative to NOW."""
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def card(db):
    """An active USD card of a US cardholder aged 41, with 1,000,000.00 to spend."""
    return CardFactory(balance_minor=100_000_000)


@pytest.fixture
def rich_card(db):
    return CardFactory(balance_minor=100_000_000)


@pytest.fixture
def high_risk_country(db):
    """Nigeria on the high-risk list: NG (30) + gambling MCC 7995 (20) + abroad (10) = 60,
    above the review threshold (50), under the decline threshold (80)."""
    CountryRisk.objects.create(country="NG", level=CountryRisk.Level.HIGH_RISK)
    go_live()
