"""Secret keys derived from CARD_DATA_KEY: one per purpose, by HKDF.

A key leaked from one use (say, the request-digest key) tells nothing about another
(the PAN encryption key). Only the derivation lives here, at the ground floor: the card
data keys are used by cards/pan.py alone, the request-digest key by the idempotency store.
"""

from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_KEY_LENGTH = 32


class CardDataError(Exception):
    """Key material missing or a ciphertext that cannot be read. Never carries card data."""


@cache
def derive(material: str, purpose: str) -> bytes:
    """The 32-byte key for `purpose` from a CARD_DATA_KEY string (current or old)."""
    validate_key(material)
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"cardsystem:{purpose}".encode()
    ).derive(material.encode())


def validate_key(material: str) -> None:
    """Raise CardDataError if `material` cannot serve as CARD_DATA_KEY."""
    if len(material) < MIN_KEY_LENGTH:
        raise CardDataError(f"CARD_DATA_KEY must be at least {MIN_KEY_LENGTH} characters.")
