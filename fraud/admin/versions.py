"""Versions of the fraud configuration in the back office: each numbered version with
its reason, who made and promoted it, and its differences from the version it was based
on and from the live one; the pages that save the working copy as a draft, request the
promotion of a version (an earlier one: the rollback) and copy a version back into the
working copy.

Every write goes through fraud.versions; a version's page is read-only. Saving a draft,
"edit from", shadow and backtests need fraud.edit_fraud_configuration; a promotion needs
fraud.promote_fraudconfigversion and is held for a second person (fraud/change_kinds.py).
"""

import functools

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from cardsystem.admin import ReadOnlyAdminMixin, add_service_errors, form_page
from cardsystem.audit import Actor
from cardsystem.exceptions import ConflictError
from fraud.admin.backtest import backtest_view
from fraud.admin.held import ask, pending_note
from fraud.admin.shadow import ShadowViews
from fraud.change_kinds import CONFIG_PROMOTE, config_promote_request, pending_request
from fraud.config_diff import diff, shown
from fraud.configuration import as_snapshot, read_config
from fraud.models import FraudConfigVersion
from fraud.versions import config_version_create, live_version, working_copy_reset
from transactions.admin import readonly_table

State = FraudConfigVersion.State
DIFF_HEADERS = ["", "item", "change", "before", "after"]


def diff_table(before: dict | None, after: dict, *, empty: str = "No difference.") -> str:
    rows = [(c.section, c.item, c.change, c.before, c.after) for c in diff(before, after)]
    return readonly_table(DIFF_HEADERS, rows, empty=empty)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=FraudConfigVersion._meta.get_field("reason").max_length,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why: kept with the version and in the audit log.",
    )


@admin.register(FraudConfigVersion)
class FraudConfigVersionAdmin(ShadowViews, ReadOnlyAdminMixin, admin.ModelAdmin):
    reason_form = ReasonForm

    list_display = [
        "number",
        "state",
        "reason",
        "based_on_number",
        "changes_count",
        "created_by",
        "created_at",
        "promoted_at",
    ]
    list_display_links = ["number"]
    list_filter = ["state"]
    list_select_related = ["based_on"]
    search_fields = ["=number", "reason", "created_by"]
    search_help_text = "Version number, words of the reason, or who made it."
    fieldsets = [
        (
            "Version",
            {
                "fields": [
                    "number",
                    "state",
                    "reason",
                    "created_by",
                    "created_at",
                    "based_on_link",
                    "promoted_by",
                    "promoted_at",
                ]
            },
        ),
        ("Changes from the version it was based on", {"fields": ["changes_display"]}),
        ("Against the live version", {"fields": ["live_display"]}),
        ("The configuration", {"fields": ["settings_display", "rules_display", "lists_display"]}),
    ]
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    def has_edit_permission(self, request):
        """Drafts, "edit from", shadow, backtests: work on the strategy that decides nothing."""
        return request.user.has_perm("fraud.edit_fraud_configuration")

    def has_promote_permission(self, request):
        return request.user.has_perm("fraud.promote_fraudconfigversion")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "save-working-copy/", view(self.save_draft_view), name="fraud_fraudconfigversion_save_draft"
            ),
            path(
                "<path:object_id>/promote/", view(self.promote_view), name="fraud_fraudconfigversion_promote"
            ),
            path(
                "<path:object_id>/backtest/",
                view(functools.partial(backtest_view, self)),
                name="fraud_fraudconfigversion_backtest",
            ),
            path(
                "<path:object_id>/edit-from/",
                view(self.edit_from_view),
                name="fraud_fraudconfigversion_edit_from",
            ),
            *self.shadow_urls(),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(extra_context or {})
        if self.has_edit_permission(request):
            extra_context["save_draft_url"] = reverse("admin:fraud_fraudconfigversion_save_draft")
        if request.user.has_perm("fraud.view_rule"):
            extra_context["performance_url"] = reverse("admin:fraud_rule_performance")
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            pending = pending_request(CONFIG_PROMOTE, obj)
            context["pending_promotion"] = pending_note(pending)
            if self.has_edit_permission(request):
                context["backtest_url"] = reverse("admin:fraud_fraudconfigversion_backtest", args=[obj.pk])
            if obj.state != State.LIVE and pending is None and self.has_promote_permission(request):
                context["promote_url"] = reverse("admin:fraud_fraudconfigversion_promote", args=[obj.pk])
                context["promote_label"] = (
                    f"Roll back to version {obj.number}"
                    if obj.state == State.RETIRED
                    else "Promote: make it live"
                )
            if self.has_edit_permission(request):
                context["edit_from_url"] = reverse("admin:fraud_fraudconfigversion_edit_from", args=[obj.pk])
            context.update(self.shadow_links(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- The pages that write ---

    def save_draft_view(self, request):
        if not self.has_edit_permission(request):
            raise PermissionDenied
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                version = config_version_create(
                    actor=Actor.for_request(request), reason=form.cleaned_data["reason"]
                )
            except (ValidationError, ConflictError) as error:
                add_service_errors(form, error)
            else:
                self.message_user(
                    request, f"Saved as draft version {version.number}: it decides nothing until promoted."
                )
                return HttpResponseRedirect(
                    reverse("admin:fraud_fraudconfigversion_change", args=[version.pk])
                )
        live = live_version()
        return form_page(
            request,
            self,
            form=form,
            title="Save the working copy as a draft",
            submit_label="Save as draft",
            intro=(
                "The working copy (fraud settings, rules, risk lists) becomes a new numbered version, "
                "a draft: nothing changes for decisions until it is promoted."
            ),
            preface=_titled(
                f"The working copy against the live version {live.number}" if live else "The working copy",
                diff_table(
                    live.snapshot if live else None,
                    as_snapshot(read_config()),
                    empty="No difference: the working copy is the live configuration.",
                ),
            ),
        )

    def _version_to_act_on(self, request, object_id, allowed: bool) -> FraudConfigVersion:
        if not allowed:
            raise PermissionDenied
        version = self.get_object(request, object_id)
        if version is None:
            raise Http404
        return version

    def promote_view(self, request, object_id):
        version = self._version_to_act_on(request, object_id, self.has_promote_permission(request))
        form = ReasonForm(request.POST if request.method == "POST" else None)
        back = reverse("admin:fraud_fraudconfigversion_change", args=[version.pk])
        done = ask(self, request, form, functools.partial(config_promote_request, version=version), back)
        if done is not None:
            return done
        live = live_version()
        rollback = version.state == State.RETIRED
        return form_page(
            request,
            self,
            form=form,
            original=version,
            title=f"Roll back to version {version.number}"
            if rollback
            else f"Promote version {version.number}",
            submit_label="Request the rollback" if rollback else "Request the promotion",
            intro=(
                f"Once another person with the permission approves this request, version {version.number} "
                f"becomes the live configuration: every decision from then on is made by it (other app "
                f"servers within seconds)"
                + (f", and version {live.number} is retired." if live else ".")
                + " Until then nothing changes for decisions."
            ),
            preface=_titled(
                f"What changes for decisions: version {live.number} (live) against version {version.number}"
                if live
                else "What changes for decisions",
                diff_table(live.snapshot if live else None, version.snapshot),
            ),
        )

    def edit_from_view(self, request, object_id):
        version = self._version_to_act_on(request, object_id, self.has_edit_permission(request))
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            working_copy_reset(
                version=version, actor=Actor.for_request(request), reason=form.cleaned_data["reason"]
            )
            self.message_user(
                request,
                f"The working copy now holds version {version.number}'s configuration; edit it, then "
                "save it as a draft.",
            )
            return HttpResponseRedirect(reverse("admin:fraud_rule_changelist"))
        return form_page(
            request,
            self,
            form=form,
            original=version,
            title=f"Edit from version {version.number}",
            submit_label="Replace the working copy",
            intro=(
                f"The working copy (fraud settings, rules, risk lists) is replaced by version "
                f"{version.number}'s configuration, to edit from there. Nothing changes for decisions."
            ),
            preface=_titled(
                "What the working copy loses",
                diff_table(as_snapshot(read_config()), version.snapshot),
            ),
        )

    # --- Columns and the version page ---

    @admin.display(description="based on", ordering="based_on__number")
    def based_on_number(self, version):
        return version.based_on.number if version.based_on else "—"

    @admin.display(description="changes")
    def changes_count(self, version):
        if version.based_on is None:
            return "—"
        return len(diff(version.based_on.snapshot, version.snapshot))

    @admin.display(description="based on")
    def based_on_link(self, version):
        if version.based_on is None:
            return "—"
        url = reverse("admin:fraud_fraudconfigversion_change", args=[version.based_on_id])
        return format_html('<a href="{}">{}</a>', url, version.based_on)

    @admin.display(description="changes")
    def changes_display(self, version):
        if version.based_on is None:
            return "The first version: history starts here."
        return diff_table(version.based_on.snapshot, version.snapshot)

    @admin.display(description="differences")
    def live_display(self, version):
        if version.state == State.LIVE:
            return "This is the live version: it decides."
        live = live_version()
        if live is None:
            return "No version is live."
        return format_html(
            "<p>From the live version {} to this one:</p>{}",
            live.number,
            diff_table(live.snapshot, version.snapshot),
        )

    @admin.display(description="settings")
    def settings_display(self, version):
        snapshot = version.snapshot
        model = snapshot.get("model")
        return readonly_table(
            ["", ""],
            [
                ("review threshold", snapshot["review_threshold"]),
                ("decline threshold", snapshot["decline_threshold"]),
                ("wrong CVVs in a row before blocking", snapshot["cvv_failure_limit"]),
                ("fraud model", f"v{model['version']}" if model else "none (rules alone)"),
            ],
        )

    @admin.display(description="rules")
    def rules_display(self, version):
        rows = [
            (code, shown(rule["enabled"]), rule["score"], shown(rule["params"] or {}))
            for code, rule in sorted(version.snapshot["rules"].items())
        ]
        return readonly_table(["rule", "switch", "points", "thresholds"], rows, empty="No rule.")

    @admin.display(description="risk lists")
    def lists_display(self, version):
        rows = [("country", key, level) for key, level in sorted(version.snapshot["countries"].items())]
        rows += [("merchant category", key, level) for key, level in sorted(version.snapshot["mccs"].items())]
        return readonly_table(["list", "entry", "level"], rows, empty="Empty lists.")


def _titled(title: str, table: str) -> str:
    return format_html("<h2>{}</h2>{}", title, table)
