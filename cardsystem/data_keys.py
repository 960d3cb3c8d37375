"""Data keys: the secrets that must not change when CARD_DATA_KEY does, kept wrapped.

A CVV printed on a card was computed with a card verification key (CVK), and a stored
Idempotency-Key digest with the request-digest key; neither result can be computed
again under a new key (the card is in the cardholder's wallet, the request body was
never kept). So these keys are not derived from CARD_DATA_KEY: each is a random secret
of its own, stored in a DataKey row encrypted ("wrapped") under the current
CARD_DATA_KEY, as an issuer's HSM keeps its CVKs enciphered under its master key.
Rotating CARD_DATA_KEY re-wraps them (`data_keys_rewrap`) and changes none.

An unwrapped secret is kept in this process under its row's id (a UUID, never reused):
a version's secret never changes, so the authorization path reads it from memory, not
from the database, after the first time.
"""

import math
import os

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from cardsystem import keys
from cardsystem.models import DataKey
from cardsystem.process_cache import ProcessCache

Purpose = DataKey.Purpose
SECRET_BYTES = 32

# {DataKey id: secret} and {("newest", purpose): (id, secret)}: one dict, so that one
# forget() (process_cache.forget_all in the tests) drops them all.
_unwrapped: ProcessCache[dict] = ProcessCache(dict)


def _memory() -> dict:
    return _unwrapped.get(ttl_seconds=math.inf)


def _label(purpose: str, version: int) -> str:
    return f"cardsystem:data-key:{purpose}:{version}"


def _unwrap(key: DataKey) -> bytes:
    return keys.unwrap(key.wrapping_key_id, key.wrapped, label=_label(key.purpose, key.version))


def secret(key_id) -> bytes:
    """The secret of the data key with this id (read and unwrapped once per process)."""
    memory = _memory()
    value = memory.get(key_id)
    if value is None:
        value = memory[key_id] = _unwrap(DataKey.objects.get(pk=key_id))
    return value


def unwrap_all() -> None:
    """Read and unwrap every data key into this process's memory (one query): a server's
    warm-up (cardsystem/warmup.py), so that no decision waits for its CVK's first read."""
    memory = _memory()
    for key in DataKey.objects.all():
        if key.pk not in memory:
            memory[key.pk] = _unwrap(key)


def newest(purpose: str) -> DataKey:
    """The newest version of `purpose`'s key, made (random) if there is none yet."""
    key = DataKey.objects.filter(purpose=purpose).order_by("-version").first()
    if key is None:
        # Version 1 by name, not "the next": of two processes making it at once, the one
        # that loses then reads the winner's, rather than making a version 2.
        key = _insert(purpose, 1, os.urandom(SECRET_BYTES))
    memory = _memory()
    if key.pk not in memory:
        memory[key.pk] = _unwrap(key)
    return key


def newest_secret(purpose: str) -> bytes:
    """The newest version's secret, looked up once per process: for a key whose versions
    are never added while serving (the request-digest key)."""
    memory = _memory()
    entry = memory.get(("newest", purpose))
    if entry is None:
        key = newest(purpose)
        entry = memory[("newest", purpose)] = (key.pk, secret(key.pk))
    return entry[1]


def data_key_create(*, purpose: str, secret: bytes) -> DataKey:
    """Store `secret` as the next version of `purpose`'s key, wrapped under the current
    CARD_DATA_KEY."""
    version = (DataKey.objects.filter(purpose=purpose).aggregate(top=Max("version"))["top"] or 0) + 1
    return _insert(purpose, version, secret)


def _insert(purpose: str, version: int, secret: bytes) -> DataKey:
    """The key `purpose` `version`: `secret`, or the one stored first if there is one."""
    wrapping_key_id, wrapped = keys.wrap(secret, label=_label(purpose, version))
    try:
        with transaction.atomic():
            return DataKey.objects.create(
                purpose=purpose, version=version, wrapped=wrapped, wrapping_key_id=wrapping_key_id
            )
    except IntegrityError:
        return DataKey.objects.get(purpose=purpose, version=version)


def data_keys_to_rewrap() -> list[DataKey]:
    """The data keys wrapped under another key than the current CARD_DATA_KEY."""
    return list(DataKey.objects.exclude(wrapping_key_id=keys.key_id(settings.CARD_DATA_KEY)))


def data_keys_rewrap() -> int:
    """Wrap every data key still under an older CARD_DATA_KEY under the current one; the
    secrets stay the same. Each row is updated only if it is still wrapped as read, so
    two runs at once re-wrap each key once. Returns how many were re-wrapped."""
    rewrapped = 0
    for key in data_keys_to_rewrap():
        wrapping_key_id, wrapped = keys.wrap(_unwrap(key), label=_label(key.purpose, key.version))
        rewrapped += DataKey.objects.filter(pk=key.pk, wrapping_key_id=key.wrapping_key_id).update(
            wrapped=wrapped, wrapping_key_id=wrapping_key_id, updated_at=timezone.now()
        )
    return rewrapped
