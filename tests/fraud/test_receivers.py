"""The fraud app's receivers: scoring each attempt (failing closed), reacting to the
outcome, and forgetting the per-process configuration when staff change it."""

import pytest

from fraud import scoring
from fraud.models import CountryRisk, FraudSettings, MerchantCategoryRisk, Rule
from tests.authorizing import authorize_at, codes
from tests.fraud.clock import MINUTE, NOW
from tests.fraud.configuration import list_country, list_mcc, set_rule

# Requests at the clock's NOW unless a test gives its own time (conftest.py `clock`).
authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db

CONFIG_QUERIES = 4  # settings, rules, countries, merchant categories


def _later(card, minutes, **changes):
    return authorize(card, transaction_time=NOW + minutes * MINUTE, **changes)


def test_a_saved_rule_applies_to_the_very_next_decision(card):
    assert "foreign_country" in codes(_later(card, 1, merchant_country="FR"))  # configuration cached
    set_rule("foreign_country", enabled=False)
    assert "foreign_country" not in codes(_later(card, 2, merchant_country="FR"))


def test_saved_settings_apply_to_the_very_next_decision(card):
    assert _later(card, 1, merchant_country="FR").risk_level == "low"
    settings = FraudSettings.objects.get()
    settings.review_threshold = 10
    settings.save()
    assert _later(card, 2, merchant_country="FR").risk_level == "medium"


def test_saved_and_deleted_risk_list_entries_apply_to_the_very_next_decision(card):
    assert _later(card, 1, mcc="1234").risk_factors == []
    entry = list_mcc("1234")
    assert codes(_later(card, 2, mcc="1234")) == ["high_risk_mcc"]
    entry.delete()
    assert _later(card, 3, mcc="1234").risk_factors == []
    list_country("FR", level="blocked")
    assert _later(card, 4, merchant_country="FR").response_code == "57"
    CountryRisk.objects.get(country="FR").delete()
    assert _later(card, 5, merchant_country="FR").response_code == "00"


def test_a_queryset_update_needs_forget_config(card):
    # .update() sends no post_save: the process keeps its copy for CONFIG_TTL_SECONDS
    # unless whoever updates calls forget_config (fraud.services' config functions do).
    assert "foreign_country" in codes(_later(card, 1, merchant_country="FR"))
    Rule.objects.filter(code="foreign_country").update(enabled=False)
    assert "foreign_country" in codes(_later(card, 2, merchant_country="FR"))
    scoring.forget_config()
    assert "foreign_country" not in codes(_later(card, 3, merchant_country="FR"))


def test_a_queryset_update_applies_once_the_copy_is_older_than_its_time_to_live(card, monkeypatch):
    assert "high_risk_mcc" in codes(_later(card, 1, mcc="7995"))
    MerchantCategoryRisk.objects.filter(mcc="7995").update(level="blocked")
    monkeypatch.setattr(scoring, "CONFIG_TTL_SECONDS", 0)
    assert _later(card, 2, mcc="7995").response_code == "57"


def test_the_configuration_is_read_once_within_its_time_to_live(card, django_assert_num_queries):
    scoring.load_config()
    with django_assert_num_queries(0):
        scoring.load_config()


def test_a_change_is_forgotten_again_at_commit(django_capture_on_commit_callbacks, django_assert_num_queries):
    # A decision in this process between the save and the commit reads the rows as they
    # were and would keep them: the copy is dropped once more when the change commits.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        set_rule("foreign_country", score=12)
        scoring.load_config()
    assert callbacks
    with django_assert_num_queries(CONFIG_QUERIES):
        scoring.load_config()


def test_a_failing_scorer_declines_as_suspected_fraud(card, monkeypatch):
    def broken(attempt):
        raise RuntimeError("database went away")

    monkeypatch.setattr(scoring, "assess", broken)
    decided = authorize(card)
    assert (decided.response_code, decided.risk_score, decided.risk_level) == ("59", 100, "high")
    assert codes(decided) == ["risk_engine_error"]
