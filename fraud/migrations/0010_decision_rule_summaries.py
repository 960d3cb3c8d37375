"""The rule summary (Transaction.risk_rules) of the decisions stored before it existed,
from their stored factors and the thresholds of the version that decided (the shipped
defaults for decisions before versioning): ",code," for each factor with points,
",code!," where without its points the risk level would have been lower.

Written out here (not imported from fraud.performance.rule_summary, which writes the
same for new decisions) so that this migration means the same thing forever.
"""

from django.db import migrations

BATCH = 2000


def _summary(factors: list, review: int, decline: int) -> str:
    def level(score):
        return (score >= review) + (score >= decline)

    points = {f["code"]: f.get("score", 0) for f in factors if f.get("score", 0) > 0}
    total = sum(points.values())
    tokens = [
        f"{code}!" if level(min(100, total - score)) < level(min(100, total)) else code
        for code, score in sorted(points.items())
    ]
    return f",{','.join(tokens)}," if tokens else ""


def summarise_stored_decisions(apps, schema_editor):
    Transaction = apps.get_model("transactions", "Transaction")
    FraudSettings = apps.get_model("fraud", "FraudSettings")
    defaults = tuple(FraudSettings._meta.get_field(f).default for f in ("review_threshold", "decline_threshold"))
    thresholds = {
        number: (snapshot["review_threshold"], snapshot["decline_threshold"])
        for number, snapshot in apps.get_model("fraud", "FraudConfigVersion").objects.values_list("number", "snapshot")
    }
    pending = Transaction.objects.filter(risk_score__isnull=False, risk_rules="").order_by("pk")
    last = None
    while True:
        rows = list((pending if last is None else pending.filter(pk__gt=last)).only("pk", "risk_factors", "risk_config_version")[:BATCH])
        if not rows:
            return
        last = rows[-1].pk
        changed = []
        for row in rows:
            row.risk_rules = _summary(row.risk_factors or [], *thresholds.get(row.risk_config_version, defaults))
            if row.risk_rules:
                changed.append(row)
        Transaction.objects.bulk_update(changed, ["risk_rules"])


class Migration(migrations.Migration):

    dependencies = [
        ("fraud", "0009_config_version_shadow"),
        ("transactions", "0008_risk_rules"),
    ]

    operations = [migrations.RunPython(summarise_stored_decisions, migrations.RunPython.noop)]
