"""The reported_merchant rule also asks for a share of the merchant's transactions (2 %):
two cards with fraud in 90 days say nothing at a merchant with thousands of sales."""

from django.db import migrations

MIN_SHARE = 0.02
DESCRIPTION = (
    "At least `min_cards` cards had confirmed fraud at this merchant in `window_days` days and, with "
    "`min_share`, at least that share of the merchant's latest transactions (up to 5,000 in the window) "
    "was confirmed fraud (reports known at decision time)."
)


def add_min_share(apps, schema_editor):
    Rule = apps.get_model("fraud", "Rule")
    for rule in Rule.objects.filter(code="reported_merchant"):
        if "min_share" not in rule.params:  # a staff edit stays as it is
            rule.params = {**rule.params, "min_share": MIN_SHARE}
            rule.description = DESCRIPTION
            rule.save(update_fields=["params", "description"])


def remove_min_share(apps, schema_editor):
    Rule = apps.get_model("fraud", "Rule")
    for rule in Rule.objects.filter(code="reported_merchant"):
        rule.params = {key: value for key, value in rule.params.items() if key != "min_share"}
        rule.save(update_fields=["params"])


class Migration(migrations.Migration):
    dependencies = [("fraud", "0004_model_rule")]

    operations = [migrations.RunPython(add_min_share, remove_min_share)]
