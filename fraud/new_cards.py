"""Where detection was weakest: cards with little history, and card checks failed at a
merchant the card never used.

Beside an active model each rule counts at the `model` rule's `rule_weight`; on a card
with fewer than its `full_weight_below_approvals` approvals in 30 days (a new or
replaced card) they count in full (`rules_in_full`): the model learnt from cards with
habits, and on a card without any it has little to go on. And one rule,
card_check_new_merchant. Both read only values every decision stores
(`card_approved_count_30d`, `first_merchant`, `cvv_mismatch`, `expiry_mismatch`,
`home_country`), so a backtest re-decides them exactly.
"""

from fraud.configuration import FraudConfig

NEW_MERCHANT = "card_check_new_merchant"

# A wrong CVV or expiry date is declined, and the model trains on approvals only: it
# never learnt from such attempts, so beside it this rule's points count in full.
FULL_WEIGHT = frozenset({NEW_MERCHANT})


def rules_in_full(values: dict, config: FraudConfig) -> bool:
    """Whether the rules keep their full points beside the model: on a card with fewer
    than the `model` rule's `full_weight_below_approvals` approvals in 30 days. Without
    that param, never."""
    below = config.rules["model"].params.get("full_weight_below_approvals")
    return below is not None and values["card_approved_count_30d"] < int(below)


def card_check_new_merchant(ctx, params):
    """A wrong CVV or expiry date at a merchant this card never used, outside the
    cardholder's home country: someone trying card details where nobody knows the
    cardholder (a cardholder who mistypes does it mostly at home, where they shop)."""
    v = ctx.values
    home = v["home_country"]
    if (
        not (v["cvv_mismatch"] or v["expiry_mismatch"])
        or not v["first_merchant"]
        or home is None
        or ctx.attempt.merchant_country == home
    ):
        return None
    return (
        f"Wrong CVV or expiry date at merchant {ctx.attempt.merchant_id} in {ctx.attempt.merchant_country}, "
        f"new to this card (cardholder lives in {home})."
    )


RULES = {NEW_MERCHANT: card_check_new_merchant}
