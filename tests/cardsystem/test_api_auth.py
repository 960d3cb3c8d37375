"""Who may call the API: Bearer keys, scopes, and the open schema and docs."""

import re
import uuid

import pytest
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

from bins.models import Bin
from cards.models import Card, Cardholder, LedgerEntry
from cardsystem.audit import Actor
from cardsystem.models import AuditLog, IdempotencyRecord
from cardsystem.services import api_client_for_key, api_client_revoke
from tests.factories import CardFactory, make_api_client

pytestmark = pytest.mark.django_db


def written():
    return {
        model.__name__: model.objects.count()
        for model in (Bin, Cardholder, Card, LedgerEntry, AuditLog, IdempotencyRecord)
    }


def assert_nothing_written_but_the_failure_audited(before):
    """At most one audit row: the address's first failed authentication in the window."""
    after = written()
    failures = AuditLog.objects.filter(action=AuditLog.Action.API_AUTH_FAILED)
    assert {**after, "AuditLog": before["AuditLog"]} == before
    assert after["AuditLog"] - before["AuditLog"] == failures.count() <= 1
    assert "csk_" not in str(list(failures.values_list("details", flat=True)))


@pytest.fixture
def card():
    return CardFactory()


def manage_requests(card):
    """One request to each management operation, as (method, url, body)."""
    return [
        ("get", "/api/v1/bins/", None),
        (
            "post",
            "/api/v1/bins/",
            {
                "bin": "510000",
                "network": "mastercard",
                "issuer_name": "Bank",
                "card_type": "credit",
                "country": "GB",
                "currency": "GBP",
            },
        ),
        ("get", f"/api/v1/bins/{card.bin.bin}/", None),
        ("get", "/api/v1/cardholders/", None),
        ("post", "/api/v1/cardholders/", {"name": "Ada", "date_of_birth": "1985-12-10", "country": "GB"}),
        ("get", f"/api/v1/cardholders/{card.cardholder_id}/", None),
        ("get", "/api/v1/cards/", None),
        ("post", "/api/v1/cards/", {"bin": card.bin.bin, "cardholder": str(card.cardholder_id)}),
        ("get", f"/api/v1/cards/{card.pk}/", None),
        ("patch", f"/api/v1/cards/{card.pk}/", {"status": "blocked", "reason": "test"}),
        ("post", f"/api/v1/cards/{card.pk}/top-ups/", {"amount": "10.00"}),
    ]


def send(api, method, url, body):
    if body is None:
        return getattr(api, method)(url)
    return getattr(api, method)(url, body, format="json", HTTP_IDEMPOTENCY_KEY=f"{method} {url}")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Token csk_whatever",
        "Basic dXNlcjpwYXNz",
        "Bearer csk_not-a-real-key",
        "Bearer not-even-our-prefix",
        "bearer csk_" + "x" * 43,
    ],
)
def test_answers_401_without_a_valid_key_and_writes_nothing(card, authorization):
    api = APIClient()
    if authorization is not None:
        api.credentials(HTTP_AUTHORIZATION=authorization)
    before = written()

    for method, url, body in manage_requests(card):
        response = send(api, method, url, body)

        assert response.status_code == 401, (method, url)
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
        assert "detail" in response.json()
    assert_nothing_written_but_the_failure_audited(before)


def test_a_revoked_key_is_refused(card):
    client, key = make_api_client("manage")
    api_client_revoke(client=client, actor=Actor.system("tests"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    before = written()

    for method, url, body in manage_requests(card):
        response = send(api, method, url, body)

        assert response.status_code == 401, (method, url)
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert_nothing_written_but_the_failure_audited(before)


def test_a_key_revoked_between_requests_is_refused_from_the_next_one(card):
    client, key = make_api_client("manage")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/cards/").status_code == 200

    api_client_revoke(client=client, actor=Actor.system("tests"))

    assert api.get("/api/v1/cards/").status_code == 401


def test_a_key_finds_its_whole_client_in_one_query(django_assert_num_queries):
    client, key = make_api_client("authorize", "manage")

    with django_assert_num_queries(1):
        found = api_client_for_key(key)
        assert (found.pk, found.name, found.key_hash) == (client.pk, client.name, client.key_hash)
        assert (found.scopes, found.is_active, found.created_at) == (client.scopes, True, client.created_at)
    assert not found.get_deferred_fields()
    assert api_client_for_key(key[:-1]) is None and api_client_for_key("x" + key) is None


def test_a_key_without_the_manage_scope_is_forbidden(authorize_api, card):
    before = written()

    for method, url, body in manage_requests(card):
        response = send(authorize_api, method, url, body)

        assert response.status_code == 403, (method, url)
        assert "scope" in response.json()["detail"]
    assert written() == before


def test_a_key_with_the_manage_scope_may_do_everything(manage_api, card):
    for method, url, body in manage_requests(card):
        response = send(manage_api, method, url, body)

        assert response.status_code in (200, 201), (method, url, response.json())


def test_a_key_with_both_scopes_may_manage(card):
    _, key = make_api_client("authorize", "manage")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    assert api.get("/api/v1/cards/").status_code == 200


def test_the_schema_is_open_without_a_key(anonymous_api):
    response = anonymous_api.get("/api/schema/?format=json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_the_docs_page_loads_without_a_key_from_self_hosted_files(anonymous_api):
    response = anonymous_api.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "/api/schema/" in page
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', page)
    assert any("swagger-ui-bundle.js" in asset for asset in assets)
    assert all(finders.find(asset) for asset in assets), assets
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
@pytest.mark.parametrize(
    "url",
    ["/api/v1/nothing/", "/api/v2/cards/", f"/api/v1/cards/{uuid.uuid4()}/x/"],
    # Fixed ids: a random one would differ between the parallel workers' collections.
    ids=["/api/v1/nothing/", "/api/v2/cards/", "/api/v1/cards/<unknown id>/x/"],
)
def test_an_unknown_api_url_is_a_json_404(manage_api, method, url):
    response = getattr(manage_api, method)(url)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_url_without_its_trailing_slash_is_a_json_404_naming_the_right_one(manage_api):
    body = {"name": "Ada", "date_of_birth": "1985-12-10", "country": "GB"}

    response = manage_api.post("/api/v1/cardholders", body, format="json")

    assert response.status_code == 404
    assert "/api/v1/cardholders/" in response.json()["detail"]
    assert Cardholder.objects.count() == 0


def test_an_unsupported_method_is_a_json_405(manage_api, card):
    response = manage_api.delete(f"/api/v1/cards/{card.pk}/")

    assert response.status_code == 405
    assert "detail" in response.json()
    assert Card.objects.filter(pk=card.pk).exists()
