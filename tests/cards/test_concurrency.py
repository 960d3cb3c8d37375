"""Concurrent top-ups through the API, on real threads with their own database
connections (SQLite: a file database with IMMEDIATE transactions; PostgreSQL)."""

import pytest
from django.db.models import Sum
from rest_framework.test import APIClient

from cards.models import LedgerEntry
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
