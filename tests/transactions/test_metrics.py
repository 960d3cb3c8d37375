"""What an authorization adds to /metrics: one count under its outcome and response code and
one latency observation, at commit only; a failed risk receiver counted as a scorer error.
Counters live as long as the process, so each test compares a scrape before with one after."""

import pytest

from tests.authorizing import STRANGER, decide, post_authorization
from tests.metrics import scrape, value
from transactions.signals import authorization_attempted

pytestmark = pytest.mark.django_db

DECISIONS = "cardsystem_authorization_decisions_total"
LATENCY = "cardsystem_authorization_decision_seconds"
CODES = [("approved", "00"), ("declined", "51"), ("declined", "14"), ("declined", "59")]


def counts(client) -> dict:
    text = scrape(client)
    return {
        **{
            (status, code): value(text, DECISIONS, status=status, response_code=code)
            for status, code in CODES
        },
        "observed": value(text, f"{LATENCY}_count"),
        "seconds": value(text, f"{LATENCY}_sum"),
        "under 1 s": value(text, f"{LATENCY}_bucket", le="1.0"),
        "in all": value(text, f"{LATENCY}_bucket", le="+Inf"),
    }


def test_each_decision_counts_under_its_status_and_code_with_its_latency(
    client, authorize_api, card, django_capture_on_commit_callbacks
):
    before = counts(client)
    with django_capture_on_commit_callbacks(execute=True):
        decide(authorize_api, card)  # 00
        decide(authorize_api, card, amount="500.00")  # 51: above the balance
        decide(authorize_api, STRANGER)  # 14
        assert post_authorization(authorize_api, card, mcc="abc").status_code == 400  # no decision
    after = counts(client)

    assert after[("approved", "00")] - before[("approved", "00")] == 1
    assert after[("declined", "51")] - before[("declined", "51")] == 1
    assert after[("declined", "14")] - before[("declined", "14")] == 1
    assert after[("declined", "59")] == before[("declined", "59")]
    assert after["observed"] - before["observed"] == 3
    assert after["in all"] - before["in all"] == 3
    assert after["seconds"] > before["seconds"]


def test_a_decision_is_counted_only_once_committed(
    client, authorize_api, card, django_capture_on_commit_callbacks
):
    before = counts(client)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        decide(authorize_api, card)

    assert counts(client) == before  # not committed (yet): not counted
    for callback in callbacks:
        callback()
    assert counts(client)[("approved", "00")] - before[("approved", "00")] == 1


def test_a_failed_risk_receiver_is_counted_as_a_scorer_error(client, authorize_api, card):
    def broken(sender, **kwargs):
        raise RuntimeError("scoring is down")

    before = value(scrape(client), "cardsystem_scorer_errors_total", kind="risk_engine_error")
    authorization_attempted.connect(broken, weak=False, dispatch_uid="test-metrics-broken")
    try:
        answer = decide(authorize_api, card)
    finally:
        authorization_attempted.disconnect(dispatch_uid="test-metrics-broken")

    assert answer["response_code"] == "59"
    assert value(scrape(client), "cardsystem_scorer_errors_total", kind="risk_engine_error") == before + 1


def test_no_label_carries_card_data(client, authorize_api, card, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        decide(authorize_api, card, merchant_id="M-LABEL-CHECK")
        decide(authorize_api, STRANGER)
    text = scrape(client)

    # Digits alone could match a process metric's value by chance: the forms a label would carry.
    for secret in (card.pan, card.masked_pan, STRANGER.pan, "400000******7899", "M-LABEL-CHECK"):
        assert secret not in text
