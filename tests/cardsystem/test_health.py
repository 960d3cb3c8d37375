"""The load balancers' probes: /healthz (the process serves) and /readyz (the database
and a shared cache answer), with no key, over plain HTTP, whatever the Host."""

import pytest
from django.test import override_settings

from tests.outages import database_away

UNREACHABLE_REDIS = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}


def test_healthz_answers_ok_without_a_query(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_neither_reads_nor_refreshes_a_staff_session(admin_client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = admin_client.get("/healthz")

    assert response.status_code == 200 and not response.cookies


def test_healthz_answers_while_the_database_is_away(transactional_db, client):
    with database_away():
        response = client.get("/healthz")

    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_answers_ok_when_the_database_answers(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "not configured"}
    assert "Retry-After" not in response


@pytest.mark.django_db
def test_readyz_checks_a_shared_cache_with_a_round_trip(client, tmp_path):
    # Any cache outside the process is probed; a file-based one stands in for Redis.
    backend = "django.core.cache.backends.filebased.FileBasedCache"
    shared = {"default": {"BACKEND": backend, "LOCATION": tmp_path}}
    with override_settings(CACHES=shared):
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert any(tmp_path.iterdir())  # it really wrote


def test_readyz_is_503_while_the_database_is_away(transactional_db, client):
    with database_away():
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable", "cache": "not configured"}
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
def test_readyz_is_503_when_the_configured_cache_is_away(client):
    with override_settings(CACHES=UNREACHABLE_REDIS):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "cache": "unavailable"}
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_plain_http_for_any_host_while_https_is_enforced(client, settings, path):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["cards.example.com"]

    probed = client.get(path, HTTP_HOST="10.0.3.7:8000")
    other = client.get("/api/v1/bins/", HTTP_HOST="cards.example.com")

    assert probed.status_code == 200
    assert other.status_code == 301 and other["Location"].startswith("https://")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_only_get_and_head(client, path):
    response = client.post(path)

    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
