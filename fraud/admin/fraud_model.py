"""The fraud model in the back office: how each stored model was trained and measured,
and which one the live configuration version scores with (fraud/training.py trains them,
fraud/inference.py runs it). Activation goes through fraud.services.model_activate /
model_deactivate: each is a new configuration version, promoted at once.
"""

import datetime
import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from cardsystem.admin import ReadOnlyAdminMixin
from cardsystem.audit import Actor
from cardsystem.exceptions import ConflictError
from fraud.catalogue import BY_NAME
from fraud.models import FraudModel
from fraud.services import model_activate, model_deactivate
from fraud.training import format_moment
from fraud.versions import live_version
from transactions.admin import readonly_table


@admin.register(FraudModel)
class FraudModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Models are trained by `manage.py train_model` and never edited: staff read how
    each was trained and measured, and choose the active one (or none: rules alone).
    Activation goes through fraud.services.model_activate / model_deactivate, an
    operator's explicit act: a configuration version with the model changed, promoted at
    once (a draft with another model is made from the working copy's fraud settings
    instead). None is deleted: audit rows, versions and decisions name them."""

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
    # Every field shown is read: the page changes only through its buttons and actions.
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

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
                    request,
                    f"Fraud model v{model.version} is active: configuration version {_live_number()} "
                    "with it is live and scores decisions now.",
                )
            else:
                model = model_deactivate(model=model, actor=actor)
                self.message_user(
                    request,
                    f"Fraud model v{model.version} is inactive: configuration version {_live_number()} "
                    "without a model is live; the rules alone decide.",
                )
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


def _live_number():
    live = live_version()
    return live.number if live else "—"


def _model_metric(model, name: str) -> str:
    value = (model.metadata.get("holdout") or {}).get(name)
    return "—" if value is None else f"{value:.3f}"


def _feature_label(name: str) -> str:
    return BY_NAME[name].label if name in BY_NAME else name


def _model_day(iso: str) -> str:
    return format_moment(datetime.datetime.fromisoformat(iso))
