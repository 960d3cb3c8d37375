import shlex

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from cardsystem.audit import Actor
from cardsystem.management.errors import command_error
from demo.services import demo_credentials_issue


class Command(BaseCommand):
    help = (
        "For a local trial (DEBUG=true only): give the superuser 'admin' a fresh random password, "
        "make one staff user per role (demo-analyst, demo-manager, demo-cardops, demo-admin, "
        "demo-auditor; not superusers) with another, revoke earlier demo API clients, create a new "
        "one with every scope, and print them all. "
        "Refuses to run with DEBUG off."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where the trial server listens (default: http://127.0.0.1:8000, as ./dev run serves).",
        )

    def handle(self, *args, base_url, **options):
        try:
            credentials = demo_credentials_issue(actor=Actor.system("manage.py demo_credentials"))
        except PermissionDenied as error:
            raise CommandError(str(error)) from error
        except ValidationError as error:
            raise command_error(error) from error
        base_url = base_url.rstrip("/")
        bins_url = base_url + reverse("bin-list")
        curl = shlex.join(["curl", "-H", f"Authorization: Bearer {credentials.key}", bins_url])
        self.stdout.write(
            "\n".join(
                [
                    "Demo credentials for this local trial (run demo_credentials again for fresh ones):",
                    f"  Admin:     {base_url}{reverse('admin:index')}",
                    f"  Username:  {credentials.username}",
                    f"  Password:  {credentials.password}",
                    f"  API key:   {credentials.key}",
                    f"  (client {credentials.client.name}, scopes {', '.join(credentials.client.scopes)};"
                    f" earlier demo clients revoked: {len(credentials.revoked)})",
                    f"  API docs:  {base_url}{reverse('api-docs')}",
                    f"  Try:       {curl}",
                    "Staff users in one role each (not superusers), to try the roles and four eyes:",
                    *(f"  {username:<14} {role}" for username, role in credentials.role_users.items()),
                    f"  Their password: {credentials.role_password}",
                ]
            )
        )
