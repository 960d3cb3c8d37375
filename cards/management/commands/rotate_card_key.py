from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from cards import pan as card_data
from cards.services import card_data_key_rotate, cards_by_older_key
from cards.services.key_rotation import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, KeyRotation
from cardsystem.audit import Actor
from cardsystem.data_keys import data_keys_to_rewrap
from cardsystem.management.errors import command_error


class Command(BaseCommand):
    help = (
        "Move stored card data onto the current CARD_DATA_KEY: re-encrypt every card number, re-key "
        "every lookup fingerprint and re-wrap the card verification keys, in batches, while the "
        "service runs. Before running it, give every server the new CARD_DATA_KEY with the old one "
        "in CARD_DATA_OLD_KEYS. Printed CVVs do not change. Resumable: run it again after a failure. "
        "The last line says whether CARD_DATA_OLD_KEYS can now be emptied."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"Cards moved per transaction (default {DEFAULT_BATCH_SIZE}, at most {MAX_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--status", action="store_true", help="Only say what is still under an older key; change nothing."
        )

    def handle(self, *args, batch_size, status, **options):
        if status:
            self._report(
                KeyRotation(
                    key_id=card_data.current_key_id(),
                    cards_left=cards_by_older_key(),
                    data_keys_left=len(data_keys_to_rewrap()),
                )
            )
            return
        self.stdout.write(f"Moving card data to key {card_data.current_key_id()} (CARD_DATA_KEY).")
        try:
            rotation = card_data_key_rotate(
                actor=Actor.system("manage.py rotate_card_key"),
                batch_size=batch_size,
                on_batch=self._progress,
            )
        except ValidationError as error:
            raise command_error(error) from error
        self.stdout.write(
            f"Re-keyed {rotation.cards_rekeyed} cards, re-wrapped {rotation.data_keys_rewrapped} data keys."
        )
        self._report(rotation)

    def _progress(self, done: int, total: int) -> None:
        # A line per batch, flushed: readable in a log file as on a terminal.
        self.stdout.write(f"{done}/{total} cards re-keyed")
        self.stdout.flush()

    def _report(self, rotation: KeyRotation) -> None:
        if rotation.complete:
            self.stdout.write(
                f"All card data is under key {rotation.key_id}: CARD_DATA_OLD_KEYS can now be emptied "
                "(then restart every server)."
            )
            return
        older = ", ".join(f"{count} cards under key {key}" for key, count in rotation.cards_left.items())
        if rotation.data_keys_left:
            older = ", ".join(filter(None, [older, f"{rotation.data_keys_left} data keys"]))
        self.stdout.write(
            f"Still under an older key: {older}. Keep CARD_DATA_OLD_KEYS and run rotate_card_key again."
        )
