"""Moving stored card data onto the current CARD_DATA_KEY (`manage.py rotate_card_key`).

Every card's number is re-encrypted and its lookup fingerprint re-keyed under the
current key, and every data key (card verification keys, the request-digest key) is
re-wrapped under it. CVVs and stored request digests do not change: they are computed
with the data keys, which rotation re-wraps but never replaces.

Safe while the service runs: while the old key is still in CARD_DATA_OLD_KEYS a card
is found under either fingerprint and read under either key, so an authorization sees
a card before or after its move, never half of it. Each batch is its own short
transaction that locks only its cards and writes only their three key columns, so a
concurrent authorization, top-up or status change waits at most one batch and loses
nothing. Resumable: only cards still under an older key are selected, so after a crash
a second run carries on where the first stopped and moves no card twice.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count

from cards import pan as card_data
from cards.models import Card
from cardsystem import data_keys
from cardsystem.audit import Actor, AuditAction, audit_record

# A batch's cards stay locked until it commits: a few hundred milliseconds at this size.
DEFAULT_BATCH_SIZE = 200
MAX_BATCH_SIZE = 10_000
# Passes over the cards still under an older key: a second one finds those a server
# not yet given the new key issued during the first. More means such a server runs on.
_MAX_PASSES = 3
_KEY_COLUMNS = ["pan_key_id", "pan_encrypted", "pan_fingerprint"]


@dataclass
class KeyRotation:
    """What a run did, and what is left under an older key."""

    key_id: str
    cards_rekeyed: int = 0
    data_keys_rewrapped: int = 0
    # {key id: how many cards} still under another key than the current one.
    cards_left: dict[str, int] = field(default_factory=dict)
    data_keys_left: int = 0

    @property
    def complete(self) -> bool:
        """Nothing is left under an older key: CARD_DATA_OLD_KEYS can be emptied."""
        return not self.cards_left and not self.data_keys_left

    def details(self) -> dict:
        """For the audit log: counts and key ids, never key material."""
        return {
            "key_id": self.key_id,
            "cards_rekeyed": self.cards_rekeyed,
            "data_keys_rewrapped": self.data_keys_rewrapped,
            "cards_left": self.cards_left,
            "data_keys_left": self.data_keys_left,
            "complete": self.complete,
        }


def cards_by_older_key() -> dict[str, int]:
    """{key id: how many cards} for every key other than the current CARD_DATA_KEY."""
    rows = (
        Card.objects.exclude(pan_key_id=card_data.current_key_id())
        .values("pan_key_id")
        .annotate(cards=Count("pk"))
        .order_by("pan_key_id")
    )
    return {row["pan_key_id"]: row["cards"] for row in rows}


def card_data_key_rotate(
    *,
    actor: Actor,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[int, int], None] | None = None,
) -> KeyRotation:
    """Move every card and data key still under an older key to the current
    CARD_DATA_KEY. `on_batch(done, total)` is called after each committed batch.

    Raises ValidationError, with nothing written, when some data is under a key that is
    not configured (it could not be read). The run is audited, also when it fails
    half-way (what was committed by then stays: a second run finishes it).
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValidationError({"batch_size": f"Give a batch size from 1 to {MAX_BATCH_SIZE}."})
    _check_readable()
    rotation = KeyRotation(key_id=card_data.current_key_id())
    try:
        rotation.data_keys_rewrapped = data_keys.data_keys_rewrap()
        for _ in range(_MAX_PASSES):
            older = cards_by_older_key()
            if not older:
                break
            _check_readable()
            total = rotation.cards_rekeyed + sum(older.values())
            for key_id in older:
                while moved := _rekey_batch(key_id, batch_size):
                    rotation.cards_rekeyed += moved
                    if on_batch is not None:
                        on_batch(rotation.cards_rekeyed, max(total, rotation.cards_rekeyed))
        rotation.cards_left = cards_by_older_key()
        rotation.data_keys_left = len(data_keys.data_keys_to_rewrap())
    except BaseException as error:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action=AuditAction.CARD_DATA_KEY_ROTATED,
                target_label="card data",
                details={**rotation.details(), "complete": False, "interrupted_by": type(error).__name__},
            )
        raise
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=AuditAction.CARD_DATA_KEY_ROTATED,
            target_label="card data",
            details=rotation.details(),
        )
    return rotation


def _check_readable() -> None:
    configured = set(card_data.configured_key_ids())
    in_use = {*cards_by_older_key(), *(key.wrapping_key_id for key in data_keys.data_keys_to_rewrap())}
    unreadable = sorted(in_use - configured)
    if unreadable:
        raise ValidationError(
            {
                "CARD_DATA_OLD_KEYS": f"Card data is under key id(s) {', '.join(unreadable)}, neither "
                "CARD_DATA_KEY nor in CARD_DATA_OLD_KEYS: add the key(s) there and run again."
            }
        )


def _rekey_batch(key_id: str, batch_size: int) -> int:
    """Move up to `batch_size` cards from `key_id` to the current key, in one transaction.
    Returns how many moved (0: none left under `key_id`)."""
    with transaction.atomic():
        # Locked, and selected by key id again under the lock: a card moved meanwhile
        # (by another run) is not among them, so no card is moved twice.
        cards = list(
            Card.objects.select_for_update()
            .filter(pan_key_id=key_id)
            .order_by("pan_key_id", "pk")
            .only("pk", *_KEY_COLUMNS)[:batch_size]
        )
        for card in cards:
            new_key_id, encrypted, fingerprint = card_data.reencrypt_pan(card.pan_key_id, card.pan_encrypted)
            # Only the key columns: a balance or status written meanwhile is never
            # overwritten. One UPDATE a card: bulk_update()'s CASE over the whole batch
            # costs quadratic time, seconds a batch, all of them holding its locks.
            Card.objects.filter(pk=card.pk).update(
                pan_key_id=new_key_id, pan_encrypted=encrypted, pan_fingerprint=fingerprint
            )
    return len(cards)
