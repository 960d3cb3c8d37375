"""How fast `rotate_card_key` moves cards, and how long each batch holds its cards.

    .venv/bin/python bench/key_rotation.py [--cards 10000] [--batch-size 200]
    DATABASE_URL=postgres://.../EMPTY_DB .venv/bin/python bench/key_rotation.py

Builds a fresh database (a throwaway SQLite file unless DATABASE_URL names an empty
one, which it migrates and fills), issues `--cards` cards under one key through the
issuing service, then rotates to a new key through the service the command calls,
timing each batch (its transaction: the longest any concurrent authorization, top-up
or status change on one of its cards can wait). Prints cards per second, the mean and
longest batch, with the load average it started with (other work on the machine skews
every number).
"""

import argparse
import os
import sys
import time

from databases import django_in_process

django_in_process("bench-rotation-")

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from bins.models import Bin  # noqa: E402
from cards.models import Card  # noqa: E402
from cards.services import card_data_key_rotate, card_issue_bulk  # noqa: E402
from cards.services.key_rotation import DEFAULT_BATCH_SIZE  # noqa: E402
from cardsystem import process_cache  # noqa: E402
from cardsystem.audit import Actor  # noqa: E402

NEW_KEY = "bench-rotation-new-card-data-key-0123456789abcdef"  # a throwaway key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    call_command("migrate", verbosity=0, interactive=False)
    if Card.objects.exists():
        sys.exit("The database already holds cards: give an empty one.")
    bin = Bin.objects.create(
        bin="411111", network="visa", issuer_name="Bench", card_type="debit", country="US", currency="USD"
    )
    actor = Actor.system("bench/key_rotation.py")
    started = time.monotonic()
    for _ in range(0, args.cards, 1000):
        card_issue_bulk(
            bin=bin,
            count=min(1000, args.cards - Card.objects.count()),
            actor=actor,
            on_issued=lambda issued: None,
        )
    issued = time.monotonic() - started

    settings.CARD_DATA_OLD_KEYS = [settings.CARD_DATA_KEY]
    settings.CARD_DATA_KEY = NEW_KEY
    process_cache.forget_all()
    batches = []
    last = time.monotonic()

    def on_batch(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        batches.append(now - last)
        last = now

    started = last = time.monotonic()
    rotation = card_data_key_rotate(actor=actor, batch_size=args.batch_size, on_batch=on_batch)
    took = time.monotonic() - started
    if not rotation.complete or rotation.cards_rekeyed != args.cards:
        sys.exit(f"The rotation did not finish: {rotation.details()}")

    print(f"{connection.vendor}, {args.cards} cards (issued in {issued:.1f} s), batches of {args.batch_size}")
    print(f"load average at start: {load:.2f}")
    print(f"rotation: {took:.2f} s, {args.cards / took:,.0f} cards/s")
    print(
        f"batch (one transaction): mean {1000 * sum(batches) / len(batches):.0f} ms, "
        f"longest {1000 * max(batches):.0f} ms"
    )


if __name__ == "__main__":
    main()
