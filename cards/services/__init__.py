"""Cardholders, card issuing, the card lifecycle, limits and the balance ledger.

Every function here is the single place its rule lives: the admin, the API and the
management commands all call these, inside the transaction each one opens. Import them
from here; each module holds one section.
"""

from cards.services.balance import CREDITABLE, card_top_up, check_top_up, ledger_mismatches
from cards.services.cardholders import cardholder_create
from cards.services.issuing import (
    DEFAULT_VALIDITY_YEARS,
    MAX_VALIDITY_YEARS,
    IssuedCard,
    card_assign,
    card_credentials,
    card_get_by_pan,
    card_issue,
    card_issue_bulk,
    default_expiry,
)
from cards.services.key_rotation import KeyRotation, card_data_key_rotate, cards_by_older_key
from cards.services.lifecycle import (
    LIMIT_FIELDS,
    TRANSITIONS,
    card_change_status,
    card_set_limits,
    card_update,
    needs_approval_to_change,
)
from cards.services.replacement import card_replace, card_to_credit

__all__ = [
    "CREDITABLE",
    "DEFAULT_VALIDITY_YEARS",
    "LIMIT_FIELDS",
    "MAX_VALIDITY_YEARS",
    "TRANSITIONS",
    "IssuedCard",
    "KeyRotation",
    "card_assign",
    "card_change_status",
    "card_credentials",
    "card_data_key_rotate",
    "card_get_by_pan",
    "card_issue",
    "card_issue_bulk",
    "card_replace",
    "card_set_limits",
    "card_to_credit",
    "card_top_up",
    "card_update",
    "cardholder_create",
    "cards_by_older_key",
    "check_top_up",
    "default_expiry",
    "ledger_mismatches",
    "needs_approval_to_change",
]
