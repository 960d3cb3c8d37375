"""Schemathesis against the API's own schema (/api/schema/), in process, on the test database.

Every operation is fuzzed with a key holding both scopes, positive and negative data,
under all of schemathesis's checks: no 500, every status and body as documented, every
request the schema calls invalid refused, every request it calls valid accepted. A
schema-valid request may still be refused with a 400 for a rule that no schema can state
(a BIN's prefix agreeing with its network, an object that must exist): those rules are
listed below, per operation and field, and nothing else is excused.

Deterministic (a fixed seed, derandomized) and bounded, so the suite stays quick and CI
cannot flake; Hypothesis keeps no example database, so nothing is written to the repo.
"""

import itertools
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from rest_framework.test import APIClient
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bins.networks import networks_for_prefix
from tests.authorizing import decide
from tests.factories import CardFactory, make_api_client

# Hypothesis keeps its caches out of the working tree (the example database is off, below).
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "cardsystem-hypothesis")

# Examples per operation and phase: about a minute for the whole API on one core.
MAX_EXAMPLES = 25

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261203,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # The key is ours (below): generated Authorization headers would only test 401.
            "with-security-parameters": False,
        },
    }
)

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)

# Rules a schema-valid request can break, which no OpenAPI schema can state: per operation,
# the fields a 400 may then name, and why.
RULES_NO_SCHEMA_STATES = {
    "POST /api/v1/bins/": {
        "network": "a BIN's prefix agrees with its network",
        "pan_length": "the network's card numbers have this length",
        "bin": "a BIN is unique",
    },
    "POST /api/v1/cardholders/": {"date_of_birth": "a date of birth is in the past"},
    "POST /api/v1/cards/": {
        "bin": "the BIN exists and is active",
        "cardholder": "the cardholder exists",
        "limits": "a limit has at most the minor digits of the BIN's currency",
        "expiry_month": "the expiry is in the future",
        "expiry_year": "the expiry is in the future",
    },
    "PATCH /api/v1/cards/{card_id}/": {
        "detail": "a change changes something",
        "reason": "a status change says why",
        "limits": "a limit has at most the minor digits of the card's currency",
    },
    "POST /api/v1/cards/{card_id}/top-ups/": {
        "amount": "an amount has at most the minor digits of the card's currency",
    },
    "POST /api/v1/authorizations/": {
        "card_number": "a card number passes the Luhn check",
        "amount": "an amount has at most the minor digits of its currency",
        "transaction_time": "a transaction time is at most 5 minutes in the future",
    },
    "POST /api/v1/transactions/{transaction_id}/fraud-report/": {
        "reported_at": "a report is not in the future, nor before its transaction",
    },
    **{
        f"GET /api/v1/{listing}/": {"cursor": "a cursor is one the API handed out"}
        for listing in ("bins", "cardholders", "cards", "transactions")
    },
}


def accepts_valid_data_but_for_stated_rules(ctx, response, case):
    """positive_data_acceptance, except a 400 naming only fields whose rules are listed above."""
    if response.status_code == 400 and case.meta is not None and case.meta.generation.mode.is_positive:
        excused = RULES_NO_SCHEMA_STATES.get(f"{case.method.upper()} {case.path}", {})
        named = set(response.json())
        if named and named <= set(excused):
            return None
    return positive_data_acceptance(ctx, response, case)


@pytest.fixture
def world(db):
    """A key with both scopes, and one of each object for positive cases to act on: a BIN,
    a cardholder, a card with a balance, and an approval that key made."""
    _, key = make_api_client("authorize", "manage")
    headers = {"Authorization": f"Bearer {key}"}
    card = CardFactory(balance_minor=1_000_000_00)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=headers["Authorization"])
    approval = decide(api, card)
    assert approval["status"] == "approved"
    # Requests go to the WSGI application in this thread, on the test's transaction:
    # Django must not close that connection at the end of each request (its test
    # client disconnects the same receivers while it serves, as here from now on).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield SimpleNamespace(headers=headers, card=card, transaction_id=approval["id"])
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


FRESH_KEYS = itertools.count()


def aim_at_the_world(case, world):
    """Point a positive case at objects that exist, so that it reaches the validation and
    the services behind the lookup (random ids only ever find a 404). Negative cases keep
    what was generated: they test the refusals."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    card = world.card
    known = {
        "card_id": str(card.pk),
        "cardholder_id": str(card.cardholder_id),
        "transaction_id": world.transaction_id,
        "bin": card.bin.bin,
    }
    for name in case.path_parameters or {}:
        case.path_parameters[name] = known.get(name, case.path_parameters[name])
    if case.headers and "Idempotency-Key" in case.headers:
        # A fresh key: generated ones repeat, and a key used with another body is a 409
        # before the body is even read.
        case.headers["Idempotency-Key"] = f"fuzz-{next(FRESH_KEYS)}"
    body = case.body if isinstance(case.body, dict) else None
    if body is not None and case.path == "/api/v1/bins/" and isinstance(body.get("bin"), str):
        body["network"] = min(networks_for_prefix(body["bin"]))
    if body is not None and case.path == "/api/v1/cards/" and case.method.upper() == "POST":
        body.update(bin=card.bin.bin, cardholder=str(card.cardholder_id))
    if body is not None and case.path == "/api/v1/authorizations/":
        # The seeded card's own number, expiry and CVV: the decisions on a known card.
        body.update(
            card_number=card.pan,
            expiry_month=card.expiry_month,
            expiry_year=card.expiry_year,
            cvv=card.cvv,
            currency=card.currency,
        )


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_api_does_what_its_schema_says(case, world):
    # Each example starts with no rate-limit counts: schemathesis sends bad keys on purpose
    # (its check of ignored authentication), more over a run than the failures one address
    # may make in a minute, and then expects 401, not 429. The limits have their own tests
    # (tests/cardsystem/test_rate_limits.py).
    cache.clear()
    aim_at_the_world(case, world)
    case.call_and_validate(
        headers=world.headers,
        excluded_checks=[positive_data_acceptance],
        additional_checks=[accepts_valid_data_but_for_stated_rules],
    )
