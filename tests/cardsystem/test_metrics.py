"""/metrics: who may read it (this machine's loopback, unless a proxy forwarded the request,
or the METRICS_TOKEN), answered before the HTTPS redirect and the ALLOWED_HOSTS check, and
every worker's counts added up in multiprocess mode."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from tests.metrics import scrape, value

TOKEN = "metrics-token-for-the-tests-0123456789"
ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "127.0.0.2", "::ffff:127.0.0.1"])
def test_loopback_reads_the_metrics(client, address):
    response = client.get("/metrics", REMOTE_ADDR=address)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "cardsystem_authorization_decision_seconds_bucket" in response.content.decode()
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize(
    "meta",
    [
        {"REMOTE_ADDR": "10.0.0.5"},
        {"REMOTE_ADDR": "192.0.2.1"},
        {"REMOTE_ADDR": "2001:db8::1"},
        # A proxy on this machine (nginx) connects from loopback on someone else's behalf.
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": "for=203.0.113.9"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_REAL_IP": "203.0.113.9"},
    ],
)
def test_anyone_else_gets_a_404(client, meta):
    response = client.get("/metrics", **meta)

    assert response.status_code == 404
    assert b"cardsystem_" not in response.content


@override_settings(TRUSTED_PROXY_COUNT=1, REST_FRAMEWORK={"NUM_PROXIES": 1})
def test_a_request_forwarded_by_a_trusted_proxy_on_loopback_is_not_local(client):
    # The client address the rate limits use would be 127.0.0.1 here: still not local.
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")

    assert response.status_code == 404


@override_settings(METRICS_TOKEN=TOKEN)
def test_the_token_opens_the_metrics_from_anywhere(client):
    response = client.get(
        "/metrics",
        REMOTE_ADDR="10.0.0.5",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
    )

    assert response.status_code == 200
    assert "cardsystem_scorer_errors" in response.content.decode()


@override_settings(METRICS_TOKEN=TOKEN)
@pytest.mark.parametrize(
    "header", ["", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", "Bearer ", TOKEN]
)
def test_a_wrong_or_missing_token_from_elsewhere_gets_a_404(client, header, caplog):
    with caplog.at_level(logging.WARNING, logger="cardsystem.metrics_endpoint"):
        response = client.get("/metrics", REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION=header)

    assert response.status_code == 404
    assert TOKEN not in caplog.text


@override_settings(METRICS_TOKEN=TOKEN)
def test_a_wrong_token_is_logged_without_the_token(client, caplog):
    with caplog.at_level(logging.WARNING, logger="cardsystem.metrics_endpoint"):
        client.get("/metrics", REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION="Bearer guessed-token")

    assert "wrong token" in caplog.text and "guessed-token" not in caplog.text


def test_without_a_configured_token_a_bearer_token_opens_nothing(client):
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 404


def test_only_get_and_head_read_the_metrics(client):
    assert client.post("/metrics").status_code == 405
    assert client.head("/metrics").status_code == 200
    # Elsewhere, a POST learns nothing more than a GET.
    assert client.post("/metrics", REMOTE_ADDR="10.0.0.5").status_code == 404


@override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["cards.example.com"])
def test_a_scraper_over_plain_http_with_the_instances_address_as_host_is_answered(client):
    response = client.get("/metrics", HTTP_HOST="10.1.2.3:8000")

    assert response.status_code == 200


def test_a_scrape_reads_no_session(admin_client, django_assert_max_num_queries):
    # Two queries: the fraud backlog and the live versions; none for a session.
    with django_assert_max_num_queries(2):
        response = admin_client.get("/metrics")

    assert response.status_code == 200 and not response.cookies


def test_scorer_errors_are_counted_by_kind(client):
    from cardsystem import metrics

    before = value(scrape(client), "cardsystem_scorer_errors_total", kind="model_error")
    metrics.scorer_error("model_error")

    assert value(scrape(client), "cardsystem_scorer_errors_total", kind="model_error") == before + 1


@pytest.mark.parametrize(("token", "problems"), [("", []), (TOKEN, []), ("short-token", ["cardsystem.E006"])])
def test_a_short_metrics_token_fails_the_checks(settings, token, problems):
    from cardsystem.checks import check_metrics_token

    settings.METRICS_TOKEN = token

    assert [problem.id for problem in check_metrics_token(None)] == problems


RECORD = (
    "import django; django.setup(); from cardsystem import metrics; "
    "metrics.decision_recorded(status='approved', response_code='00', seconds=0.004)"
)
SCRAPE = (
    "import django; django.setup(); from cardsystem import metrics; "
    "metrics._scrape_sources.clear(); print(metrics.exposition().decode())"
)


def test_with_a_multiprocess_directory_a_scrape_adds_up_every_process(tmp_path):
    """Each gunicorn worker keeps its counts in PROMETHEUS_MULTIPROC_DIR; whichever worker
    answers a scrape reports them all."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "cardsystem.settings",
    }

    def run(code: str) -> str:
        return subprocess.run(  # noqa: S603  (this interpreter, a fixed program)
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        ).stdout

    run(RECORD)
    run(RECORD)
    text = run(SCRAPE)

    assert value(text, "cardsystem_authorization_decisions_total", status="approved", response_code="00") == 2
    assert value(text, "cardsystem_authorization_decision_seconds_count") == 2
    assert value(text, "cardsystem_authorization_decision_seconds_bucket", le="0.005") == 2
    assert value(text, "cardsystem_authorization_decision_seconds_bucket", le="0.003") == 0
