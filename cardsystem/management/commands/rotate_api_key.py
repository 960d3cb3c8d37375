import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cardsystem.audit import Actor
from cardsystem.management.errors import command_error
from cardsystem.models import ApiClient
from cardsystem.services import api_client_rotate_key, key_expiry


class Command(BaseCommand):
    help = (
        "Give an API client a new key; its current key keeps working for the overlap. Prints a "
        "line describing it, then the new key alone on the last line of stdout, shown this once."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The client's name.")
        parser.add_argument(
            "--overlap-hours",
            type=float,
            default=24.0,
            metavar="H",
            help="How long the current key keeps working beside the new one (default 24; at most 720).",
        )
        parser.add_argument(
            "--expires-in-days",
            type=int,
            metavar="N",
            help="The new key stops working N days from now (default: it does not expire).",
        )

    def handle(self, *args, name, overlap_hours, expires_in_days, **options):
        try:
            client = ApiClient.objects.get(name=name)
        except ApiClient.DoesNotExist:
            raise CommandError(f"No API client is named {name!r}.") from None
        try:
            client, key = api_client_rotate_key(
                client=client,
                actor=Actor.system("manage.py rotate_api_key"),
                overlap=datetime.timedelta(hours=overlap_hours),
                expires_at=key_expiry(expires_in_days),
            )
        except ValidationError as error:
            raise command_error(error) from error
        self.stdout.write(
            f"Rotated the key of API client {client}; the previous key works until "
            f"{client.previous_key_expires_at.isoformat()}. The new key follows, shown this once:"
        )
        self.stdout.write(key)
