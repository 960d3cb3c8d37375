from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from cardsystem.audit import Actor
from cardsystem.management.errors import command_error
from cardsystem.models import ApiClient
from cardsystem.services import api_client_create, key_expiry


class Command(BaseCommand):
    help = (
        "Create an API client. Prints a line describing it, then its key alone on the last line "
        "of stdout. The key is shown this once: only a hash of it is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="A unique name for the client, such as the calling system's.")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            default=[],
            metavar="SCOPE",
            help=f"A scope the key grants ({', '.join(ApiClient.Scope.values)}); repeat for several.",
        )
        parser.add_argument(
            "--expires-in-days",
            type=int,
            metavar="N",
            help="The key stops working N days from now (default: it does not expire).",
        )

    def handle(self, *args, name, scopes, expires_in_days, **options):
        try:
            client, key = api_client_create(
                name=name,
                scopes=scopes,
                actor=Actor.system("manage.py create_api_client"),
                expires_at=key_expiry(expires_in_days),
            )
        except ValidationError as error:
            raise command_error(error) from error
        self.stdout.write(
            f"Created API client {client} with scopes {', '.join(client.scopes)}, "
            f"expiring {client.expires_at.isoformat() if client.expires_at else 'never'}. "
            "Its key follows, shown this once (only a hash is stored):"
        )
        self.stdout.write(key)
