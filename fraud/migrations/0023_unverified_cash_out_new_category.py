"""A step-up for a lost or stolen card's first purchase (fraud/authentication.py
`unverified_cash_out_new_category`): a tap without verification or a signature at a
department store, an electronics shop, a liquor store or a jeweller, in a category the card
has never bought in, with no PIN or device verification on the card in the hour.

`unverified_cash_out_again` (0020) asks for the PIN at the thief's second purchase without
one; the first went through, and where the thief tried a cash machine next (the PIN
failed, 55) the engine stopped nothing before the third. The first purchase at a category
new to the card is where the thief starts. On the tuning worlds, as a what-if on the
stored decisions, the condition stopped the lost or stolen cards' runs before their third
transaction 15 of 16, 16 of 16 and 9 of 9 times (against 11, 11 and 8), asking 53 to 62
honest purchases in about 34,000 for a PIN; end to end on two of them, 15 of 16 and 16 of
16, with 43 and 47 asked (bench/README.md, "a lost or stolen card's first purchase").
Many issuers ask for the PIN at a new card's first purchase for the same reason.

A step-up rule (answered 1A, verification required), 0 points, like 0020. It reads values
every decision stores: whether the category is new to the card (`first_mcc`) and the
hour's verified attempts (since 0020). Decisions stored before 0020 lack the latter: the
rule does not fire on them in a backtest.

Written like 0020: the rule joins the working copy; a fresh database's unused shipped live
version gets it in place; where decisions were made under a shipped version, the next
version is written and promoted; where staff run a version of their own, it waits as a
draft, to be put in shadow, backtested and promoted by them (beside 0022's draft, each
with its own rule; the working copy has both). The data is written out here
so that this migration means the same thing forever.
"""

import copy

from django.db import migrations
from django.db.models import Max
from django.utils import timezone

CODE = "unverified_cash_out_new_category"
NAME = "Unverified in person at a cash-out category new to the card"
DESCRIPTION = (
    "An in-person purchase without verification (a tap) or with a signature at a merchant of a category "
    "in `mccs` that the card has never bought in (nothing there that was not declined, however long ago), with no PIN or device verification on the card in the last hour: "
    "the first purchase of a found or stolen card whose thief does not know the PIN. A step-up: answered "
    "1A, verification required (the cardholder inserts the card and types the PIN, the thief cannot); its "
    "points, if any, count in full beside a model."
)
SCORE = 0  # the step-up decides, not the score
# Department stores, electronics, liquor, jewellery: where a card turns into cash or goods
# that resell. Cash machines ask for the PIN, so a thief's attempt there fails as a PIN.
PARAMS = {"mccs": ["5311", "5732", "5921", "5944"]}
REASON = (
    "Migration fraud 0023: unverified_cash_out_new_category, a step-up (1A, verification required) on an "
    "in-person purchase without a verified cardholder at a cash-out category the card never bought in, "
    "with no PIN or device verification in the hour."
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
    dependencies = [("fraud", "0022_merchant_card_testing_small")]

    operations = [migrations.RunPython(add_rule_and_version, remove_rule)]
