"""The response codes of the contract and the order they are decided in: the first
check that fails decides (14, 62, 41/43, 54, N7, 55, 57, 61, 51, 59)."""

import datetime
import uuid

import pytest
import time_machine

from cards.models import LedgerEntry
from cards.services import card_change_status, card_set_limits
from fraud.models import CountryRisk, FraudAlert, FraudSettings, MerchantCategoryRisk, Rule
from tests.authorizing import api_body, balance, decide, wrong_cvv
from tests.factories import TEST_ACTOR, CardFactory
from tests.fraud.configuration import go_live
from transactions.models import Transaction

pytestmark = pytest.mark.django_db

REASONS = {
    "00": "approved",
    "14": "invalid_card",
    "54": "expired_card",
    "62": "restricted_card",
    "41": "lost_card",
    "43": "stolen_card",
    "N7": "cvv_mismatch",
    "55": "incorrect_pin",
    "57": "transaction_not_permitted",
    "61": "exceeds_amount_limit",
    "51": "insufficient_funds",
    "59": "suspected_fraud",
}


def status(value):
    def apply(card):
        card_change_status(card=card, status=value, reason="test", actor=TEST_ACTOR)

    return apply


def limits(**values):
    def apply(card):
        card_set_limits(card=card, limits=values, actor=TEST_ACTOR)

    return apply


def blocked_mcc(card):
    MerchantCategoryRisk.objects.update_or_create(mcc="7995", defaults={"level": "blocked"})
    go_live()


def unknown_number(card):
    card.pan = "4000001234567899"


def risky(card):
    """Make a purchase abroad score at the decline threshold (one rule of 80 points)."""
    Rule.objects.update_or_create(
        code="foreign_country", defaults={"name": "Abroad", "score": 80, "enabled": True}
    )
    row = FraudSettings.objects.first() or FraudSettings()
    row.review_threshold, row.decline_threshold = 50, 80
    row.save()
    go_live()


WRONG_CVV = {"cvv": wrong_cvv}
NOT_THE_CARDS_MONTH = {"expiry_month": lambda card: card.expiry_month % 12 + 1}
NOT_THE_CARDS_YEAR = {"expiry_year": lambda card: card.expiry_year + 1}
TOO_MUCH = {"amount": "100.01"}
WRONG_PIN = {"entry_mode": "chip", "cardholder_verification": "pin_failed"}
ABROAD = {"merchant_country": "GB"}

# (setups applied to an active card holding 100.00, request changes, code)
CASES = {
    "approved": ([], {}, "00"),
    "no card with this number": ([unknown_number], {}, "14"),
    "inactive": ([status("inactive")], {}, "62"),
    "blocked": ([status("blocked")], {}, "62"),
    "closed": ([status("closed")], {}, "62"),
    "lost": ([status("lost")], {}, "41"),
    "stolen": ([status("stolen")], {}, "43"),
    "expired status": ([status("expired")], {}, "54"),
    "expiry month not the card's": ([], NOT_THE_CARDS_MONTH, "54"),
    "expiry year not the card's": ([], NOT_THE_CARDS_YEAR, "54"),
    "wrong cvv": ([], WRONG_CVV, "N7"),
    "wrong pin": ([], WRONG_PIN, "55"),
    "right pin": ([], {**WRONG_PIN, "cardholder_verification": "pin_verified"}, "00"),
    "currency not the card's": ([], {"currency": "EUR"}, "57"),
    "blocked country": ([], {"merchant_country": "KP"}, "57"),
    "blocked merchant category": ([blocked_mcc], {"mcc": "7995"}, "57"),
    "over the per-transaction limit": ([limits(per_transaction=40_00)], {}, "61"),
    "over the daily limit": ([limits(daily=40_00)], {}, "61"),
    "over the monthly limit": ([limits(monthly=40_00)], {}, "61"),
    "above the balance": ([], TOO_MUCH, "51"),
    "risk at the decline threshold": ([risky], ABROAD, "59"),
    # Two checks fail: the earlier one decides.
    "unknown card, wrong everything": ([unknown_number], {**WRONG_CVV, **TOO_MUCH, "currency": "EUR"}, "14"),
    "blocked card with a wrong expiry": ([status("blocked")], NOT_THE_CARDS_YEAR, "62"),
    "lost card with a wrong cvv": ([status("lost")], WRONG_CVV, "41"),
    "stolen card above the balance": ([status("stolen")], TOO_MUCH, "43"),
    "expired status with a wrong cvv": ([status("expired")], WRONG_CVV, "54"),
    "wrong expiry and wrong cvv": ([], {**NOT_THE_CARDS_MONTH, **WRONG_CVV}, "54"),
    "wrong cvv in a foreign currency": ([], {**WRONG_CVV, "currency": "EUR"}, "N7"),
    "wrong cvv in a blocked country": ([], {**WRONG_CVV, "merchant_country": "IR"}, "N7"),
    "wrong cvv above the balance": ([], {**WRONG_CVV, **TOO_MUCH}, "N7"),
    "wrong cvv and wrong pin": ([], {**WRONG_CVV, **WRONG_PIN}, "N7"),
    "stolen card with a wrong pin": ([status("stolen")], WRONG_PIN, "43"),
    "wrong pin in a foreign currency": ([], {**WRONG_PIN, "currency": "EUR"}, "55"),
    "wrong pin above the balance and risky": ([risky], {**WRONG_PIN, **ABROAD, **TOO_MUCH}, "55"),
    "foreign currency over a limit": ([limits(per_transaction=40_00)], {"currency": "EUR"}, "57"),
    "blocked category above the balance": ([blocked_mcc], {"mcc": "7995", **TOO_MUCH}, "57"),
    "over a limit and above the balance": ([limits(per_transaction=50_00)], TOO_MUCH, "61"),
    "above the balance and risky": ([risky], {**ABROAD, **TOO_MUCH}, "51"),
    "over a limit and risky": ([risky, limits(daily=40_00)], ABROAD, "61"),
}


@pytest.mark.parametrize(("setups", "changes", "code"), CASES.values(), ids=CASES.keys())
def test_the_first_failing_check_decides(authorize_api, card, setups, changes, code):
    for setup in setups:
        setup(card)
    changes = {name: value(card) if callable(value) else value for name, value in changes.items()}

    answer = decide(authorize_api, card, **changes)

    assert (answer["response_code"], answer["reason"]) == (code, REASONS[code])
    assert answer["status"] == ("approved" if code == "00" else "declined")
    assert balance(card) == (58_00 if code == "00" else 100_00)
    assert LedgerEntry.objects.filter(kind="debit").count() == (code == "00")


def test_the_data_migration_blocks_north_korea_and_iran():
    blocked = set(CountryRisk.objects.filter(level="blocked").values_list("country", flat=True))

    assert {"KP", "IR"} <= blocked


def test_a_blocked_country_or_category_names_itself_among_the_factors(authorize_api, card):
    blocked_mcc(card)

    country = decide(authorize_api, card, merchant_country="KP")
    category = decide(authorize_api, card, mcc="7995")

    assert country["risk_factors"][0]["code"] == "blocked_country"
    assert category["risk_factors"][0]["code"] == "blocked_mcc"


def test_a_cvv_is_not_checked_when_absent(authorize_api, card):
    without_cvv = api_body(card, omit=("cvv",))

    answer = decide(authorize_api, without_cvv)

    assert answer["response_code"] == "00"
    assert Transaction.objects.get().cvv_result == "absent"


# --- Risk -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("decline_at", "code", "level"), [(10, "59", "high"), (11, "00", "low")])
def test_declines_as_suspected_fraud_when_the_score_reaches_the_threshold(
    authorize_api, card, rule, thresholds, decline_at, code, level
):
    rule("foreign_country", 10)
    thresholds(review=decline_at, decline=decline_at)

    answer = decide(authorize_api, card, merchant_country="GB")

    assert (answer["risk_score"], answer["response_code"], answer["risk_level"]) == (10, code, level)
    assert answer["flagged"] is (code == "59")
    assert FraudAlert.objects.filter(transaction_id=answer["id"]).exists() is (code == "59")


def test_a_score_between_review_and_decline_approves_and_opens_an_alert(
    authorize_api, card, rule, thresholds
):
    rule("foreign_country", 10)
    thresholds(review=10, decline=50)

    answer = decide(authorize_api, card, merchant_country="GB")

    assert (answer["response_code"], answer["risk_level"], answer["flagged"]) == ("00", "medium", True)
    assert FraudAlert.objects.get().transaction_id == uuid.UUID(answer["id"])


# --- Expiry, judged on transaction_time ---------------------------------------------------------------

ISSUED = datetime.datetime(2026, 1, 10, 12, tzinfo=datetime.UTC)
MARCH_1ST = datetime.datetime(2026, 3, 1, 0, 40, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("transaction_time", "code"),
    [
        (None, "54"),  # now: the card expired with February
        ("2026-03-01T00:00:00Z", "54"),
        ("2026-02-28T23:59:59Z", "00"),  # store-and-forward from before the expiry
        ("2026-03-01T00:20:00+01:00", "00"),  # 23:20 UTC on February 28th
        ("2026-02-28T23:30:00-01:00", "54"),  # 00:30 UTC on March 1st
    ],
)
def test_the_expiry_is_judged_on_the_utc_date_of_transaction_time(authorize_api, transaction_time, code):
    with time_machine.travel(ISSUED, tick=False):
        card = CardFactory(balance_minor=100_00, expiry_month=2, expiry_year=2026)
    changes = {"transaction_time": transaction_time} if transaction_time else {}

    with time_machine.travel(MARCH_1ST, tick=False):
        answer = decide(authorize_api, card, **changes)

    assert answer["response_code"] == code


# --- Limits, measured on transaction_time ------------------------------------------------------------

NOW = datetime.datetime(2026, 3, 16, 12, tzinfo=datetime.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def spending(api, card):
    def at(transaction_time: str, amount: str) -> str:
        return decide(api, card, amount=amount, transaction_time=transaction_time)["response_code"]

    return at


@pytest.mark.parametrize(("amount", "code"), [("50.00", "00"), ("50.01", "61")])
def test_the_per_transaction_limit_admits_its_own_amount(authorize_api, frozen, amount, code):
    card = CardFactory(balance_minor=1000_00, limits={"per_transaction": 50_00})

    assert decide(authorize_api, card, amount=amount)["response_code"] == code


def test_the_daily_limit_is_the_utc_calendar_day_of_transaction_time(authorize_api, frozen):
    at = spending(authorize_api, CardFactory(balance_minor=1000_00, limits={"daily": 100_00}))

    assert at("2026-03-15T10:00:00Z", "60.00") == "00"
    assert at("2026-03-15T23:30:00Z", "50.00") == "61"
    assert at("2026-03-16T00:30:00+01:00", "50.00") == "61"  # 23:30 UTC on the 15th
    assert at("2026-03-16T00:00:00Z", "50.00") == "00"  # the next UTC day
    assert at("2026-03-15T20:00:00Z", "40.00") == "00"  # up to the limit: declines did not count
    assert at("2026-03-15T21:00:00Z", "0.01") == "61"


def test_the_monthly_limit_is_the_utc_calendar_month_of_transaction_time(authorize_api, frozen):
    at = spending(
        authorize_api, CardFactory(balance_minor=1000_00, limits={"daily": 100_00, "monthly": 150_00})
    )

    assert at("2026-02-01T00:00:00Z", "100.00") == "00"
    assert at("2026-02-28T23:59:59Z", "50.00") == "00"
    assert at("2026-02-15T12:00:00Z", "0.01") == "61"
    assert at("2026-03-01T00:30:00+01:00", "0.01") == "61"  # still February in UTC
    assert at("2026-03-01T00:00:00Z", "100.00") == "00"
    assert at("2026-01-31T23:59:59Z", "100.00") == "00"


def test_a_limit_counts_only_this_cards_approvals(authorize_api, frozen):
    card = CardFactory(balance_minor=1000_00, limits={"daily": 100_00})
    other = CardFactory(balance_minor=1000_00, limits={"daily": 100_00})
    decide(authorize_api, other, amount="100.00", transaction_time="2026-03-16T10:00:00Z")

    assert decide(authorize_api, card, amount="100.00")["response_code"] == "00"
