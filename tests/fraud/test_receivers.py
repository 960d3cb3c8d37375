"""The fraud app's receivers: scoring each attempt (failing closed) and reacting to the
outcome. (Which configuration scores, and when a process sees a new one:
tests/fraud/test_versions.py.)"""

import pytest

from fraud import scoring
from tests.authorizing import authorize_at, codes
from tests.fraud.clock import NOW

# Requests at the clock's NOW unless a test gives its own time (conftest.py `clock`).
authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db


def test_a_failing_scorer_declines_as_suspected_fraud(card, monkeypatch):
    def broken(attempt):
        raise RuntimeError("database went away")

    monkeypatch.setattr(scoring, "assess", broken)
    decided = authorize(card)
    assert (decided.response_code, decided.risk_score, decided.risk_level) == ("59", 100, "high")
    assert codes(decided) == ["risk_engine_error"]
