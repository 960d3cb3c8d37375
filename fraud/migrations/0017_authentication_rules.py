"""Rules on how the card was read and its holder verified (fraud/authentication.py): the
authorization's entry mode, cardholder verification, 3-D Secure result and device
(transactions 0011). One signal alone is review-level at most; only combinations with
compounding evidence decline. All count in full beside a model (which never read these
facts).

Written like 0013: the rules join the working copy; a fresh database's unused shipped live
version gets them in place; where decisions were made under a shipped version, the next
version is written and promoted; where staff run a version of their own, it waits as a
draft, to be put in shadow, backtested and promoted by them. The data is written out here
so that this migration means the same thing forever.
"""

import copy

from django.db import migrations
from django.db.models import Max
from django.utils import timezone

NEW_RULES = [
    (
        "magstripe_new_merchant",
        "Stripe read of a chip card at a new merchant",
        "A magnetic-stripe read at a merchant new to the card, of a card read by chip or contactless at least "
        "`min_chip_reads` times in 30 days: a chip that failed, or a copy of the stripe. A signal alone.",
        25,
        {"min_chip_reads": 1},
    ),
    (
        "magstripe_again",
        "Stripe read of a chip card again",
        "A magnetic-stripe read of a chip card after at least `min_previous` other stripe reads in the last "
        "24 hours: a cloned card on its round.",
        80,
        {"min_chip_reads": 1, "min_previous": 1},
    ),
    (
        "magstripe_abroad",
        "Stripe read of a chip card abroad",
        "A magnetic-stripe read of a chip card at a merchant new to it, in a country outside the cardholder's "
        "home where the card was never used.",
        80,
        {"min_chip_reads": 1},
    ),
    (
        "pin_failed_new_merchant",
        "PIN failed at a new merchant",
        "The PIN given failed at a merchant new to the card. A signal alone: people mistype.",
        25,
        {},
    ),
    (
        "pin_failure_then_unverified",
        "No PIN after a failed one",
        "A purchase without a verified PIN (failed, signature or none) after a PIN failure in the last 24 "
        "hours that no verified PIN followed.",
        80,
        {},
    ),
    (
        "no_cvm_burst",
        "Contactless without verification, again and again",
        "A contactless purchase without verification at a merchant new to the card after at least "
        "`min_previous` others in the last hour. A signal alone: shoppers tap too.",
        20,
        {"min_previous": 2},
    ),
    (
        "three_ds_failed_new_merchant",
        "3-D Secure failed at a new merchant",
        "3-D Secure authentication failed at a merchant new to the card. A signal alone.",
        30,
        {},
    ),
    (
        "new_device_3ds_failed",
        "3-D Secure failed from a new device",
        "3-D Secure failed at a merchant new to the card, from a device the card never bought from in 30 days, "
        "on a card with at least `min_known_device_approvals` approvals from identified devices in 30 days.",
        80,
        {"min_known_device_approvals": 1},
    ),
    (
        "new_device_unauthenticated_abroad",
        "New device abroad without 3-D Secure",
        "No 3-D Secure (failed or not performed) at a merchant new to the card outside the cardholder's home "
        "country, from a device the card never bought from, on a card with at least "
        "`min_known_device_approvals` approvals from identified devices in 30 days. A signal: honest shoppers "
        "meet it with a new phone at a foreign shop that never asks.",
        40,
        {"min_known_device_approvals": 3},
    ),
]
REASON = (
    "Migration fraud 0017: rules on the authorization's entry mode, cardholder verification, 3-D Secure "
    "and device (fraud/authentication.py)."
)


def _with_changes(snapshot: dict) -> dict:
    changed = copy.deepcopy(snapshot)
    rules = changed["rules"]
    for code, _name, _description, score, params in NEW_RULES:
        rules.setdefault(code, {"enabled": True, "score": score, "params": dict(params)})
    changed["rules"] = dict(sorted(rules.items()))
    return changed


def add_rules_and_version(apps, schema_editor):
    Rule = apps.get_model("fraud", "Rule")
    for code, name, description, score, params in NEW_RULES:
        Rule.objects.get_or_create(
            code=code, defaults={"name": name, "description": description, "score": score, "params": params}
        )

    Version = apps.get_model("fraud", "FraudConfigVersion")
    live = Version.objects.filter(state="live").first()
    if live is None:
        return
    snapshot = _with_changes(live.snapshot)
    if snapshot == live.snapshot:
        return
    shipped = live.created_by == "migration"
    Transaction = apps.get_model("transactions", "Transaction")
    if shipped and not Transaction.objects.filter(risk_config_version=live.number).exists():
        Version.objects.filter(pk=live.pk).update(snapshot=snapshot)
        return
    version = Version.objects.create(
        number=(Version.objects.aggregate(last=Max("number"))["last"] or 0) + 1,
        state="draft",
        snapshot=snapshot,
        model_id=live.model_id,
        based_on=live,
        reason=REASON,
        created_by="migration",
    )
    if shipped:
        Version.objects.filter(pk=live.pk).update(state="retired")
        Version.objects.filter(pk=version.pk).update(
            state="live", promoted_by="migration", promoted_at=timezone.now()
        )


def remove_rules(apps, schema_editor):
    """Back: the rules leave the working copy; versions stay (decisions name them)."""
    apps.get_model("fraud", "Rule").objects.filter(code__in=[rule[0] for rule in NEW_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("fraud", "0016_export_permissions"),
        ("transactions", "0012_authentication_facts"),
    ]

    operations = [migrations.RunPython(add_rules_and_version, remove_rules)]
