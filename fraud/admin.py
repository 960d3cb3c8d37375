"""The fraud analysts' back office: the engine's settings, rules and risk lists, and
the alert queue.

Every change to the configuration goes through fraud.services.fraud_config_save or
fraud_config_delete (an audit row with before and after; the engine re-reads at once).
Decisions on alerts go through fraud.services.alert_decide (fraud.admin_views).
"""

import datetime
import json

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.timesince import timesince
from django_countries.filters import CountryFilter

from cardsystem.admin import PanSafeSearchMixin, ReadOnlyAdminMixin
from cardsystem.audit import Actor
from cardsystem.exceptions import ConflictError
from cardsystem.money import format_amount
from fraud import admin_views
from fraud.catalogue import BY_NAME
from fraud.forms import FraudSettingsForm, RuleForm
from fraud.models import CountryRisk, FraudAlert, FraudModel, FraudSettings, MerchantCategoryRisk, Rule
from fraud.services import fraud_config_delete, fraud_config_save, model_activate, model_deactivate
from fraud.training import format_moment
from transactions.admin import ADMIN_CSS, readonly_table, risk_badge

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


# --- The alert queue ------------------------------------------------------------------------------


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        users = get_user_model().objects.filter(fraud_alerts__isnull=False).distinct().order_by("username")
        return [
            ("mine", "Assigned to me"),
            ("none", "Nobody"),
            *[(str(u.pk), u.get_username()) for u in users],
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "mine":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset


class RiskLevelFilter(admin.SimpleListFilter):
    title = "risk level"
    parameter_name = "risk_level"

    def lookups(self, request, model_admin):
        return [("high", "High"), ("medium", "Medium"), ("low", "Low")]

    def queryset(self, request, queryset):
        if self.value() in ("high", "medium", "low"):
            return queryset.filter(transaction__risk_level=self.value())
        return queryset


# Open first, then being investigated, then the decided ones.
STATUS_RANK = Case(
    When(status=FraudAlert.Status.OPEN, then=Value(0)),
    When(status=FraudAlert.Status.INVESTIGATING, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


@admin.register(FraudAlert)
class FraudAlertAdmin(PanSafeSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The analysts' queue. Nothing here is edited as a form: alerts change only by
    decisions (row buttons, the alert page, bulk actions), which lead to alert_decide."""

    list_display = [
        "risk_display",
        "card_display",
        "amount_display",
        "merchant_display",
        "country_display",
        "factor_codes",
        "status",
        "assignee",
        "age",
        "decide_buttons",
    ]
    list_display_links = ["risk_display", "card_display"]
    list_select_related = ["transaction", "card", "assignee"]
    list_filter = ["status", AssigneeFilter, RiskLevelFilter]
    search_fields = ["=card__last4", "=transaction__merchant_id", "transaction__merchant_name"]
    search_help_text = "Last four digits of the card, merchant ID or merchant name."
    list_per_page = 50
    actions = ["investigate", "confirm_block", "confirm", "false_positive"]
    fieldsets = [
        (
            "Alert",
            {
                "fields": [
                    "status",
                    "risk_display",
                    "reason",
                    "assignee",
                    "created_at",
                    "resolved_display",
                    "notes_display",
                ]
            },
        ),
        ("Transaction", {"fields": ["transaction_display"]}),
        ("Risk factors", {"fields": ["factors_display"]}),
        ("Behaviour the decision saw (stored with it)", {"fields": ["activity_display"]}),
        ("The card's latest transactions", {"fields": ["recent_display"]}),
    ]
    readonly_fields = [
        "status",
        "risk_display",
        "reason",
        "assignee",
        "created_at",
        "resolved_display",
        "notes_display",
        "transaction_display",
        "factors_display",
        "activity_display",
        "recent_display",
    ]

    class Media:
        css = {"all": [ADMIN_CSS]}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("transaction", "card", "assignee", "resolved_by")

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        return (
            columns if self.has_decide_permission(request) else [c for c in columns if c != "decide_buttons"]
        )

    def get_ordering(self, request):
        return [STATUS_RANK.asc(), "-risk_score", "-created_at"]

    # Alerts are opened by the engine and changed by decisions only: the change form
    # is a page to read (ReadOnlyAdminMixin), and "decide" is the permission the buttons
    # and actions need.
    def has_decide_permission(self, request, obj=None):
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def get_urls(self):
        return [
            path(
                "<path:object_id>/decide/",
                self.admin_site.admin_view(
                    lambda request, object_id: admin_views.decide(self, request, object_id)
                ),
                name="fraud_fraudalert_decide",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        can_decide = obj is not None and self.has_decide_permission(request, obj)
        context.update(
            decide_buttons=admin_views.decision_buttons(obj, short=False) if can_decide else "",
            decision_form=admin_views.DecisionForm() if can_decide else None,
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- Columns ---

    @admin.display(description="risk", ordering="risk_score")
    def risk_display(self, alert):
        return risk_badge(alert.risk_score, alert.transaction.risk_level)

    @admin.display(description="card", ordering="card__last4")
    def card_display(self, alert):
        return alert.card.masked_pan

    @admin.display(description="amount", ordering="transaction__amount_minor")
    def amount_display(self, alert):
        return format_amount(alert.transaction.amount_minor, alert.transaction.currency)

    @admin.display(description="merchant", ordering="transaction__merchant_name")
    def merchant_display(self, alert):
        txn = alert.transaction
        return txn.merchant_name or txn.merchant_id

    @admin.display(description="country", ordering="transaction__merchant_country")
    def country_display(self, alert):
        return alert.transaction.merchant_country.code

    @admin.display(description="risk factors")
    def factor_codes(self, alert):
        codes = ", ".join(f.get("code", "") for f in alert.transaction.risk_factors)
        return format_html('<span class="factor-codes">{}</span>', codes)

    @admin.display(description="age", ordering="-created_at")
    def age(self, alert):
        return timesince(alert.created_at)

    @admin.display(description="decide")
    def decide_buttons(self, alert):
        return admin_views.decision_buttons(alert, short=True) or "—"

    # --- The alert page ---

    @admin.display(description="resolved")
    def resolved_display(self, alert):
        if alert.resolved_at is None:
            return "—"
        return f"{alert.resolved_at:%Y-%m-%d %H:%M} by {alert.resolved_by or 'someone no longer here'}"

    @admin.display(description="notes")
    def notes_display(self, alert):
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', alert.notes) if alert.notes else "—"

    @admin.display(description="transaction")
    def transaction_display(self, alert):
        return admin_views.transaction_details(alert.transaction)

    @admin.display(description="factors")
    def factors_display(self, alert):
        return admin_views.risk_factors(alert.transaction)

    @admin.display(description="features")
    def activity_display(self, alert):
        return admin_views.card_activity(alert.transaction)

    @admin.display(description="transactions")
    def recent_display(self, alert):
        return admin_views.recent_transactions(alert.transaction)

    # --- Bulk decisions ---

    @admin.action(description=admin_views.DECISIONS["investigate"].label, permissions=["decide"])
    def investigate(self, request, queryset):
        admin_views.bulk_decide(self, request, queryset, "investigate")

    @admin.action(description=admin_views.DECISIONS["confirm_block"].label, permissions=["decide"])
    def confirm_block(self, request, queryset):
        admin_views.bulk_decide(self, request, queryset, "confirm_block")

    @admin.action(description=admin_views.DECISIONS["confirm"].label, permissions=["decide"])
    def confirm(self, request, queryset):
        admin_views.bulk_decide(self, request, queryset, "confirm")

    @admin.action(description=admin_views.DECISIONS["false_positive"].label, permissions=["decide"])
    def false_positive(self, request, queryset):
        admin_views.bulk_decide(self, request, queryset, "false_positive")


# --- The fraud model (fraud/inference.py) ---------------------------------------------------------


@admin.register(FraudModel)
class FraudModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Models are trained by `manage.py train_model` and never edited: staff read how
    each was trained and measured, and choose the active one (or none: rules alone).
    Activation goes through fraud.services.model_activate / model_deactivate. None is
    deleted: audit rows and decisions name versions."""

    list_display = [
        "version",
        "created_at",
        "window_display",
        "rows_display",
        "frauds_display",
        "auc_display",
        "ap_display",
        "active",
    ]
    list_filter = ["active"]
    actions = ["activate", "deactivate"]
    fieldsets = [
        ("Model", {"fields": ["version", "active", "activated_at", "created_at", "created_by"]}),
        ("Training", {"fields": ["window_display", "labels_display"]}),
        ("Measured on the latest transactions, held out", {"fields": ["holdout_display"]}),
        ("What the model leans on", {"fields": ["importance_display"]}),
        ("Recipe", {"fields": ["params_display", "features_display"]}),
    ]
    readonly_fields = [
        "version",
        "active",
        "activated_at",
        "created_at",
        "created_by",
        "window_display",
        "labels_display",
        "holdout_display",
        "importance_display",
        "params_display",
        "features_display",
    ]

    def get_queryset(self, request):
        # The artifact is large and only the engine reads it.
        return super().get_queryset(request).defer("artifact")

    def has_activate_permission(self, request, obj=None):
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def get_urls(self):
        return [
            *(
                path(
                    f"<path:object_id>/{switch}/",
                    self.admin_site.admin_view(self.switch_view),
                    {"switch": switch},
                    name=f"fraud_fraudmodel_{switch}",
                )
                for switch in ("activate", "deactivate")
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self.has_activate_permission(request, obj):
            switch = "deactivate" if obj.active else "activate"
            context["switch_url"] = reverse(f"admin:fraud_fraudmodel_{switch}", args=[obj.pk])
            context["switch_label"] = (
                "Deactivate (decide by the rules alone)" if obj.active else "Activate (score with this model)"
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def switch_view(self, request, object_id, switch):
        """The model page's button: POST only, then back to the page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_activate_permission(request):
            raise PermissionDenied
        model = self.get_object(request, object_id)
        if model is None:
            raise Http404
        self._switch(request, model, switch)
        return HttpResponseRedirect(reverse("admin:fraud_fraudmodel_change", args=[model.pk]))

    @admin.action(description="Activate the selected model (one)", permissions=["activate"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model to activate.", messages.ERROR)
            return
        self._switch(request, queryset.get(), "activate")

    @admin.action(description="Deactivate the selected models (rules alone)", permissions=["activate"])
    def deactivate(self, request, queryset):
        for model in queryset.filter(active=True):
            self._switch(request, model, "deactivate")

    def _switch(self, request, model, switch):
        actor = Actor.for_request(request)
        try:
            if switch == "activate":
                model = model_activate(model=model, actor=actor)
                self.message_user(
                    request, f"Fraud model v{model.version} is active: it scores decisions now."
                )
            else:
                model = model_deactivate(model=model, actor=actor)
                self.message_user(request, f"Fraud model v{model.version} is inactive: rules alone decide.")
        except ConflictError as error:
            self.message_user(request, error.message, messages.ERROR)

    # --- Columns and the model page ---

    @admin.display(description="window")
    def window_display(self, model):
        meta = model.metadata
        if not meta.get("since"):
            return "—"
        return (
            f"{_model_day(meta['since'])} to {_model_day(meta['until'])}, "
            f"reports filed by {_model_day(meta['cutoff'])} "
            f"(label delay {meta.get('label_delay_days', 0):g} days)"
        )

    @admin.display(description="rows")
    def rows_display(self, model):
        return f"{model.metadata.get('rows', 0):,}"

    @admin.display(description="frauds")
    def frauds_display(self, model):
        return f"{model.metadata.get('frauds', 0):,}"

    @admin.display(description="AUC")
    def auc_display(self, model):
        return _model_metric(model, "roc_auc")

    @admin.display(description="AP")
    def ap_display(self, model):
        return _model_metric(model, "average_precision")

    @admin.display(description="labels")
    def labels_display(self, model):
        meta = model.metadata
        delays = meta.get("report_delay_days") or {}
        rows = [
            ("transactions", f"{meta.get('rows', 0):,}"),
            ("confirmed frauds", f"{meta.get('frauds', 0):,}"),
            ("left out: no stored features", f"{meta.get('without_features', 0):,}"),
        ]
        if delays:
            rows.append(
                (
                    "days from transaction to report",
                    f"median {delays['median']:g}, 90% within {delays['p90']:g}, at most {delays['max']:g}",
                )
            )
        return readonly_table(["", ""], rows)

    @admin.display(description="metrics")
    def holdout_display(self, model):
        holdout = model.metadata.get("holdout") or {}
        if not holdout:
            return "—"
        summary = readonly_table(
            ["held out from", "transactions", "frauds", "trained on before", "ROC AUC", "average precision"],
            [
                (
                    _model_day(holdout["from"]),
                    f"{holdout['rows']:,}",
                    f"{holdout['frauds']:,}",
                    f"{holdout['train_rows']:,} ({holdout['train_frauds']:,} frauds)",
                    _model_metric(model, "roc_auc"),
                    _model_metric(model, "average_precision"),
                )
            ],
        )
        by_threshold = readonly_table(
            ["probability from", "flagged", "precision", "recall"],
            [
                (
                    f"{row['threshold']:.0%}",
                    f"{row['flagged']:,}",
                    "—" if row["precision"] is None else f"{row['precision']:.0%}",
                    f"{row['recall']:.0%}",
                )
                for row in holdout.get("thresholds", [])
            ],
        )
        note = format_html(
            '<p class="help">{}</p>',
            "A model of the same recipe, trained on the transactions before the held-out ones, scored "
            "them; the stored model is then trained on all of them.",
        )
        return format_html("{}{}{}", summary, by_threshold, note)

    @admin.display(description="features")
    def importance_display(self, model):
        rows = [
            (_feature_label(item["feature"]), f"{item['share']:.0%}")
            for item in model.metadata.get("importance", [])
        ]
        return readonly_table(["feature", "share of the gain"], rows, empty="No feature used.")

    @admin.display(description="parameters")
    def params_display(self, model):
        meta = model.metadata
        recipe = {
            "rounds": meta.get("rounds"),
            "trees": meta.get("trees"),
            "params": meta.get("params"),
            "libraries": meta.get("libraries"),
            "training_seconds": meta.get("training_seconds"),
        }
        return format_html("<pre>{}</pre>", json.dumps(recipe, indent=2, sort_keys=True))

    @admin.display(description="features read, in order")
    def features_display(self, model):
        return ", ".join(model.features)


def _model_metric(model, name: str) -> str:
    value = (model.metadata.get("holdout") or {}).get(name)
    return "—" if value is None else f"{value:.3f}"


def _feature_label(name: str) -> str:
    return BY_NAME[name].label if name in BY_NAME else name


def _model_day(iso: str) -> str:
    return format_moment(datetime.datetime.fromisoformat(iso))
