"""A rule for a card-testing run's first cards (fraud/card_testing.py
`merchant_card_testing_small`): a purchase of at most 5 US dollars at a merchant where at
least 2 card checks failed (cards with a wrong CVV or expiry date, unknown card numbers) in
merchant_card_testing's window, at least half of the merchant's transactions there.

A tester tries a few made-up numbers and wrong CVVs among the first real cards, at amounts
nobody notices; `merchant_card_testing` declines from 3 failed checks, so the first real
cards of a run came through. Two failures that are half of a merchant's traffic are a run,
not a busy merchant's typos, and a purchase of ordinary size is not a card being tried: on
the tuning worlds the same condition without the amount declined four honest purchases at
merchants where a CVV had been guessed, and none with it (bench/README.md). 80 points, in
full beside a model, like the merchant's rule.

Written like 0020: the rule joins the working copy; a fresh database's unused shipped live
version gets it in place; where decisions were made under a shipped version, the next
version is written and promoted; where staff run a version of their own, it waits as a
draft, to be put in shadow, backtested and promoted by them. The data is written out here
so that this migration means the same thing forever.
"""

import copy

from django.db import migrations
from django.db.models import Max
from django.utils import timezone

CODE = "merchant_card_testing_small"
NAME = "Card testing beginning at the merchant, small purchase"
DESCRIPTION = (
    "A purchase of at most `max_amount_usd` (at reference rates) at a merchant with at least `min_failures` "
    "failed card checks in merchant_card_testing's window (distinct cards with a wrong CVV or expiry date, "
    "plus attempts on unknown card numbers), at least `min_failure_share` of its transactions there: the "
    "first real cards of a card-testing run, tried at amounts nobody notices. A verdict on the merchant's "
    "traffic: counts in full beside a model."
)
SCORE = 80
PARAMS = {"min_failures": 2, "min_failure_share": 0.5, "max_amount_usd": 5}
REASON = (
    "Migration fraud 0022: merchant_card_testing_small, 80 points on a purchase of at most 5 USD where 2 "
    "failed card checks are at least half of the merchant's transactions in the card-testing window."
)


def _with_changes(snapshot: dict) -> dict:
    changed = copy.deepcopy(snapshot)
    rules = changed["rules"]
    rules.setdefault(CODE, {"enabled": True, "score": SCORE, "params": copy.deepcopy(PARAMS)})
    changed["rules"] = dict(sorted(rules.items()))
    return changed


def add_rule_and_version(apps, schema_editor):
    Rule = apps.get_model("fraud", "Rule")
    Rule.objects.get_or_create(
        code=CODE,
        defaults={"name": NAME, "description": DESCRIPTION, "score": SCORE, "params": copy.deepcopy(PARAMS)},
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


def remove_rule(apps, schema_editor):
    """Back: the rule leaves the working copy; versions stay (decisions name them)."""
    apps.get_model("fraud", "Rule").objects.filter(code=CODE).delete()


class Migration(migrations.Migration):
    dependencies = [("fraud", "0021_performance_step_ups")]

    operations = [migrations.RunPython(add_rule_and_version, remove_rule)]
