"""Concurrent top-ups through the API, on real threads with their own database
connections (SQLite: a file database with IMMEDIATE transactions; PostgreSQL)."""

import pytest
from django.db.models import Sum
from rest_framework.test import APIClient

from cards.models import Card, LedgerEntry
from cards.services import ledger_mismatches
from tests.concurrency import run_concurrently
from tests.factories import CardFactory, make_api_client

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


def test_concurrent_top_ups_all_add_up():
    card = CardFactory()
    _, key = make_api_client("manage")

    def one_top_up(index):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        response = api.post(
            f"/api/v1/cards/{card.pk}/top-ups/", {"amount": "10.00", "reference": f"t{index}"}, format="json"
        )
        return response.status_code

    statuses = run_concurrently(THREADS, one_top_up)

    assert statuses == [201] * THREADS
    card.refresh_from_db()
    entries = LedgerEntry.objects.filter(card=card)
    assert card.balance_minor == 20000
    assert entries.count() == THREADS
    assert entries.aggregate(total=Sum("amount_minor"))["total"] == card.balance_minor
    assert sorted(entries.values_list("balance_after_minor", flat=True)) == [
        1000 * n for n in range(1, THREADS + 1)
    ]


def _manage_api(key):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


def test_concurrent_replacements_of_one_card_issue_exactly_one():
    card = CardFactory(balance_minor=10_000)
    _, key = make_api_client("manage")

    def one_replacement(index):
        response = _manage_api(key).post(
            f"/api/v1/cards/{card.pk}/replace/", {"reason": f"attempt {index}"}, format="json"
        )
        return response.status_code

    statuses = run_concurrently(5, one_replacement)

    assert sorted(statuses) == [201, 409, 409, 409, 409]
    new = Card.objects.get(replaces=card)
    assert Card.objects.get(pk=card.pk).balance_minor == 0 and new.balance_minor == 10_000
    assert not ledger_mismatches().exists()


def test_top_ups_racing_a_replacement_all_end_on_the_new_card_or_are_refused():
    card = CardFactory(balance_minor=10_000)
    _, key = make_api_client("manage")

    def replace_or_top_up(index):
        api = _manage_api(key)
        if index == 0:
            return api.post(
                f"/api/v1/cards/{card.pk}/replace/", {"reason": "Race."}, format="json"
            ).status_code
        return api.post(f"/api/v1/cards/{card.pk}/top-ups/", {"amount": "10.00"}, format="json").status_code

    statuses = run_concurrently(THREADS, replace_or_top_up)

    assert statuses[0] == 201 and set(statuses[1:]) <= {201, 400}
    topped_up = statuses[1:].count(201)
    new = Card.objects.get(replaces=card)
    assert Card.objects.get(pk=card.pk).balance_minor == 0
    assert new.balance_minor == 10_000 + 1000 * topped_up
    assert not ledger_mismatches().exists()
