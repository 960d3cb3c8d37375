"""The fraud engine in /metrics: the model's failures counted as scorer errors, and the
gauges read at scrape time from the database (the alert backlog, the live configuration
version, the active model's version)."""

import logging

import pytest

from fraud import inference
from fraud.models import FraudAlert, FraudModel
from fraud.services import alert_open, model_activate
from fraud.versions import live_version
from tests.authorizing import authorize_at, factors
from tests.factories import TEST_ACTOR
from tests.fraud.clock import HOUR, NOW
from tests.fraud.configuration import set_rule
from tests.fraud.modelling import history, train
from tests.metrics import scrape, value

authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db


def test_a_model_that_cannot_run_is_counted_as_a_scorer_error(client, card, caplog):
    history(card)
    model = train()
    model_activate(model=model, actor=TEST_ACTOR)
    FraudModel.objects.filter(pk=model.pk).update(artifact="not a model")
    inference.forget_model()
    before = value(scrape(client), "cardsystem_scorer_errors_total", kind="model_error")

    with caplog.at_level(logging.ERROR, logger="fraud.scoring"):
        decided = authorize(card)
        authorize(card)

    assert "model_error" in factors(decided)
    assert value(scrape(client), "cardsystem_scorer_errors_total", kind="model_error") == before + 2


def test_a_decision_without_a_model_error_counts_none(client, card):
    before = value(scrape(client), "cardsystem_scorer_errors_total", kind="model_error")
    authorize(card)

    assert value(scrape(client), "cardsystem_scorer_errors_total", kind="model_error") == before


def test_the_backlog_counts_unresolved_alerts_by_status_and_the_oldest_ones_age(client, card):
    alerts = [alert_open(transaction=authorize(card), reason="a test") for _ in range(5)]
    FraudAlert.objects.filter(pk=alerts[0].pk).update(created_at=NOW - HOUR)
    FraudAlert.objects.filter(pk=alerts[1].pk).update(status=FraudAlert.Status.INVESTIGATING)
    FraudAlert.objects.filter(pk=alerts[2].pk).update(
        status=FraudAlert.Status.FALSE_POSITIVE, created_at=NOW - 10 * HOUR
    )
    FraudAlert.objects.filter(pk=alerts[3].pk).update(status=FraudAlert.Status.CONFIRMED_FRAUD)

    text = scrape(client)

    assert value(text, "cardsystem_fraud_alerts_unresolved", status="open") == 2
    assert value(text, "cardsystem_fraud_alerts_unresolved", status="investigating") == 1
    # The resolved alert ten hours old does not count; the clock ticks on from NOW.
    assert 3600 <= value(text, "cardsystem_fraud_alert_oldest_unresolved_age_seconds") < 3900


def test_an_empty_backlog_reads_zero(client):
    text = scrape(client)

    assert value(text, "cardsystem_fraud_alerts_unresolved", status="open") == 0
    assert value(text, "cardsystem_fraud_alert_oldest_unresolved_age_seconds") == 0


def test_the_live_configuration_and_model_versions_follow_promotions(client, card):
    first = live_version().number
    text = scrape(client)
    assert value(text, "cardsystem_fraud_config_live_version") == first
    assert value(text, "cardsystem_fraud_model_active_version") == 0  # the rules alone

    set_rule("amount_large", score=25)
    assert value(scrape(client), "cardsystem_fraud_config_live_version") == live_version().number > first

    history(card)
    model = train()
    model_activate(model=model, actor=TEST_ACTOR)
    text = scrape(client)
    assert value(text, "cardsystem_fraud_config_live_version") == live_version().number
    assert value(text, "cardsystem_fraud_model_active_version") == model.version


def test_the_scrape_time_gauges_cost_two_queries(client, django_assert_num_queries):
    with django_assert_num_queries(2):
        scrape(client)
