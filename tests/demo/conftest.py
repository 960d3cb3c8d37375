import pytest
import time_machine

from tests.fraud.clock import NOW


@pytest.fixture(autouse=True)
def clock():
    """Time starts at NOW and runs on (arrivals keep their order), as in tests/fraud: the
    simulated worlds end at NOW and their decisions are scored at their planned times."""
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller
