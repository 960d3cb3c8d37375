"""Card testing across cards: three rules, their thresholds and windows as data.

The data is written out here (not imported from app code) so that this migration
means the same thing forever.
"""

from django.db import migrations

RULES = [
    (
        "merchant_card_testing",
        "Card testing at the merchant",
        "At least `min_failures` failed card checks at this merchant in the last `window_minutes`: distinct "
        "cards with a wrong CVV or expiry date, plus attempts on unknown card numbers; or at least "
        "`min_declines` declines there, at least `min_decline_share` of its transactions in the window.",
        30,
        {"window_minutes": 60, "min_failures": 10, "min_declines": 30, "min_decline_share": 0.5},
    ),
    (
        "bin_card_testing",
        "Card testing in the BIN",
        "The same across merchants, for the card number's BIN: at least `min_failures` failed card checks "
        "in the last `window_minutes`, or `min_declines` declines that are at least `min_decline_share` of "
        "the BIN's transactions in the window.",
        20,
        {"window_minutes": 60, "min_failures": 25, "min_declines": 100, "min_decline_share": 0.5},
    ),
    (
        "card_tested_at_merchant",
        "Card tested at this merchant",
        "This card had a wrong CVV or expiry date at this merchant in the last `window_minutes`, while the "
        "merchant had at least `min_failures` failed card checks in that window: declined there (its points "
        "reach the decline threshold and count in full beside a model), even with the right CVV.",
        80,
        {"window_minutes": 1440, "min_failures": 10},
    ),
]


def create_rules(apps, schema_editor):
    Rule = apps.get_model("fraud", "Rule")
    for code, name, description, score, params in RULES:
        Rule.objects.get_or_create(
            code=code, defaults={"name": name, "description": description, "score": score, "params": params}
        )


def delete_rules(apps, schema_editor):
    apps.get_model("fraud", "Rule").objects.filter(code__in=[code for code, *_ in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("fraud", "0005_reported_merchant_share")]

    operations = [migrations.RunPython(create_rules, delete_rules)]
