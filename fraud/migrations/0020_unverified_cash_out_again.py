"""A rule for the lost or stolen card whose thief does not know the PIN
(fraud/authentication.py `unverified_cash_out_again`): a tap without verification or a
signature at a department store, an electronics shop, a liquor store or a jeweller after
another in-person attempt without a verified cardholder at one of them in the hour, with no
PIN or device verification on the card in that hour. The thief taps under the contactless
limit and signs above it, at shops whose goods turn into cash; the cardholder on a shopping
afternoon gives the PIN above the limit (or pays by phone) now and then.

A step-up rule (fraud/authentication.py STEP_UP): when it fires the answer is 1A,
verification required, a soft decline: the cardholder inserts the card and types the PIN,
the thief cannot. As an 80-point fraud decline it stopped the thieves but declined too
many shopping afternoons outright (bench/README.md); asked for a PIN, the same shoppers
lose a moment, not the purchase. Its points are 0: the answer comes from the step-up, and
points would only push honest shoppers' scores toward review and the 59 that comes first.

It reads two values every decision now stores (fraud/features.py): the categories of the
hour's in-person attempts without a verified cardholder, and the hour's verified ones.
Decisions stored before have neither: the rule does not fire on them in a backtest.

Written like 0017: the rule joins the working copy; a fresh database's unused shipped live
version gets it in place; where decisions were made under a shipped version, the next
version is written and promoted; where staff run a version of their own, it waits as a
draft, to be put in shadow, backtested and promoted by them. The data is written out here
so that this migration means the same thing forever.
"""

import copy

from django.db import migrations
from django.db.models import Max
from django.utils import timezone

CODE = "unverified_cash_out_again"
NAME = "Unverified in person at cash-out shops, again"
DESCRIPTION = (
    "A contactless purchase without verification or a signature at a merchant of a category in `mccs` "
    "after another in-person attempt without a verified cardholder (PIN failed, signature or none) at a "
    "category in `mccs` in the last hour, with no PIN or device verification on the card in that hour: a "
    "found or stolen card whose thief does not know the PIN. A step-up: answered 1A, verification "
    "required (the cardholder inserts the card and types the PIN, the thief cannot); its points, if any, "
    "count in full beside a model."
)
SCORE = 0  # the step-up decides, not the score
# Department stores, electronics, liquor, jewellery: where a card turns into cash or goods
# that resell. Cash machines ask for the PIN, so a thief's attempt there fails as a PIN.
PARAMS = {"mccs": ["5311", "5732", "5921", "5944"]}
REASON = (
    "Migration fraud 0020: unverified_cash_out_again, a step-up (1A, verification required) on a second "
    "in-person purchase without a verified cardholder at cash-out categories within the hour, with no PIN "
    "or device verification in it."
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
    dependencies = [("fraud", "0019_card_testing_failure_share")]

    operations = [migrations.RunPython(add_rule_and_version, remove_rule)]
