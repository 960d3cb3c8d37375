"""The cards and facts the tests of fraud/authentication.py's rules share
(tests/fraud/test_authentication_rules.py, tests/fraud/test_step_up_rules.py)."""

from tests.authorizing import authorize_at, factors
from tests.factories import CardFactory
from tests.fraud.clock import DAY, NOW

authorize = authorize_at(NOW)

AUTHENTICATION_RULES = {
    "magstripe_new_merchant": 25,
    "magstripe_again": 80,
    "magstripe_abroad": 80,
    "pin_failed_new_merchant": 25,
    "pin_failure_then_unverified": 80,
    "no_cvm_burst": 20,
    "three_ds_failed_new_merchant": 30,
    "new_device_3ds_failed": 80,
    "new_device_unauthenticated_abroad": 40,
    "unverified_cash_out_again": 0,  # a step-up: it answers 1A, its points add nothing
    "unverified_cash_out_new_category": 0,  # the same
}
NEW = {"merchant_id": "M-NEW"}  # a merchant the card never used
STRIPE = {"entry_mode": "magstripe", "cardholder_verification": "signature"}
TAP = {"entry_mode": "contactless", "cardholder_verification": "no_cvm"}
ONLINE = {"channel": "ecommerce", "entry_mode": "ecommerce", "cardholder_verification": "no_cvm"}


def chip_card():
    """A new card of a US cardholder, read by chip with its PIN two days ago at the coffee shop."""
    card = CardFactory(balance_minor=1_000_000_00)
    by_chip(card, NOW - 2 * DAY)
    return card


def by_chip(card, at, **changes):
    fields = {"entry_mode": "chip", "cardholder_verification": "pin_verified", **changes}
    wrong_pin = fields["cardholder_verification"] == "pin_failed"
    assert authorize(card, transaction_time=at, **fields).response_code == ("55" if wrong_pin else "00")


def fired(decided) -> dict[str, int]:
    return {code: f["score"] for code, f in factors(decided).items() if code in AUTHENTICATION_RULES}
