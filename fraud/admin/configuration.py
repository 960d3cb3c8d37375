"""The fraud engine's working copy in the back office: the settings (thresholds, the
model), the rules' switches, points and thresholds, and the country and merchant
category lists.

Every change goes through fraud.services.fraud_config_save or fraud_config_delete (an
audit row with before and after) and decides nothing: each page says so, how far the
working copy is from the live version, and links to saving it as a draft version
(fraud/admin/versions.py), which decides once promoted.

Roles hold view_ on these models plus fraud.edit_fraud_configuration, which is what adding,
changing and deleting here need (one power over the whole working copy).
"""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django_countries.filters import CountryFilter

from cardsystem.audit import Actor
from fraud.admin.performance import performance_view
from fraud.config_diff import diff
from fraud.configuration import as_snapshot, read_config
from fraud.forms import FraudSettingsForm, RuleForm
from fraud.models import CountryRisk, FraudSettings, MerchantCategoryRisk, Rule
from fraud.services import fraud_config_delete, fraud_config_save
from fraud.versions import live_version

# Per-currency overrides shown in the rule list; the rule's page has them all.
SUMMARY_ENTRIES = 4
EDIT_PERMISSION = "fraud.edit_fraud_configuration"


class ConfigAdmin(admin.ModelAdmin):
    """Saves and deletes through the services, one audit row each, bulk deletes included.
    Every page of the working copy carries the note that says it is not live."""

    change_list_template = "admin/fraud/working_copy/change_list.html"
    change_form_template = "admin/fraud/working_copy/change_form.html"

    def has_add_permission(self, request):
        return request.user.has_perm(EDIT_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(EDIT_PERMISSION)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm(EDIT_PERMISSION)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(
            request, {**(extra_context or {}), "working_copy": working_copy_note(request)}
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "working_copy": working_copy_note(request)}
        return super().changeform_view(request, object_id, form_url, extra_context)

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
    list_display = ["__str__", "cvv_failure_limit", "model", "updated_at"]
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

    def get_urls(self):
        view = self.admin_site.admin_view(lambda request: performance_view(request, self))
        return [path("performance/", view, name="fraud_rule_performance"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "performance_url": reverse("admin:fraud_rule_performance")}
        return super().changelist_view(request, extra_context)

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


def working_copy_note(request) -> dict:
    """What the working copy's pages say: the live version and how many differences the
    working copy holds against it (and, to those who may, the link that saves it)."""
    live = live_version()
    return {
        "live": live,
        "differences": len(diff(live.snapshot if live else None, as_snapshot(read_config()))),
        "save_url": reverse("admin:fraud_fraudconfigversion_save_draft")
        if request.user.has_perm(EDIT_PERMISSION)
        else "",
        "versions_url": reverse("admin:fraud_fraudconfigversion_changelist"),
    }


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
