"""How the card and the cardholder were authenticated: the facts an authorization message
carries beside the card data (ISO 8583's point-of-service entry mode and CVM results, as
Lithic's `pos.entry_mode` and Stripe Issuing's `verification_data` expose them, and the
3-D Secure result of an online purchase).

Every one is optional in POST /api/v1/authorizations/: absent is unknown, stored as ""
(blank), and nothing that reads them may treat unknown as either good or bad. They are
stored on the transaction, shown to the back office and `manage` reads, and given to
the risk receivers with the attempt (transactions/signals.py); what they mean for risk
is the fraud app's business.

`device_id` (the acquirer's or wallet's opaque identifier of the shopper's device) may
identify a person: only a keyed hash of it is kept (`device_digest`), under a data key
of its own that outlives CARD_DATA_KEY rotations (cardsystem/data_keys.py), so the same
device gives the same digest for the card's whole life and the value itself is never
written anywhere.
"""

import hashlib
import hmac

from django.db import models
from rest_framework import serializers

from cardsystem import data_keys
from cardsystem.models import DataKey

DEVICE_ID_MAX_LENGTH = 128
DEVICE_DIGEST_LENGTH = 64  # hex of HMAC-SHA256


class EntryMode(models.TextChoices):
    """How the card number reached the terminal (ISO 8583 field 22, Lithic's entry mode)."""

    CHIP = "chip", "Chip (EMV contact)"
    CONTACTLESS = "contactless", "Contactless (chip or wallet)"
    MAGSTRIPE = "magstripe", "Magnetic stripe"
    KEYED = "keyed", "Keyed by hand"
    ECOMMERCE = "ecommerce", "E-commerce (typed by the shopper)"
    CREDENTIAL_ON_FILE = "credential_on_file", "Credential on file"


class CardholderVerification(models.TextChoices):
    """How the cardholder was verified (the CVM results)."""

    PIN_VERIFIED = "pin_verified", "PIN verified"
    PIN_FAILED = "pin_failed", "PIN failed"
    SIGNATURE = "signature", "Signature"
    CONSUMER_DEVICE = "consumer_device", "On the shopper's device (wallet biometrics or passcode)"
    NO_CVM = "no_cvm", "None (no CVM)"


class ThreeDS(models.TextChoices):
    """The 3-D Secure result of an online purchase."""

    AUTHENTICATED = "authenticated", "Authenticated"
    ATTEMPTED = "attempted", "Attempted (issuer not enrolled or not answering)"
    FAILED = "failed", "Failed"
    NOT_PERFORMED = "not_performed", "Not performed"


# The columns and the request's fields, by name (device_id arrives; device_hash is kept).
STORED = ("entry_mode", "cardholder_verification", "three_ds", "device_hash")
UNKNOWN = {name: "" for name in STORED}


def device_digest(device_id: str) -> str:
    """The keyed hash stored for a device identifier ("" for none): HMAC-SHA256 under the
    device-digest data key, hex. The same identifier always gives the same digest."""
    if not device_id:
        return ""
    key = data_keys.newest_secret(DataKey.Purpose.DEVICE_DIGEST)
    return hmac.new(key, device_id.encode(), hashlib.sha256).hexdigest()


# --- The request's fields (POST /api/v1/authorizations/) ----------------------------------------


def _choice(choices: type[models.TextChoices], help_text: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices.choices, required=False, help_text=help_text)


def request_fields() -> dict[str, serializers.Field]:
    """The optional fields of the authorization request, by name."""
    return {
        "entry_mode": _choice(EntryMode, "How the card number was read; absent: unknown."),
        "cardholder_verification": _choice(
            CardholderVerification, "How the cardholder was verified (CVM); absent: unknown."
        ),
        "three_ds": _choice(ThreeDS, "The 3-D Secure result of an online purchase; absent: unknown."),
        "device_id": serializers.RegexField(
            r"\A[\x21-\x7e]{1,128}\Z",
            max_length=DEVICE_ID_MAX_LENGTH,
            required=False,
            trim_whitespace=False,
            help_text="The shopper's device as the acquirer or wallet identifies it (1-128 printable "
            "ASCII characters, no spaces). Only a keyed hash of it is kept.",
            error_messages={"invalid": "1 to 128 printable ASCII characters, no spaces."},
        ),
    }


def from_request(data: dict) -> dict:
    """The stored facts of a validated request (`data` loses the fields it gives)."""
    return {
        "entry_mode": data.pop("entry_mode", ""),
        "cardholder_verification": data.pop("cardholder_verification", ""),
        "three_ds": data.pop("three_ds", ""),
        "device_hash": device_digest(data.pop("device_id", "")),
    }
