"""Secret keys derived from CARD_DATA_KEY: one per purpose, by HKDF, and the wrapping of
the data keys that must outlive it.

A key leaked from one use (say, the key that wraps data keys) tells nothing about
another (the PAN encryption key). Only the derivation, the key ids and the wrapping
primitive live here, at the ground floor: card data keys are used by cards/pan.py
alone, wrapped data keys (card verification keys, the request-digest key) by
cardsystem/data_keys.py.

Each CARD_DATA_KEY has a public id (`key_id`): what every ciphertext and wrapped key
made under it is tagged with, so that the key to read it is found among CARD_DATA_KEY
and CARD_DATA_OLD_KEYS (rotation), and the operator can tell which data still uses
which key without ever seeing one.
"""

import hashlib
import os
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

MIN_KEY_LENGTH = 32
_NONCE_BYTES = 12


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


@cache
def key_id(material: str) -> str:
    """The public id of a CARD_DATA_KEY (a hash of a key derived for nothing else)."""
    return hashlib.sha256(derive(material, "key-id")).hexdigest()[:8]


def configured_keys() -> list[str]:
    """CARD_DATA_KEY, then every key of CARD_DATA_OLD_KEYS."""
    return [settings.CARD_DATA_KEY, *settings.CARD_DATA_OLD_KEYS]


def key_with_id(wanted: str) -> str:
    """The configured CARD_DATA_KEY (current or old) whose id is `wanted`."""
    for material in configured_keys():
        if key_id(material) == wanted:
            return material
    raise CardDataError(f"No configured card data key has id {wanted}.")


# --- Wrapping: a secret stored encrypted under a CARD_DATA_KEY ----------------------------


def wrap(secret: bytes, *, label: str) -> tuple[str, bytes]:
    """Encrypt `secret` under the current CARD_DATA_KEY's wrapping key, bound to `label`
    (what the secret is, so that one wrapped key cannot be passed off as another).
    Returns (the wrapping key's id, nonce + ciphertext)."""
    material = settings.CARD_DATA_KEY
    nonce = os.urandom(_NONCE_BYTES)
    return key_id(material), nonce + AESGCM(derive(material, "key-wrapping")).encrypt(
        nonce, secret, label.encode()
    )


def unwrap(wrapping_key_id: str, blob: bytes, *, label: str) -> bytes:
    blob = bytes(blob)
    kek = derive(key_with_id(wrapping_key_id), "key-wrapping")
    try:
        return AESGCM(kek).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], label.encode())
    except Exception as error:  # InvalidTag and friends: say nothing about the content
        raise CardDataError(f"A data key wrapped under key {wrapping_key_id} cannot be unwrapped.") from error
