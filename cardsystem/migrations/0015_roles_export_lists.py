"""The roles (cardsystem/roles.py) with the permissions to export lists as CSV."""

from django.db import migrations

from cardsystem.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("cardsystem", "0014_audit_list_exports"),
        ("fraud", "0016_export_permissions"),
        ("transactions", "0010_export_permission"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
