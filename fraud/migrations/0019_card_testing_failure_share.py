"""The card-testing rules at a merchant fire from failed card checks only where those are
at least a tenth of the merchant's transactions in the rule's window
(`min_failure_share` 0.1):

- `merchant_card_testing`: from 3 failed checks alone (0018), a busy merchant's honest
  typos, a few in a hundred online purchases, would decline all its traffic for an hour.
  A merchant with 100 purchases in the hour now needs 10 failed checks, one with 30 or
  fewer still 3;
- `card_tested_at_merchant`: from 10 failed checks in a day alone, every cardholder of a
  busy merchant who mistyped a CVV and typed it again would be declined there. Its
  transactions are the cross-card feature `merchant_attempts_long`, read with the failed
  checks; decisions stored before it have no share to check.

A tester's run is most of the traffic where it happens.

Written like 0018: a changed param changes the working copy only where staff left the
shipped value; a fresh database's unused shipped live version is changed in place; where
decisions were made under a shipped version, the next version is written and promoted;
where staff run a version of their own, it waits as a draft. The data is written out here
so that this migration means the same thing forever.
"""

import copy

from django.db import migrations
from django.db.models import Max
from django.utils import timezone

ADDED = {"min_failure_share": 0.1}
# code -> (its shipped params that must be unchanged, its new description)
CHANGED = {
    "merchant_card_testing": (
        {"window_minutes": 60, "min_failures": 3},
        "At least `min_failures` failed card checks at this merchant in the last `window_minutes`, at least "
        "`min_failure_share` of its transactions there: distinct cards with a wrong CVV or expiry date, plus "
        "attempts on unknown card numbers; or at least `min_declines` declines there, at least "
        "`min_decline_share` of its transactions in the window. A verdict on the merchant's traffic: counts "
        "in full beside a model.",
    ),
    "card_tested_at_merchant": (
        {"window_minutes": 1440, "min_failures": 10},
        "This card had a wrong CVV or expiry date at this merchant in the last `window_minutes`, and the "
        "merchant had at least `min_failures` failed card checks in that window, at least "
        "`min_failure_share` of its transactions there: declined at that merchant, even with the right CVV "
        "now.",
    ),
}
REASON = (
    "Migration fraud 0019: merchant_card_testing and card_tested_at_merchant fire from failed card checks "
    "that are at least 10% of the merchant's transactions in their windows."
)


def _changed_params(code: str, params: dict) -> dict | None:
    """The new params where the rule has the shipped values (and no share of its own),
    else None: a staff edit stays as it is."""
    shipped = CHANGED[code][0]
    if any(params.get(key) != value for key, value in shipped.items()) or set(ADDED) & set(params):
        return None
    return {**params, **ADDED}


def _with_changes(snapshot: dict) -> dict:
    changed = copy.deepcopy(snapshot)
    for code in CHANGED:
        rule = changed["rules"].get(code)
        params = rule and _changed_params(code, rule["params"] or {})
        if params:
            rule["params"] = params
    return changed


def add_share_and_version(apps, schema_editor):
    Rule = apps.get_model("fraud", "Rule")
    for rule in Rule.objects.filter(code__in=CHANGED):
        params = _changed_params(rule.code, rule.params or {})
        if params:
            rule.params, rule.description = params, CHANGED[rule.code][1]
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


class Migration(migrations.Migration):
    dependencies = [("fraud", "0018_abroad_and_card_testing_rules")]

    operations = [migrations.RunPython(add_share_and_version, migrations.RunPython.noop)]
