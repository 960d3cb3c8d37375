"""The analysts' alert queue and the alert page: what the engine flagged, the
transaction, its risk factors, the behaviour the decision saw and the card's latest
transactions. Decisions (row buttons, the page's panel, bulk actions) are in
fraud/admin/decisions.py and go through fraud.services.alert_decide.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Case, IntegerField, Value, When
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from cardsystem.admin import PanSafeSearchMixin, ReadOnlyAdminMixin
from cardsystem.exports import CsvExportMixin
from cardsystem.money import format_amount
from fraud import catalogue
from fraud.admin import decisions
from fraud.exports import ALERT_COLUMNS
from fraud.forms import DecisionForm
from fraud.models import FraudAlert
from transactions.admin import (
    ADMIN_CSS,
    MerchantFilter,
    factor_codes,
    factors_table,
    merchant_cell,
    readonly_table,
    risk_badge,
    transaction_link,
)
from transactions.models import Transaction

RECENT_TRANSACTIONS = 20
DETAILS_TEMPLATE = "admin/fraud/fraudalert/details_table.html"


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
        if value and value.isdecimal():  # not isdigit(): "²" is a digit int() refuses
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


class AlertMerchantFilter(MerchantFilter):
    field = "transaction__merchant_id"


# Open first, then being investigated, then the decided ones.
STATUS_RANK = Case(
    When(status=FraudAlert.Status.OPEN, then=Value(0)),
    When(status=FraudAlert.Status.INVESTIGATING, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


@admin.register(FraudAlert)
class FraudAlertAdmin(CsvExportMixin, PanSafeSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The analysts' queue. Nothing here is edited as a form: alerts change only by
    decisions (row buttons, the alert page, bulk actions), which lead to alert_decide."""

    # Fits a 1366-pixel screen with the navigation sidebar open: the risk factors under
    # the score, the merchant's country and category under its name, the age and
    # assignee under the status.
    list_display = [
        "risk_display",
        "card_display",
        "amount_display",
        "merchant_display",
        "status_display",
        "decide_buttons",
    ]
    list_display_links = ["risk_display", "card_display"]
    list_select_related = ["transaction", "card", "assignee"]
    list_filter = ["status", AssigneeFilter, RiskLevelFilter, AlertMerchantFilter]
    search_fields = ["=card__last4", "=transaction__merchant_id", "transaction__merchant_name"]
    search_help_text = "Last four digits of the card, merchant ID or merchant name."
    list_per_page = 50
    export_columns = ALERT_COLUMNS
    actions = ["investigate", "confirm_block", "confirm", "false_positive"]
    fieldsets = [
        (
            "Alert",
            {
                "fields": [
                    "status",
                    "risk_display",
                    "reason",
                    "case_link",
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
    # Every field shown is read: the page changes only through its buttons and actions.
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    class Media:
        css = {"all": [ADMIN_CSS]}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("transaction", "card", "assignee", "resolved_by")

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        if not self.has_decide_permission(request):
            return [c for c in columns if c != "decide_buttons"]
        block = decisions.may_block(request.user)

        @admin.display(description="decide")
        def decide_buttons(alert):
            return decisions.decision_buttons(alert, short=True, block=block) or "—"

        return [decide_buttons if c == "decide_buttons" else c for c in columns]

    def get_ordering(self, request):
        return [STATUS_RANK.asc(), "-risk_score", "-created_at"]

    # Alerts are opened by the engine and changed by decisions only: the change form
    # is a page to read (ReadOnlyAdminMixin), and "decide" is the permission the buttons
    # and actions need ("decide_block" for those that also block the card).
    def has_decide_permission(self, request, obj=None):
        return decisions.may_decide(request.user)

    def has_decide_block_permission(self, request, obj=None):
        return decisions.may_decide(request.user) and decisions.may_block(request.user)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/decide/",
                self.admin_site.admin_view(
                    lambda request, object_id: decisions.decide(self, request, object_id)
                ),
                name="fraud_fraudalert_decide",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        can_decide = obj is not None and self.has_decide_permission(request, obj)
        block = decisions.may_block(request.user)
        context.update(
            decide_buttons=decisions.decision_buttons(obj, short=False, block=block) if can_decide else "",
            decision_form=DecisionForm() if can_decide else None,
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- Columns ---

    @admin.display(description="risk, factors", ordering="risk_score")
    def risk_display(self, alert):
        return format_html(
            '{}<br><span class="factor-codes">{}</span>',
            risk_badge(alert.risk_score, alert.transaction.risk_level),
            factor_codes(alert.transaction),
        )

    @admin.display(description="card", ordering="card__last4")
    def card_display(self, alert):
        return format_html('<span class="pan">{}</span>', alert.card.masked_pan)

    @admin.display(description="amount", ordering="transaction__amount_minor")
    def amount_display(self, alert):
        txn = alert.transaction
        return format_html('<span class="amount">{}</span>', format_amount(txn.amount_minor, txn.currency))

    @admin.display(description="merchant", ordering="transaction__merchant_name")
    def merchant_display(self, alert):
        return merchant_cell(alert.transaction)

    @admin.display(description="status, age", ordering="-created_at")
    def status_display(self, alert):
        assignee = (
            format_html(
                '<br><span class="quiet assignee" title="{}">{}</span>', alert.assignee, alert.assignee
            )
            if alert.assignee_id
            else ""
        )
        return format_html(
            '{}<br><span class="quiet">{}</span>{}',
            alert.get_status_display(),
            timesince(alert.created_at),
            assignee,
        )

    @admin.display(description="decide")
    def decide_buttons(self, alert):
        # Replaced per request in get_list_display (the buttons depend on the user's powers).
        return "—"

    # --- The alert page ---

    @admin.display(description="case")
    def case_link(self, alert):
        if alert.case_id is None:
            return "—"
        url = reverse("admin:fraud_case_change", args=[alert.case_id])
        return format_html('<a href="{}">Case {}</a> (all of this card\'s alerts)', url, alert.case_id)

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
        return transaction_details(alert.transaction)

    @admin.display(description="factors")
    def factors_display(self, alert):
        return risk_factors(alert.transaction)

    @admin.display(description="features")
    def activity_display(self, alert):
        return card_activity(alert.transaction)

    @admin.display(description="transactions")
    def recent_display(self, alert):
        return recent_transactions(alert.transaction)

    # --- Bulk decisions ---

    @admin.action(description=decisions.DECISIONS["investigate"].label, permissions=["decide"])
    def investigate(self, request, queryset):
        decisions.bulk_decide(self, request, queryset, "investigate")

    @admin.action(description=decisions.DECISIONS["confirm_block"].label, permissions=["decide_block"])
    def confirm_block(self, request, queryset):
        decisions.bulk_decide(self, request, queryset, "confirm_block")

    @admin.action(description=decisions.DECISIONS["confirm"].label, permissions=["decide"])
    def confirm(self, request, queryset):
        decisions.bulk_decide(self, request, queryset, "confirm")

    @admin.action(description=decisions.DECISIONS["false_positive"].label, permissions=["decide"])
    def false_positive(self, request, queryset):
        decisions.bulk_decide(self, request, queryset, "false_positive")


# --- What the alert page shows -------------------------------------------------------------------


def transaction_details(txn: Transaction) -> str:
    card = (
        format_html(
            '<a href="{}">{}</a>', reverse("admin:cards_card_change", args=[txn.card_id]), txn.masked_pan
        )
        if txn.card_id
        else txn.masked_pan
    )
    rows = [
        ("Transaction", transaction_link(txn, str(txn.pk))),
        ("Time", timezone.localtime(txn.transaction_time).strftime("%Y-%m-%d %H:%M:%S")),
        ("Card", card),
        ("Amount", format_amount(txn.amount_minor, txn.currency)),
        ("Merchant", f"{txn.merchant_name or '—'} ({txn.merchant_id}), MCC {txn.mcc}"),
        ("Country", f"{txn.merchant_country.code} {txn.merchant_country.name}"),
        ("Channel", txn.get_channel_display()),
        ("CVV", txn.get_cvv_result_display()),
        ("Decision", f"{txn.get_status_display()}, {txn.response_code} {txn.reason}"),
        ("Risk", risk_badge(txn.risk_score, txn.risk_level)),
    ]
    return render_to_string(DETAILS_TEMPLATE, {"rows": rows})


def risk_factors(txn: Transaction) -> str:
    return factors_table(txn.risk_factors)


def card_activity(txn: Transaction) -> str:
    """The behavioural features as the decision saw them (stored with the transaction),
    in words, in the catalogue's order; amounts also in the transaction's currency."""
    if txn.card is None:
        return "An unknown card: no history."
    stored = txn.risk_features or {}
    if not stored:
        return "No feature values were stored with this decision."
    rows = [
        (feature.label, catalogue.format_value(feature.name, stored[feature.name]))
        for feature in catalogue.FEATURES
        if feature.name in stored
    ]
    return render_to_string(DETAILS_TEMPLATE, {"rows": rows})


def recent_transactions(txn: Transaction) -> str:
    if txn.card_id is None:
        return "An unknown card: no history."
    recent = Transaction.objects.filter(card_id=txn.card_id).order_by("-created_at", "-id")[
        :RECENT_TRANSACTIONS
    ]

    def when(t: Transaction) -> str:
        text = timezone.localtime(t.transaction_time).strftime("%Y-%m-%d %H:%M:%S")
        return (
            format_html("<strong>{}</strong> (this one)", text)
            if t.pk == txn.pk
            else transaction_link(t, text)
        )

    rows = [
        (
            when(t),
            t.masked_pan,
            format_amount(t.amount_minor, t.currency),
            t.merchant_name or t.merchant_id,
            t.merchant_country.code,
            f"{t.get_status_display()} {t.response_code}",
            risk_badge(t.risk_score, t.risk_level),
            ", ".join(f.get("code", "") for f in t.risk_factors),
        )
        for t in recent
    ]
    more = reverse("admin:transactions_transaction_changelist") + f"?card__id__exact={txn.card_id}"
    return format_html(
        '{}<p><a href="{}">All of this card\'s transactions</a></p>',
        readonly_table(
            ["time", "card", "amount", "merchant", "country", "decision", "risk", "factors"],
            rows,
            empty="None.",
        ),
        more,
    )
