"""How the card's history (transactions/queries.py) finds the card's latest card-present
time and country: one index entry per channel, however long the card's month, not a
pass over all of it. Read off each database's own plan."""

import re

import pytest
from django.db import connection

from tests.factories import CardFactory
from tests.plans import generic_plan
from tests.query_twins import AT, HOUR, card_history_twin, record
from transactions.models import Transaction
from transactions.queries import card_history_params, card_history_row, card_history_sql, card_history_values

# VACUUM, which sets the visibility map the planner reckons with, runs outside a transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def _arguments(card, *, at) -> dict:
    """The card history's arguments for a card-present attempt at `at`."""
    return {
        "card_id": card.pk,
        "at": at,
        "merchant_id": "M-1",
        "merchant_country": "US",
        "mcc": "5814",
        "channel": Transaction.Channel.POS,
        "utc_offset_minutes": 0,
        "night_ends_minute": 360,
    }


CHANNEL_INDEX = next(
    index.name
    for index in Transaction._meta.indexes
    if index.fields == ["card", "channel", "transaction_time"]
)


def test_the_latest_card_present_time_and_country_are_seeks_not_a_pass_over_the_month():
    card = CardFactory()
    channels = [Transaction.Channel.POS, Transaction.Channel.ECOMMERCE, Transaction.Channel.ATM]
    for number in range(300):  # a month of a busy card, every other hour
        record(
            card, at=AT - number * 2 * HOUR, channel=channels[number % 3], merchant_country=f"C{number % 7}"
        )
    table = connection.ops.quote_name(Transaction._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}" if connection.vendor == "postgresql" else f"ANALYZE {table}")
    # The latest card-present one before AT - HOUR: an ATM's, four hours back.
    params = card_history_params(**_arguments(card, at=AT - HOUR))

    plan = generic_plan(card_history_sql(connection.vendor), params, run=True)
    with connection.cursor() as cursor:
        cursor.execute(card_history_sql(connection.vendor), params)
        values = card_history_values(cursor.fetchone())

    assert (values["previous_present_time"], values["previous_present_country"]) == (AT - 4 * HOUR, "C2")
    if connection.vendor == "postgresql":
        seeks = re.findall(rf"Index Only Scan Backward using {CHANNEL_INDEX} .*\(actual rows=(\d+) ", plan)
        assert seeks == ["1"] * 4, plan  # the time, and again for the country's time
        # Nothing reads more than a row to filter it by channel (the country's read, at
        # the latest time exactly, does).
        for node in re.split(r"\n(?=\s*->)", plan):
            if re.search(r"Filter: .*channel", node):
                assert int(re.search(r"actual rows=(\d+)", node)[1]) <= 1, plan
    else:
        seek = "card_id=? AND channel=? AND transaction_time>? AND transaction_time<?"
        assert plan.count(f"USING COVERING INDEX {CHANNEL_INDEX} ({seek})") == 4, plan


def test_two_card_present_attempts_at_the_latest_time_give_the_country_of_the_later_stored(card):
    record(card, at=AT - HOUR, channel=Transaction.Channel.POS, merchant_country="FR")
    record(card, at=AT - HOUR, channel=Transaction.Channel.ATM, merchant_country="DE")
    record(card, at=AT - HOUR, channel=Transaction.Channel.ECOMMERCE, merchant_country="US")
    arguments = _arguments(card, at=AT)

    values = card_history_row(**arguments)

    assert (values["previous_present_time"], values["previous_present_country"]) == (AT - HOUR, "DE")
    assert values == card_history_twin(**arguments)
