"""A server process's warm-up (cardsystem/warmup.py) loads what the first decision needs:
the live configuration version and its model, parsed; a failure of any step is logged and
swallowed, and what it would have loaded loads at the first decision instead."""

import logging

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from cardsystem import process_cache
from cardsystem.warmup import warm_up
from fraud import inference, scoring
from fraud.configuration import ModelChoice
from fraud.services import model_activate
from fraud.versions import live_version
from tests.authorizing import authorize_at, factors
from tests.factories import TEST_ACTOR
from tests.fraud.clock import NOW
from tests.fraud.modelling import history, train

authorize = authorize_at(NOW)

pytestmark = pytest.mark.django_db


@pytest.fixture
def active(card):
    history(card)
    model = train()
    model_activate(model=model, actor=TEST_ACTOR)
    process_cache.forget_all()  # a fresh process: nothing loaded yet
    return model


def test_warm_up_loads_the_live_configuration_and_parses_the_active_model(active, django_assert_num_queries):
    assert warm_up() == {"cardsystem": "ok", "transactions": "ok", "fraud": "ok"}

    # Everything the first decision reads about the engine is now in memory.
    with django_assert_num_queries(0):
        config = scoring.load_config()
        model = inference.active_model()
    assert config.version == live_version().number
    assert config.model == ModelChoice(active.pk, active.version)
    assert (model.pk, model.version) == (active.pk, active.version)
    assert model.booster.num_trees() > 0


def test_without_a_warm_up_the_first_decision_loads_them(active):
    """The counterpart of the test above: the same reads are not free before a warm-up."""
    with CaptureQueriesContext(connection) as config_reads:
        scoring.load_config()
    with CaptureQueriesContext(connection) as model_reads:
        inference.active_model()

    assert len(config_reads) > 0 and len(model_reads) > 0


def test_a_failed_step_is_logged_and_swallowed_and_the_first_decision_loads_lazily(
    active, card, monkeypatch, caplog
):
    def broken():
        raise RuntimeError("model store unreachable")

    monkeypatch.setattr(inference, "active_model", broken)
    with caplog.at_level(logging.INFO, logger="cardsystem.warmup"):
        outcomes = warm_up()

    assert outcomes == {"cardsystem": "ok", "transactions": "ok", "fraud": "failed"}
    failed = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(failed) == 1 and "warm-up of fraud failed" in failed[0].getMessage()
    assert "model store unreachable" in caplog.text  # with its traceback
    assert "warm-up done" in caplog.text

    monkeypatch.undo()
    decided = authorize(card)
    assert "model" in factors(decided)  # loaded at the first decision instead


def test_a_database_away_at_start_up_is_logged_and_swallowed(monkeypatch, caplog):
    def away():
        raise OperationalError("connection refused")

    monkeypatch.setattr("cardsystem.warmup.connect_databases", away)
    with caplog.at_level(logging.ERROR, logger="cardsystem.warmup"):
        outcomes = warm_up()

    assert outcomes["cardsystem"] == "failed" and outcomes["fraud"] == "ok"
    assert "warm-up of cardsystem failed" in caplog.text and "connection refused" in caplog.text
