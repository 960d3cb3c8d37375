"""Card data protection: the only module that uses the card data keys.

Everything here is a function of its arguments and the configured keys:
- PAN generation (cryptographically random, Luhn-valid) and masking;
- PAN encryption at rest with AES-256-GCM, each ciphertext tagged with the id of the
  CARD_DATA_KEY it was made under;
- a keyed fingerprint (HMAC-SHA256) to find a card by its PAN without storing it;
- CVV derivation: never stored, recomputed from PAN, expiry and the card's card
  verification key (CVK), as an issuer's HSM derives CVV2 (service code 000).

Encryption and fingerprint keys are derived from one CARD_DATA_KEY string by
cardsystem/keys.py, a separate key per purpose, so a leaked fingerprint key tells
nothing about the encryption key. The CVK is not: a printed CVV must keep verifying
for the card's whole life, whatever happens to CARD_DATA_KEY, so each card names the
version of the CVK its CVV was computed with, a random key stored wrapped under
CARD_DATA_KEY (cardsystem/data_keys.py).

Rotation: set a new CARD_DATA_KEY and move the old one to CARD_DATA_OLD_KEYS (cards
are then read and found under either), run `manage.py rotate_card_key`, which
re-encrypts and re-fingerprints every card under the new key (`reencrypt_pan`) and
re-wraps the CVKs, then remove the old key. Recognising a card number in text needs
no key and lives below, in cardsystem/card_numbers.py.
"""

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from cardsystem import data_keys, keys
from cardsystem.card_numbers import luhn_check_digit
from cardsystem.keys import CardDataError, configured_keys, derive, key_with_id
from cardsystem.models import DataKey

_NONCE_BYTES = 12
_AAD = b"cardsystem:pan:v1"


# --- Numbers ---------------------------------------------------------------------------


def generate_pan(prefix: str, length: int) -> str:
    """A random Luhn-valid PAN of `length` digits starting with `prefix`."""
    body_length = length - len(prefix) - 1
    if body_length < 1:
        raise ValueError("The PAN must be longer than its prefix.")
    body = "".join(str(secrets.randbelow(10)) for _ in range(body_length))
    partial = prefix + body
    return partial + luhn_check_digit(partial)


def visible_digits(pan_length: int) -> tuple[int, int]:
    """How many leading and trailing digits a masked PAN may show.

    PCI DSS allows at most the first six and last four. On short PANs that would
    reveal nearly everything, so at least six digits always stay hidden.
    """
    last = 4
    first = max(0, min(6, pan_length - last - 6))
    return first, last


def mask_pan(pan: str) -> str:
    first, last = visible_digits(len(pan))
    return pan[:first] + "*" * (len(pan) - first - last) + pan[-last:]


def bin_prefix(pan: str) -> str:
    """The leading digits the masked number shows (six for 16 to 19 digits): the issuer's
    range, for counting attempts across its cards, never more than mask_pan reveals."""
    return pan[: visible_digits(len(pan))[0]]


# --- Keys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _KeySet:
    key_id: str
    encryption: bytes
    fingerprint: bytes


@cache
def _keyset(material: str) -> _KeySet:
    return _KeySet(
        key_id=keys.key_id(material),
        encryption=derive(material, "pan-encryption"),
        fingerprint=derive(material, "pan-fingerprint"),
    )


def _current() -> _KeySet:
    return _keyset(settings.CARD_DATA_KEY)


def _all() -> list[_KeySet]:
    return [_keyset(material) for material in configured_keys()]


def _by_id(wanted: str) -> _KeySet:
    return _keyset(key_with_id(wanted))


def current_key_id() -> str:
    """The id of CARD_DATA_KEY: what a card encrypted under it has as `pan_key_id`."""
    return _current().key_id


def configured_key_ids() -> list[str]:
    """The ids of CARD_DATA_KEY and of every key in CARD_DATA_OLD_KEYS, current first."""
    return [keyset.key_id for keyset in _all()]


# --- Encryption and lookup ----------------------------------------------------------


def encrypt_pan(pan: str) -> tuple[str, bytes]:
    """Encrypt under the current key. Returns (key id, nonce + ciphertext)."""
    keyset = _current()
    nonce = os.urandom(_NONCE_BYTES)
    return keyset.key_id, nonce + AESGCM(keyset.encryption).encrypt(nonce, pan.encode(), _AAD)


def decrypt_pan(key_id: str, blob: bytes) -> str:
    keyset = _by_id(key_id)
    blob = bytes(blob)
    try:
        return AESGCM(keyset.encryption).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _AAD).decode()
    except Exception as error:  # InvalidTag and friends: say nothing about the content
        raise CardDataError("A stored card number could not be decrypted.") from error


def pan_fingerprint(pan: str) -> str:
    """The keyed hash, under the current key, that a new card is stored and found under."""
    return hmac.new(_current().fingerprint, pan.encode(), hashlib.sha256).hexdigest()


def pan_fingerprints(pan: str) -> list[str]:
    """The PAN's fingerprint under every configured key, to find cards of any key generation."""
    return [hmac.new(k.fingerprint, pan.encode(), hashlib.sha256).hexdigest() for k in _all()]


def reencrypt_pan(key_id: str, blob: bytes) -> tuple[str, bytes, str]:
    """A card's number moved to the current key, for rotation: (key id, ciphertext,
    fingerprint) to store in place of the old ones. The PAN exists in clear only here."""
    pan = decrypt_pan(key_id, blob)
    new_key_id, encrypted = encrypt_pan(pan)
    return new_key_id, encrypted, pan_fingerprint(pan)


# --- CVV ---------------------------------------------------------------------------------


def cvv_length(pan: str) -> int:
    """American Express prints a four-digit CID; everyone else a three-digit CVV2."""
    return 4 if pan[:2] in ("34", "37") else 3


def newest_cvk() -> DataKey:
    """The card verification key a card issued now takes (its `cvk`)."""
    return data_keys.newest(DataKey.Purpose.CARD_VERIFICATION)


def compute_cvv(*, pan: str, expiry_month: int, expiry_year: int, cvk_id) -> str:
    """Derive the CVV2 from PAN, expiry (YYMM) and service code 000 under the card's CVK
    (the DataKey `cvk_id`).

    Like an HSM's CVV algorithm, a keyed one-way function decimalised to the printed
    length; HMAC-SHA256 stands in for the DES-based CVK computation.
    """
    message = f"{pan}|{expiry_year % 100:02d}{expiry_month:02d}|000".encode()
    digest = hmac.new(data_keys.secret(cvk_id), message, hashlib.sha256).digest()
    length = cvv_length(pan)
    return str(int.from_bytes(digest[:8], "big") % 10**length).zfill(length)


def cvv_matches(*, cvv: str, pan: str, expiry_month: int, expiry_year: int, cvk_id) -> bool:
    expected = compute_cvv(pan=pan, expiry_month=expiry_month, expiry_year=expiry_year, cvk_id=cvk_id)
    return hmac.compare_digest(expected.encode(), cvv.encode())
