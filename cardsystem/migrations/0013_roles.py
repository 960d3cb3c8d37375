"""The staff roles (cardsystem/roles.py) as groups, each with exactly its permissions."""

from django.db import migrations

from cardsystem.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("bins", "0002_bin_ascii_digits"),
        ("cards", "0005_card_permissions_blocked_for_fraud"),
        ("cardsystem", "0012_change_requests_and_permissions"),
        ("fraud", "0014_permissions"),
        ("transactions", "0008_risk_rules"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
