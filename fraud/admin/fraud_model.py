"""The fraud model in the back office: how each stored model was trained and measured,
and which one the live configuration version scores with (fraud/training.py trains them,
fraud/inference.py runs it). Both switches need fraud.activate_fraudmodel. Activation is
a request held for a second person (fraud/change_kinds.py), applied by
fraud.services.model_activate; deactivation is the kill switch, immediate and audited
(fraud.services.model_deactivate). Each is a new configuration version, promoted at once.
"""

import datetime
import functools
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from cardsystem.admin import ReadOnlyAdminMixin, chart_html, form_page, side_by_side
from cardsystem.audit import Actor
from cardsystem.exceptions import ConflictError
from fraud import catalogue, charts
from fraud.admin.held import ask, pending_note
from fraud.change_kinds import MODEL_ACTIVATE, model_activate_request, pending_request
from fraud.models import FraudModel
from fraud.services import model_deactivate
from fraud.training import format_moment
from fraud.versions import live_version
from transactions.admin import readonly_table


class ActivationForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why this model should score: the approver reads it; kept with the version and the audit.",
    )


@admin.register(FraudModel)
class FraudModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Models are trained by `manage.py train_model` and never edited: staff read how
    each was trained and measured, and choose the active one (or none: rules alone).
    Activation is requested here and applied, once a second person approves, by
    fraud.services.model_activate: a configuration version with the model changed,
    promoted at once (a draft with another model is made from the working copy's fraud
    settings instead). Deactivation (model_deactivate) is not held: it is the kill switch
    back to the rules alone. None is deleted: audit rows, versions and decisions name them."""

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
        ("Measured on the latest transactions, held out", {"fields": ["holdout_display", "curves_display"]}),
        ("What the model leans on", {"fields": ["importance_display"]}),
        ("Recipe", {"fields": ["params_display", "features_display"]}),
    ]
    # Every field shown is read: the page changes only through its buttons and actions.
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    def get_queryset(self, request):
        # The artifact is large and only the engine reads it.
        return super().get_queryset(request).defer("artifact")

    def has_activate_permission(self, request, obj=None):
        return request.user.has_perm("fraud.activate_fraudmodel")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/activate/", view(self.activate_view), name="fraud_fraudmodel_activate"),
            path(
                "<path:object_id>/deactivate/",
                view(self.deactivate_view),
                name="fraud_fraudmodel_deactivate",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            pending = pending_request(MODEL_ACTIVATE, obj)
            context["pending_activation"] = pending_note(pending)
            if self.has_activate_permission(request, obj):
                if obj.active:
                    context["deactivate_url"] = reverse("admin:fraud_fraudmodel_deactivate", args=[obj.pk])
                elif pending is None:
                    context["activate_url"] = reverse("admin:fraud_fraudmodel_activate", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _model_to_switch(self, request, object_id) -> FraudModel:
        if not self.has_activate_permission(request):
            raise PermissionDenied
        model = self.get_object(request, object_id)
        if model is None:
            raise Http404
        return model

    def activate_view(self, request, object_id):
        """A reason, then a request that a second person approves."""
        model = self._model_to_switch(request, object_id)
        form = ActivationForm(request.POST if request.method == "POST" else None)
        back = reverse("admin:fraud_fraudmodel_change", args=[model.pk])
        done = ask(self, request, form, functools.partial(model_activate_request, model=model), back)
        if done is not None:
            return done
        return form_page(
            request,
            self,
            form=form,
            original=model,
            title=f"Activate fraud model v{model.version}",
            submit_label="Request the activation",
            intro=(
                f"Once another person with the permission approves this request, fraud model "
                f"v{model.version} scores every decision (a new configuration version, live at once). "
                "Until then nothing changes for decisions. (Deactivating the active model, the kill switch "
                "back to the rules alone, is not held: it takes effect at once.)"
            ),
        )

    def deactivate_view(self, request, object_id):
        """The kill switch: POST only, immediate (not held), audited; then back to the page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._deactivate(request, self._model_to_switch(request, object_id))
        return HttpResponseRedirect(reverse("admin:fraud_fraudmodel_change", args=[object_id]))

    @admin.action(description="Request the activation of the selected model (one)", permissions=["activate"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model to activate.", messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:fraud_fraudmodel_activate", args=[queryset.get().pk]))

    @admin.action(description="Deactivate the selected models now (rules alone)", permissions=["activate"])
    def deactivate(self, request, queryset):
        for model in queryset.filter(active=True):
            self._deactivate(request, model)

    def _deactivate(self, request, model):
        try:
            model = model_deactivate(model=model, actor=Actor.for_request(request))
        except ConflictError as error:
            self.message_user(request, error.message, messages.ERROR)
        else:
            self.message_user(
                request,
                f"Fraud model v{model.version} is inactive: configuration version {_live_number()} "
                "without a model is live; the rules alone decide.",
            )

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

    @admin.display(description="curves")
    def curves_display(self, model):
        holdout = model.metadata.get("holdout") or {}
        if not holdout.get("curves"):
            return format_html(
                '<p class="help" id="curves-missing">{}</p>',
                "The curves were not recorded for this model (trained before they were): "
                "train it again (manage.py train_model) to see them.",
            )
        return side_by_side(
            chart_html(chart_id="model-roc", title="ROC curve", config=charts.model_roc(holdout)),
            chart_html(
                chart_id="model-precision-recall",
                title="Precision and recall",
                config=charts.model_precision_recall(holdout),
            ),
        )

    @admin.display(description="features")
    def importance_display(self, model):
        importance = model.metadata.get("importance", [])
        rows = [(catalogue.label(item["feature"]), f"{item['share']:.0%}") for item in importance]
        table = readonly_table(["feature", "share of the gain"], rows, empty="No feature used.")
        if not importance:
            return table
        chart = chart_html(
            chart_id="model-importance",
            title="Share of the trees' gain",
            config=charts.model_importance(importance),
            height=charts.bars_height(len(importance)),
        )
        return side_by_side(table, chart)

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


def _model_day(iso: str) -> str:
    return format_moment(datetime.datetime.fromisoformat(iso))
