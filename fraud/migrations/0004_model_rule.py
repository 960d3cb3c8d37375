"""The `model` rule: the trained model's weight, a switch staff can turn off."""

from django.db import migrations

MODEL_RULE = {
    "name": "Fraud model",
    "description": (
        "The active trained model's fraud probability times these points, added to the other rules' points, "
        "each counted at `rule_weight` while a model is active. Without an active model (Fraud models), the "
        "rules alone decide, at full points."
    ),
    "score": 100,
    "params": {"rule_weight": 0.3},
}


def create_model_rule(apps, schema_editor):
    apps.get_model("fraud", "Rule").objects.get_or_create(code="model", defaults=MODEL_RULE)


def delete_model_rule(apps, schema_editor):
    apps.get_model("fraud", "Rule").objects.filter(code="model").delete()


class Migration(migrations.Migration):
    dependencies = [("fraud", "0003_fraudmodel")]

    operations = [migrations.RunPython(create_model_rule, delete_model_rule)]
