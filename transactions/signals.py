"""The seam between authorizations and risk scoring.

The transactions app announces each authorization and its recorded outcome; whoever
scores risk (the fraud app) listens. transactions never imports fraud.
"""

import datetime
from dataclasses import dataclass, field

from django.dispatch import Signal

from cards.models import Card


@dataclass(frozen=True)
class RiskFactor:
    code: str
    score: int
    detail: str

    def as_dict(self) -> dict:
        return {"code": self.code, "score": self.score, "detail": self.detail}


@dataclass(frozen=True)
class AuthorizationAttempt:
    """What is known about an authorization before its decision. The card row is
    locked for the duration of the decision."""

    card: Card
    amount_minor: int
    currency: str
    merchant_id: str
    merchant_name: str
    mcc: str
    merchant_country: str
    channel: str
    transaction_time: datetime.datetime
    cvv_result: str
    bin_prefix: str = ""  # the card number's leading digits, as its masked form shows them
    expiry_result: str = "unchecked"  # Transaction.ExpiryResult: a wrong one counts like a wrong CVV
    # How card and cardholder were authenticated (transactions/authentication_facts.py);
    # "" is unknown. The device as the keyed hash stored, never the identifier given.
    entry_mode: str = ""
    cardholder_verification: str = ""
    three_ds: str = ""
    device_hash: str = ""


@dataclass(frozen=True)
class RiskAssessment:
    """A scorer's answer.

    score: 0-100; level: low, medium or high; factors: why.
    decline: the score reaches the decline threshold (decided 59 unless an earlier
    check declines first).
    review: open a fraud alert for an analyst (the transaction is `flagged`).
    restriction: a reason the transaction is not permitted at all (decided 57), such
    as a blocked merchant category or country.
    verification: a reason to ask for the cardholder's verification (decided 1A, a soft
    decline: the purchase is made again with the PIN, unless an earlier check declines
    first). Only an in-person attempt whose cardholder was not verified can be asked.
    block_card: a reason to block the card with this decision (for example the Nth
    wrong CVV in a row); the scorer acts on it when the outcome is announced.
    features: the values the scorer looked at, kept with the decision for analysts.
    config_version: the number of the scorer's configuration version that decided,
    kept with the decision (None: no versioned configuration).
    rule_summary: the rules that added points in a form the database counts cheaply,
    kept with the decision (the scorer's own encoding; "" when it gives none).
    """

    score: int
    level: str
    factors: list[RiskFactor] = field(default_factory=list)
    decline: bool = False
    review: bool = False
    restriction: str | None = None
    verification: str | None = None
    block_card: str | None = None
    features: dict = field(default_factory=dict)
    config_version: int | None = None
    rule_summary: str = ""


NO_RISK = RiskAssessment(score=0, level="low")

authorization_attempted = Signal()
"""Sent by the authorization service before it decides, inside its database
transaction, for every request on a known card.

Keyword arguments: `attempt` (AuthorizationAttempt; it holds no card number or CVV).
A receiver returns a RiskAssessment (or None to abstain); the answers of several
receivers add up. Receivers only read: they run in a savepoint of their own. When a
receiver raises (a failed query included) or answers anything else, the authorization
fails closed: it is still recorded, with score 100 and the single factor
`risk_engine_error`, and declined as suspected fraud (59) unless an earlier check of the
contract's order declines it first.
"""

authorization_recorded = Signal()
"""Sent after the decision is recorded, inside the same database transaction.

Keyword arguments: `transaction` (transactions.models.Transaction) and `assessment`
(the combined RiskAssessment, NO_RISK for unknown cards).
Receivers act on the outcome (fraud alerts, card blocks); they return nothing. When
one raises, the whole authorization rolls back: no decision stands without its
reactions.
"""

fraud_reported = Signal()
"""Sent when a transaction is labelled fraud, inside the report's database transaction.

Keyword arguments: `report` (transactions.models.FraudReport, its transaction loaded).
Receivers note what the new label changes (counts taken before it); they return nothing.
When one raises, the report rolls back and is not stored: no label without its notes.
"""
