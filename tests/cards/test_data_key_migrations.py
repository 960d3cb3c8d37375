"""The migrations that made the card verification keys and the request-digest key data
keys: a card issued before keeps the CVV printed on it (then derived from its
CARD_DATA_KEY), an Idempotency-Key stored before keeps replaying, and both survive a
rotation of that CARD_DATA_KEY."""

import datetime
import hmac
import json
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from cards import pan as card_data
from cards.models import Card
from cards.services import card_credentials, card_get_by_pan
from cardsystem.keys import derive
from tests.cards.rotation import configure_new_key, remove_old_keys, restart
from tests.commands import run
from tests.factories import BinFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("cards", "0001_initial")]


def printed_before(material: str, pan: str, month: int, year: int) -> str:
    """The CVV as cards/pan.py computed it before CVKs were versioned."""
    digest = hmac.new(derive(material, "cvv"), f"{pan}|{year % 100:02d}{month:02d}|000".encode(), "sha256")
    return str(int.from_bytes(digest.digest()[:8], "big") % 1000).zfill(3)


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


def test_a_card_issued_before_cvks_were_versioned_keeps_its_printed_cvv_through_a_rotation(settings):
    bin = BinFactory(bin="411111")
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    executor = migrate(BEFORE)
    try:
        LegacyCard = executor.loader.project_state(BEFORE).apps.get_model("cards", "Card")
        pan = card_data.generate_pan(bin.bin, 16)
        key_id, encrypted = card_data.encrypt_pan(pan)
        legacy = LegacyCard.objects.create(
            id=uuid.uuid4(),
            bin_id=bin.pk,
            pan_key_id=key_id,
            pan_encrypted=encrypted,
            pan_fingerprint=card_data.pan_fingerprint(pan),
            masked_pan=card_data.mask_pan(pan),
            last4=pan[-4:],
            expiry_month=12,
            expiry_year=2030,
            currency="USD",
            created_at=datetime.datetime.now(tz=datetime.UTC),
            updated_at=datetime.datetime.now(tz=datetime.UTC),
        )
    finally:
        migrate(latest)
    printed = printed_before(settings.CARD_DATA_KEY, pan, 12, 2030)
    restart()

    assert card_credentials(Card.objects.get(pk=legacy.pk)).cvv == printed
    configure_new_key(settings)
    run("rotate_card_key")
    remove_old_keys(settings)
    card = card_get_by_pan(pan)
    assert card.pk == legacy.pk and card.pan_key_id != key_id
    assert card_credentials(card).cvv == printed
    assert card_data.newest_cvk().pk == card.cvk_id  # cards issued now take the same CVK


def test_an_idempotency_key_stored_before_the_request_digest_key_was_kept_still_replays(settings, manage_api):
    target = [("cardsystem", "0004_api_key_lifecycle")]
    body = {"name": "Ada", "date_of_birth": "1990-01-01", "country": "GB"}
    request = {"method": "POST", "path": "/api/v1/cardholders/", "body": body}
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    # As cardsystem/idempotency.py keyed it before: by a key derived from CARD_DATA_KEY.
    digest = hmac.new(derive(settings.CARD_DATA_KEY, "request-digest"), canonical.encode(), "sha256")
    first = {"id": str(uuid.uuid4()), **body, "email": ""}
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    executor = migrate(target)
    try:
        Record = executor.loader.project_state(target).apps.get_model("cardsystem", "IdempotencyRecord")
        Record.objects.create(
            client_id=manage_api.api_client.pk,
            key="holder-1",
            request_digest=digest.hexdigest(),
            status_code=201,
            response_body=first,
        )
    finally:
        migrate(latest)
    restart()

    def retry():
        return manage_api.post("/api/v1/cardholders/", body, format="json", HTTP_IDEMPOTENCY_KEY="holder-1")

    assert (retry().status_code, retry().json()) == (201, first)
    configure_new_key(settings)
    run("rotate_card_key")
    remove_old_keys(settings)
    replayed = retry()
    assert (replayed.status_code, replayed.json(), replayed["Idempotent-Replayed"]) == (201, first, "true")
