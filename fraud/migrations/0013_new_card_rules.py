"""Detection where it was weakest: cards with little history and card checks failed at
new merchants abroad.

- The `model` rule gets `full_weight_below_approvals` (5): on a card with fewer
  approvals in 30 days (a new or replaced card) the rules count in full beside the
  model instead of at `rule_weight`.
- A new rule, `card_check_new_merchant` (80 points, counted in full beside a model): a
  wrong CVV or expiry date at a merchant the card never used, outside the cardholder's
  home country.

Both join the working copy, and the live configuration where nobody chose it:

- A fresh database, whose live version a migration wrote and no decision has used yet,
  gets them in that version itself: nothing was ever decided by it, so no record
  changes meaning (and version 1 stays what a fresh installation starts from).
- Where decisions were made under a version a migration wrote (the shipped defaults,
  never changed by staff), the next version (that snapshot plus these) is written and
  promoted.
- Where staff run a version of their own, that next version waits as a draft, to be put
  in shadow, backtested and promoted by them.

The data is written out here (not imported from app code) so that this migration
means the same thing forever.
"""

import copy

from django.db import migrations
from django.db.models import Max
from django.utils import timezone

NEW_RULE = {
    "code": "card_check_new_merchant",
    "name": "Wrong card check at a new merchant abroad",
    "description": (
        "A wrong CVV or expiry date at a merchant this card never used, outside the cardholder's home "
        "country: someone trying card details where nobody knows the cardholder. Counts in full beside a "
        "model (the model never learnt from declined attempts)."
    ),
    "score": 80,
    "params": {},
}
FULL_WEIGHT_BELOW_APPROVALS = 5
MODEL_DESCRIPTION = (
    "The active trained model's fraud probability times these points, added to the other rules' points, "
    "each counted at `rule_weight` while a model is active, except on a card with fewer than "
    "`full_weight_below_approvals` approvals in 30 days (a new or replaced card), where the rules count in "
    "full. Without an active model (Fraud models), the rules alone decide, at full points."
)
REASON = (
    "Migration fraud 0011: rules count in full beside the model on cards with fewer than 5 approvals in 30 "
    "days; new rule card_check_new_merchant."
)


def _with_changes(snapshot: dict) -> dict:
    changed = copy.deepcopy(snapshot)
    rules = changed["rules"]
    rules.setdefault(
        NEW_RULE["code"], {"enabled": True, "score": NEW_RULE["score"], "params": dict(NEW_RULE["params"])}
    )
    if "model" in rules:
        params = rules["model"]["params"] or {}
        params.setdefault("full_weight_below_approvals", FULL_WEIGHT_BELOW_APPROVALS)
        rules["model"]["params"] = params
    changed["rules"] = dict(sorted(rules.items()))
    return changed


def add_rules_and_version(apps, schema_editor):
    Rule = apps.get_model("fraud", "Rule")
    Rule.objects.get_or_create(
        code=NEW_RULE["code"],
        defaults={key: NEW_RULE[key] for key in ("name", "description", "score", "params")},
    )
    for rule in Rule.objects.filter(code="model"):
        if "full_weight_below_approvals" not in (rule.params or {}):  # a staff edit stays as it is
            rule.params = {**(rule.params or {}), "full_weight_below_approvals": FULL_WEIGHT_BELOW_APPROVALS}
            rule.description = MODEL_DESCRIPTION
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
    now = timezone.now()
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
        Version.objects.filter(pk=version.pk).update(state="live", promoted_by="migration", promoted_at=now)


def remove_rule(apps, schema_editor):
    """Back: the rule leaves the working copy; versions stay (decisions name them)."""
    apps.get_model("fraud", "Rule").objects.filter(code=NEW_RULE["code"]).delete()


class Migration(migrations.Migration):
    dependencies = [("fraud", "0012_cases"), ("transactions", "0008_risk_rules")]

    operations = [migrations.RunPython(add_rules_and_version, remove_rule)]
