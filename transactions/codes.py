"""The decisions an authorization can end in: ISO 8583 field 39 codes and their reasons."""

from enum import Enum


class Decision(Enum):
    """(response code, reason) of the public contract, in the order they are checked."""

    APPROVED = ("00", "approved")
    INVALID_CARD = ("14", "invalid_card")
    RESTRICTED_CARD = ("62", "restricted_card")
    LOST_CARD = ("41", "lost_card")
    STOLEN_CARD = ("43", "stolen_card")
    EXPIRED_CARD = ("54", "expired_card")
    CVV_MISMATCH = ("N7", "cvv_mismatch")
    INCORRECT_PIN = ("55", "incorrect_pin")
    NOT_PERMITTED = ("57", "transaction_not_permitted")
    EXCEEDS_LIMIT = ("61", "exceeds_amount_limit")
    INSUFFICIENT_FUNDS = ("51", "insufficient_funds")
    SUSPECTED_FRAUD = ("59", "suspected_fraud")
    VERIFICATION_REQUIRED = ("1A", "verification_required")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def reason(self) -> str:
        return self.value[1]

    @property
    def approved(self) -> bool:
        return self is Decision.APPROVED


def risk_decision(*, decline: bool, verification: str | None) -> Decision:
    """Where risk decides, every earlier check passed: 59 for the score's decline, else 1A
    where a step-up asks for the cardholder's verification, else 00. The one place of that
    order, which the live decision, shadow mode and backtests all follow."""
    if decline:
        return Decision.SUSPECTED_FRAUD
    return Decision.VERIFICATION_REQUIRED if verification else Decision.APPROVED


RESPONSE_CODE_CHOICES = [(d.code, f"{d.code} {d.reason}") for d in Decision]
REASON_CHOICES = [(d.reason, d.reason) for d in Decision]
