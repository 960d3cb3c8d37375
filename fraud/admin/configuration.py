"""The fraud engine's configuration in the back office: the settings (thresholds),
the rules' switches, points and thresholds, and the country and merchant category lists.

Every change goes through fraud.services.fraud_config_save or fraud_config_delete (an
audit row with before and after; the engine re-reads at once).
"""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django_countries.filters import CountryFilter

from cardsystem.audit import Actor
from fraud.forms import FraudSettingsForm, RuleForm
from fraud.models import CountryRisk, FraudSettings, MerchantCategoryRisk, Rule
from fraud.services import fraud_config_delete, fraud_config_save

# Per-currency overrides shown in the rule list; the rule's page has them all.
SUMMARY_ENTRIES = 4


class ConfigAdmin(admin.ModelAdmin):
    """Saves and deletes through the services, one audit row each, bulk deletes included."""

    def save_model(self, request, obj, form, change):
        fraud_config_save(obj=obj, actor=Actor.for_request(request))

    def delete_model(self, request, obj):
        fraud_config_delete(obj=obj, actor=Actor.for_request(request))

    def delete_queryset(self, request, queryset):
        actor = Actor.for_request(request)
        for obj in queryset:
            fraud_config_delete(obj=obj, actor=actor)


@admin.register(FraudSettings)
class FraudSettingsAdmin(ConfigAdmin):
    """One row: its list page leads straight to it."""

    form = FraudSettingsForm
    list_display = ["__str__", "cvv_failure_limit", "updated_at"]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not FraudSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        row = FraudSettings.objects.first()
        if row is not None and self.has_view_or_change_permission(request, row):
            return HttpResponseRedirect(reverse("admin:fraud_fraudsettings_change", args=[row.pk]))
        return super().changelist_view(request, extra_context)


@admin.register(Rule)
class RuleAdmin(ConfigAdmin):
    """Rules are the engine's code: staff switch them, set their points and thresholds."""

    form = RuleForm
    list_display = ["name", "code", "enabled", "score", "params_summary", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "code"]
    fields = ["code", "name", "description", "enabled", "score", "params", "updated_at"]
    readonly_fields = ["code", "name", "description", "updated_at"]

    def has_add_permission(self, request):
        return False  # the engine knows a fixed set of codes (fraud/scoring.py)

    def has_delete_permission(self, request, obj=None):
        return False  # switch a rule off instead

    @admin.display(description="thresholds")
    def params_summary(self, rule):
        parts = []
        for key, value in sorted((rule.params or {}).items()):
            if isinstance(value, dict):
                entries = [f"{k} {v}" for k, v in sorted(value.items())]
                more = f" and {len(entries) - SUMMARY_ENTRIES} more" if len(entries) > SUMMARY_ENTRIES else ""
                parts.append(f"{key}: {', '.join(entries[:SUMMARY_ENTRIES])}{more}")
            else:
                parts.append(f"{key}={value}")
        return "; ".join(parts) or "—"


class RiskListAdmin(ConfigAdmin):
    list_filter = ["level"]
    readonly_fields = ["updated_at"]


@admin.register(CountryRisk)
class CountryRiskAdmin(RiskListAdmin):
    list_display = ["country", "country_name", "level", "note", "updated_at"]
    list_filter = ["level", ("country", CountryFilter)]
    search_fields = ["country", "note"]
    search_help_text = "Two-letter country code, or words of the note."
    fields = ["country", "level", "note", "updated_at"]

    @admin.display(description="name")
    def country_name(self, entry):
        return entry.country.name


@admin.register(MerchantCategoryRisk)
class MerchantCategoryRiskAdmin(RiskListAdmin):
    list_display = ["mcc", "level", "note", "updated_at"]
    search_fields = ["mcc", "note"]
    search_help_text = "Merchant category code, or words of the note."
    fields = ["mcc", "level", "note", "updated_at"]
