"""The staff roles: groups shipped by a data migration, each with exactly the permissions
its job needs. A staff member's powers are the union of their roles (a superuser holds
every permission, and is granted only by four eyes).

Where one model permission would cover several powers, a custom one names each
(`cards.top_up_card`, `fraud.decide_fraudalert`, ...; see each model's Meta). A change
here ships with a migration that calls `sync_roles` again, so that every database's
groups follow the code.
"""

READ_CARDS = (
    "bins.view_bin",
    "cards.view_cardholder",
    "cards.view_card",
    "cards.view_ledgerentry",
    "transactions.view_transaction",
    "transactions.view_fraudreport",
)
READ_FRAUD = (
    "fraud.view_fraudalert",
    "fraud.view_case",
    "fraud.view_casecomment",
    "fraud.view_rule",
    "fraud.view_fraudsettings",
    "fraud.view_countryrisk",
    "fraud.view_merchantcategoryrisk",
    "fraud.view_fraudconfigversion",
    "fraud.view_fraudmodel",
    "fraud.view_shadowdecision",
)
CHANGE_REQUESTS = ("cardsystem.view_changerequest",)
# Taking a whole list away as a file (cardsystem/exports.py) is a power of its own, beyond
# reading it page by page: each export also needs the list's view permission.
EXPORT_CASEWORK = (
    "transactions.export_transaction",
    "fraud.export_fraudalert",
    "fraud.export_case",
)

FRAUD_ANALYST = "Fraud analyst"
FRAUD_MANAGER = "Fraud manager"
CARD_OPERATIONS = "Card operations"
ADMINISTRATOR = "Administrator"
AUDITOR = "Auditor"

_ANALYST = (
    *READ_CARDS,
    *READ_FRAUD,
    *CHANGE_REQUESTS,
    "fraud.decide_fraudalert",
    "fraud.change_case",
    "fraud.add_casecomment",
    "cards.block_card",
    "transactions.add_fraudreport",
    *EXPORT_CASEWORK,
)

ROLES: dict[str, tuple[str, ...]] = {
    # Works the alert queue and cases: decides alerts, blocks cards, reports fraud,
    # exports transactions, alerts and cases.
    FRAUD_ANALYST: _ANALYST,
    # An analyst who also changes the fraud strategy (drafts, shadow, backtests,
    # promotion), activates models, unblocks and replaces cards, and approves others'
    # requests for those.
    FRAUD_MANAGER: (
        *_ANALYST,
        "fraud.edit_fraud_configuration",
        "fraud.promote_fraudconfigversion",
        "fraud.activate_fraudmodel",
        "cards.unblock_card",
        "cards.replace_card",
        "cardsystem.approve_changerequest",
    ),
    # Cardholders and cards: issue, top up, block and unblock, limits, replacement;
    # approves colleagues' large top-ups and unblocks; exports transactions.
    CARD_OPERATIONS: (
        *READ_CARDS,
        *CHANGE_REQUESTS,
        "fraud.view_fraudalert",
        "fraud.view_case",
        "cards.add_cardholder",
        "cards.change_cardholder",
        "cards.add_card",
        "cards.change_card",
        "cards.top_up_card",
        "cards.block_card",
        "cards.unblock_card",
        "cards.change_card_limits",
        "cards.replace_card",
        "cardsystem.approve_changerequest",
        "transactions.export_transaction",
    ),
    # The system's keepers: staff and their roles, second-factor resets, API clients,
    # BINs; approves others' requests for those. Touches no card, balance or decision.
    ADMINISTRATOR: (
        *CHANGE_REQUESTS,
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "cardsystem.manage_staff",
        "cardsystem.view_staffsecondfactor",
        "cardsystem.reset_second_factor",
        "cardsystem.view_apiclient",
        "cardsystem.manage_apiclients",
        "cardsystem.view_auditlog",
        "cardsystem.approve_changerequest",
        "bins.view_bin",
        "bins.add_bin",
        "bins.change_bin",
    ),
    # Reads everything, the audit log included, and exports what it reads; changes nothing.
    # The only role that takes the audit log away as a file (the Administrator, whose
    # own actions it records, reads it in place).
    AUDITOR: (
        *READ_CARDS,
        *READ_FRAUD,
        *CHANGE_REQUESTS,
        *EXPORT_CASEWORK,
        "cardsystem.view_auditlog",
        "cardsystem.export_auditlog",
        "cardsystem.view_apiclient",
        "cardsystem.view_staffsecondfactor",
        "auth.view_user",
        "auth.view_group",
    ),
}


def sync_roles(apps, schema_editor=None) -> None:
    """Make each role's group hold exactly ROLES' permissions (a data migration's step:
    `apps` is the migration's app registry, or django.apps.apps).

    An earlier migration's step knows only the permissions of the models as they were
    then: it grants those, and the migration that adds a permission calls sync_roles
    again (tests/cardsystem/test_roles.py checks that every role holds all of its own
    once the last migration has run)."""
    from django.contrib.auth.management import create_permissions

    # Permissions are made after migrating (post_migrate); a fresh database needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.values_list("pk", "content_type__app_label", "codename")
    known = {f"{app_label}.{codename}": pk for pk, app_label, codename in permissions}
    for name, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set([known[code] for code in sorted(set(codes)) if code in known])
