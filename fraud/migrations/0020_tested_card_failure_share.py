"""`card_tested_at_merchant` declines a card that failed a check at a merchant only where
the merchant's failed checks in the window are at least a tenth of its transactions there
(`min_failure_share` 0.1), as `merchant_card_testing` does since 0019.

From 10 failed checks in a day alone, a busy merchant's honest typos (a few in a hundred
online purchases) would decline every cardholder there who mistyped a CVV and typed it
again. The transactions counted are the cross-card feature `merchant_attempts_long`, read
with the failed checks; decisions stored before it have no share to check.

Written like 0019 (and 0018): a changed param changes the working copy only where staff
left the shipped value; a fresh database's unused shipped live version is changed in
place; where decisions were made under a shipped version, the next version is written
and promoted; where staff run a version of their own, it waits as a draft. The data is
written out here so that this migration means the same thing forever.
"""

import copy

from django.db import migrations
from django.db.models import Max
from django.utils import timezone

CODE = "card_tested_at_merchant"
SHIPPED = {"window_minutes": 1440, "min_failures": 10}
ADDED = {"min_failure_share": 0.1}
DESCRIPTION = (
    "This card had a wrong CVV or expiry date at this merchant in the last `window_minutes`, and the merchant "
    "had at least `min_failures` failed card checks in that window, at least `min_failure_share` of its "
    "transactions there: declined at that merchant, even with the right CVV now."
)
REASON = (
    "Migration fraud 0020: card_tested_at_merchant declines only where the merchant's failed card checks are at "
    "least 10% of its transactions in the window."
)


def _changed_params(params: dict) -> dict | None:
    """The new params where the rule has the shipped values (and no share of its own),
    else None: a staff edit stays as it is."""
    if any(params.get(key) != value for key, value in SHIPPED.items()) or set(ADDED) & set(params):
        return None
    return {**params, **ADDED}


def _with_change(snapshot: dict) -> dict:
    changed = copy.deepcopy(snapshot)
    rule = changed["rules"].get(CODE)
    params = rule and _changed_params(rule["params"] or {})
    if params:
        rule["params"] = params
    return changed


def add_share_and_version(apps, schema_editor):
    Rule = apps.get_model("fraud", "Rule")
    for rule in Rule.objects.filter(code=CODE):
        params = _changed_params(rule.params or {})
        if params:
            rule.params, rule.description = params, DESCRIPTION
            rule.save(update_fields=["params", "description"])

    Version = apps.get_model("fraud", "FraudConfigVersion")
    live = Version.objects.filter(state="live").first()
    if live is None:
        return
    snapshot = _with_change(live.snapshot)
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


class Migration(migrations.Migration):
    dependencies = [("fraud", "0019_card_testing_failure_share")]

    operations = [migrations.RunPython(add_share_and_version, migrations.RunPython.noop)]
