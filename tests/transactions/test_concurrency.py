"""Concurrent authorizations and reversals on one card, on real threads with their own
database connections (SQLite: a file database with IMMEDIATE transactions; PostgreSQL:
the card row locked for each decision). Money is measured, not scoring: the velocity
rules, which would score the burst, are off."""

import pytest
from rest_framework.test import APIClient

from cards.models import LedgerEntry
from cards.services import ledger_mismatches
from tests.authorizing import balance, decide, disable_velocity_rules, post_authorization, post_reversal
from tests.concurrency import run_concurrently
from tests.factories import CardFactory, make_api_client
from transactions.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


@pytest.fixture
def key():
    disable_velocity_rules()
    return make_api_client("authorize")[1]


def api_for(key) -> APIClient:
    """A client of its own (each thread needs one) with the key's credentials."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


def authorizing(key, card, **changes):
    def one(index):
        # A second apart, all on one UTC day long past: no window straddles midnight.
        answer = decide(api_for(key), card, transaction_time=f"2026-01-15T12:00:{index:02d}Z", **changes)
        return answer["response_code"]

    return one


def test_concurrent_authorizations_never_overdraw_the_card(key):
    card = CardFactory(balance_minor=100_00)

    codes = run_concurrently(THREADS, authorizing(key, card, amount="10.00"))

    assert sorted(codes) == ["00"] * 10 + ["51"] * 10
    assert balance(card) == 0
    debits = LedgerEntry.objects.filter(card=card, kind="debit")
    assert debits.count() == 10
    assert sorted(debits.values_list("balance_after_minor", flat=True)) == [1000 * n for n in range(10)]
    assert Transaction.objects.filter(card=card).count() == THREADS
    assert not ledger_mismatches().exists()


def test_concurrent_authorizations_never_pass_the_daily_limit(key):
    card = CardFactory(balance_minor=1000_00, limits={"daily": 50_00})

    codes = run_concurrently(THREADS, authorizing(key, card, amount="10.00"))

    assert sorted(codes) == ["00"] * 5 + ["61"] * 15
    assert balance(card) == 950_00
    assert LedgerEntry.objects.filter(card=card, kind="debit").count() == 5
    assert not ledger_mismatches().exists()


def test_concurrent_reversals_of_one_approval_credit_it_once(key):
    card = CardFactory(balance_minor=100_00)
    approved = post_authorization(api_for(key), card, amount="40.00").json()["id"]

    def reverse(index):
        return post_reversal(api_for(key), approved).status_code

    statuses = run_concurrently(10, reverse)

    assert sorted(statuses) == [201] + [409] * 9
    assert balance(card) == 100_00
    assert LedgerEntry.objects.filter(card=card, kind="reversal").count() == 1
    assert not ledger_mismatches().exists()


def test_concurrent_authorizations_and_reversals_keep_the_ledger_whole(key):
    card = CardFactory(balance_minor=100_00)
    api = api_for(key)
    earlier = [post_authorization(api, card, amount="10.00").json()["id"] for _ in range(5)]
    spend = authorizing(key, card, amount="10.00")

    def work(index):
        if index < len(earlier):
            return post_reversal(api_for(key), earlier[index]).status_code
        return spend(index)

    results = run_concurrently(15, work)

    assert results[:5] == [201] * 5
    approved = results[5:].count("00")
    assert balance(card) == 100_00 - 10_00 * approved >= 0
    assert 5 <= approved <= 10
    assert not ledger_mismatches().exists()
