"""Where detection was weakest on the tuning worlds (bench/README.md, fraud_quality.py, 4
December 2026): card details used abroad, account takeovers that keep their device, and
card testing whose first real cards come early in the run.

- two rules join (fraud/authentication.py): `new_device_3ds_failed_abroad` (3-D Secure
  failed at a new merchant abroad from a device new to the card, whatever devices the
  card knows) and `keyed_in_person_abroad` (the card number keyed by hand at a
  card-present terminal of a new merchant abroad), both at 80 points;
- `new_device_3ds_failed` counts a device with at most one approval on the card as new
  (`max_device_approvals` 1), its known devices being the card's other ones;
- `merchant_card_testing` declines from 3 failed card checks in its window (was 5).

Written like 0013, 0015 and 0017: the rules join the working copy and a changed param
changes it only where staff left the shipped value; a fresh database's unused shipped
live version is changed in place; where decisions were made under a shipped version,
the next version is written and promoted; where staff run a version of their own, it
waits as a draft. The data is written out here so that this migration means the same
thing forever.
"""

import copy

from django.db import migrations
from django.db.models import Max
from django.utils import timezone

NEW_RULES = [
    (
        "new_device_3ds_failed_abroad",
        "3-D Secure failed abroad from a new device",
        "3-D Secure failed at a merchant new to the card outside the cardholder's home country, from a device "
        "the card never bought from in 30 days (whether or not the card buys from devices of its own).",
        80,
        {},
    ),
    (
        "keyed_in_person_abroad",
        "Card number keyed in person abroad",
        "The card number keyed in by hand at a card-present terminal of a merchant new to the card, outside "
        "the cardholder's home country: card details without the card.",
        80,
        {},
    ),
]
# code -> (the shipped params it changes, the new ones, the new description or None)
CHANGED_PARAMS = {
    "new_device_3ds_failed": (
        {"min_known_device_approvals": 1},
        {"min_known_device_approvals": 1, "max_device_approvals": 1},
        "3-D Secure failed at a merchant new to the card, from a device the card bought from at most "
        "`max_device_approvals` times in 30 days (none without it), on a card with at least "
        "`min_known_device_approvals` approvals from its other identified devices in 30 days.",
    ),
    "merchant_card_testing": ({"min_failures": 5}, {"min_failures": 3}, None),
}
REASON = (
    "Migration fraud 0018: 3-D Secure failed abroad from a new device and card numbers keyed in person abroad "
    "decline; a device with one approval is new to new_device_3ds_failed; merchant_card_testing from 3 failed "
    "checks."
)


def _changed_params(code: str, params: dict) -> dict | None:
    """The new params where the rule has the shipped values (and none of the added keys),
    else None: a staff edit stays as it is."""
    shipped, changed, _description = CHANGED_PARAMS[code]
    added = set(changed) - set(shipped)
    if any(params.get(key) != value for key, value in shipped.items()) or added & set(params):
        return None
    return {**params, **changed}


def _with_changes(snapshot: dict) -> dict:
    changed = copy.deepcopy(snapshot)
    rules = changed["rules"]
    for code, _name, _description, score, params in NEW_RULES:
        rules.setdefault(code, {"enabled": True, "score": score, "params": dict(params)})
    for code in CHANGED_PARAMS:
        rule = rules.get(code)
        params = rule and _changed_params(code, rule["params"] or {})
        if params:
            rule["params"] = params
    changed["rules"] = dict(sorted(rules.items()))
    return changed


def add_rules_and_version(apps, schema_editor):
    Rule = apps.get_model("fraud", "Rule")
    for code, name, description, score, params in NEW_RULES:
        Rule.objects.get_or_create(
            code=code, defaults={"name": name, "description": description, "score": score, "params": params}
        )
    for rule in Rule.objects.filter(code__in=CHANGED_PARAMS):
        params = _changed_params(rule.code, rule.params or {})
        if params:
            rule.params = params
            rule.description = CHANGED_PARAMS[rule.code][2] or rule.description
            rule.save(update_fields=["params", "description"])

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
    """Back: the new rules leave the working copy; changed params stay (versions name them)."""
    apps.get_model("fraud", "Rule").objects.filter(code__in=[rule[0] for rule in NEW_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("fraud", "0017_authentication_rules")]

    operations = [migrations.RunPython(add_rules_and_version, remove_rules)]
