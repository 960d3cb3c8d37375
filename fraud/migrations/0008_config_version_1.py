"""Version 1 of the fraud configuration, live: whatever the working copy holds when
versioning arrives (the shipped defaults on a fresh database), with the active model if
any. From here on the engine decides by the live version only, so nothing changes for the
decisions.

The snapshot's shape is written out here (not imported from app code) so that this
migration means the same thing forever; fraud.configuration.as_snapshot writes the same.
"""

from django.db import migrations
from django.utils import timezone


def create_version_1(apps, schema_editor):
    Version = apps.get_model("fraud", "FraudConfigVersion")
    if Version.objects.exists():
        return
    FraudSettings = apps.get_model("fraud", "FraudSettings")
    FraudModel = apps.get_model("fraud", "FraudModel")
    settings = FraudSettings.objects.first()
    active = FraudModel.objects.filter(active=True).first()
    if settings is not None and settings.model_id is None and active is not None:
        settings.model = active
        settings.save(update_fields=["model"])
    defaults = {f.name: f.default for f in FraudSettings._meta.concrete_fields if f.name.endswith(("_threshold", "_limit"))}
    snapshot = {
        "review_threshold": settings.review_threshold if settings else defaults["review_threshold"],
        "decline_threshold": settings.decline_threshold if settings else defaults["decline_threshold"],
        "cvv_failure_limit": settings.cvv_failure_limit if settings else defaults["cvv_failure_limit"],
        "rules": {
            rule.code: {"enabled": rule.enabled, "score": rule.score, "params": rule.params or {}}
            for rule in apps.get_model("fraud", "Rule").objects.order_by("code")
        },
        "countries": dict(apps.get_model("fraud", "CountryRisk").objects.order_by("country").values_list("country", "level")),
        "mccs": dict(apps.get_model("fraud", "MerchantCategoryRisk").objects.order_by("mcc").values_list("mcc", "level")),
        "model": {"id": active.pk, "version": active.version} if active else None,
    }
    now = timezone.now()
    Version.objects.create(
        number=1,
        state="live",
        snapshot=snapshot,
        model=active,
        reason="The configuration in force when versioning began.",
        created_by="migration",
        promoted_by="migration",
        promoted_at=now,
    )


def delete_versions(apps, schema_editor):
    apps.get_model("fraud", "FraudConfigVersion").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("fraud", "0007_fraudconfigversion")]

    operations = [migrations.RunPython(create_version_1, delete_versions)]
