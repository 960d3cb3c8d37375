"""The transaction's own facts, as a rule reads them (fraud/rules.py): the same from the
attempt being decided and from the transaction recorded, so that a backtest
(fraud/backtest.py) reads the facts the live decision read."""

import datetime
from dataclasses import dataclass


@dataclass(frozen=True)
class Facts:
    """The transaction's own facts, as the attempt has them and the record keeps them."""

    amount_minor: int
    currency: str
    merchant_id: str
    mcc: str
    merchant_country: str
    channel: str
    transaction_time: datetime.datetime
    cvv_result: str
    expiry_result: str
    bin_prefix: str
    # How card and cardholder were authenticated (transactions/authentication_facts.py): "" unknown.
    entry_mode: str = ""
    cardholder_verification: str = ""
    three_ds: str = ""

    @classmethod
    def of(cls, source) -> "Facts":
        """From an AuthorizationAttempt or a Transaction: both name them alike."""
        return cls(**{name: getattr(source, name) for name in cls.__dataclass_fields__})
