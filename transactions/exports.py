"""The columns of the transactions export (cardsystem/exports.py): the decision as the
authorization service recorded it, the card by its stored masked number only."""

from cardsystem.exports import Column, column, external_text
from cardsystem.money import to_major


def factor_codes(factors: list[dict] | None) -> str:
    """The codes of the recorded risk factors, in their order: "velocity_1h foreign_country"."""
    return " ".join(f.get("code", "") for f in factors or [])


def amount(prefix: str = "") -> Column:
    """The amount in major units ("42.00"), of the transaction `prefix` leads to."""
    return column("amount", f"{prefix}amount_minor", f"{prefix}currency", write=to_major)


TRANSACTION_COLUMNS = [
    column("id"),
    column("transaction_time"),
    column("card", "masked_pan"),
    column("card_id"),
    amount(),
    column("currency"),
    column("merchant_id"),
    column("merchant_name", write=external_text),
    column("mcc"),
    column("merchant_country"),
    column("channel"),
    column("status"),
    column("response_code"),
    column("reason"),
    column("cvv_result"),
    column("expiry_result"),
    column("risk_score"),
    column("risk_level"),
    column("risk_factors", write=factor_codes),
    column("flagged"),
    column("reversed_at"),
    column("created_at"),
]
