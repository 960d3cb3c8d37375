"""Transactions and fraud reports in the back office: read-only, as the authorization
service recorded them, plus the live view (transactions.admin_views) and the merchants'
pages (transactions.admin_merchants).

The list fits a 1366-pixel screen with the navigation sidebar open: one column each for
the time, the card, the amount, the merchant (its category, country and channel under
its name), the decision and its code, and the risk score (a flag when an alert was opened).

Every column and page shows the masked number only; a card number pasted into a
search box is searched by its last four digits and never echoed.
"""

import datetime

from django.contrib import admin
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django_countries import countries

from cardsystem.admin import PanSafeSearchMixin, ReadOnlyAdminMixin
from cardsystem.admin_lists import readonly_table
from cardsystem.exports import CsvExportMixin
from cardsystem.money import format_amount
from transactions import admin_merchants, admin_views
from transactions.admin_cells import (
    ADMIN_CSS,
    card_cell,
    decision_cell,
    factor_codes,
    merchant_cell,
    merchant_link,
    merchant_url,
    risk_badge,
    short_time,
    transaction_link,
)
from transactions.exports import TRANSACTION_COLUMNS
from transactions.models import FraudReport, Transaction


def _shown(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def factors_table(factors: list[dict]) -> str:
    rows = [(f.get("code", ""), f.get("score", ""), f.get("detail", "")) for f in factors]
    return readonly_table(["code", "points", "detail"], rows, empty="No rule fired.")


class MerchantCountryFilter(admin.SimpleListFilter):
    """Offers the countries of the last 30 days' transactions: a DISTINCT over the whole
    table (django-countries' CountryFilter) would scan it on every page load. Any
    country code in the URL still filters."""

    title = "merchant country"
    parameter_name = "merchant_country"
    RECENT = datetime.timedelta(days=30)

    def lookups(self, request, model_admin):
        since = timezone.now() - self.RECENT
        codes = (
            Transaction.objects.filter(created_at__gte=since)
            .order_by()
            .values_list("merchant_country", flat=True)
            .distinct()
        )
        return sorted(((code, f"{code} {countries.name(code)}") for code in codes), key=lambda c: c[1])

    def queryset(self, request, queryset):
        value = (self.value() or "").upper()
        return queryset.filter(merchant_country=value) if value else queryset


class MerchantFilter(admin.SimpleListFilter):
    """The merchant a merchant's page links a list with (?merchant_id=...), read at
    `field`: shown in the sidebar only while it filters (merchants are too many to offer)."""

    title = "merchant"
    parameter_name = "merchant_id"
    field = "merchant_id"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


@admin.register(Transaction)
class TransactionAdmin(CsvExportMixin, PanSafeSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Recorded by the authorization service; nobody changes a transaction by hand."""

    export_columns = TRANSACTION_COLUMNS

    list_display = [
        "time_display",
        "card_display",
        "amount_display",
        "merchant_display",
        "decision_display",
        "risk_display",
    ]
    list_display_links = ["time_display"]
    list_filter = [
        "status",
        "response_code",
        "risk_level",
        "flagged",
        "channel",
        MerchantCountryFilter,
        MerchantFilter,
    ]
    date_hierarchy = "transaction_time"
    search_fields = ["=card__last4", "=merchant_id", "merchant_name", "=id"]
    search_help_text = "Last four digits of the card, merchant ID or name, or the transaction ID."
    list_per_page = 50
    # The table grows without end: no COUNT(*) of every row on filtered pages.
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["id", "transaction_time", "created_at", "card_display", "amount_display"]}),
        ("Merchant", {"fields": ["merchant_page", "merchant_name", "mcc", "merchant_country", "channel"]}),
        (
            "Decision",
            {
                "fields": [
                    "status",
                    "response_code",
                    "reason",
                    "cvv_result",
                    "expiry_result",
                    "reversed_at",
                    "client",
                ]
            },
        ),
        (
            "Authentication",
            {
                "fields": ["entry_mode", "cardholder_verification", "three_ds", "device_hash"],
                "description": "As the authorization message gave them; blank: not given (unknown).",
            },
        ),
        (
            "Risk",
            {
                "fields": [
                    "risk_display",
                    "risk_level",
                    "risk_config_version",
                    "flagged",
                    "factors_display",
                    "features_display",
                ]
            },
        ),
    ]
    # Every field shown is read: the decision is recorded once.
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    class Media:
        css = {"all": [ADMIN_CSS]}

    @admin.display(description="time", ordering="transaction_time")
    def time_display(self, txn):
        return short_time(txn.transaction_time)

    @admin.display(description="card", ordering="masked_pan")
    def card_display(self, txn):
        return card_cell(txn)

    @admin.display(description="amount", ordering="amount_minor")
    def amount_display(self, txn):
        return format_html('<span class="amount">{}</span>', format_amount(txn.amount_minor, txn.currency))

    @admin.display(description="merchant", ordering="merchant_name")
    def merchant_display(self, txn):
        return merchant_cell(txn)

    @admin.display(description="merchant ID")
    def merchant_page(self, txn):
        return format_html('<a href="{}">{}</a>', merchant_url(txn.merchant_id), txn.merchant_id)

    @admin.display(description="decision", ordering="status")
    def decision_display(self, txn):
        return decision_cell(txn)

    @admin.display(description="risk", ordering="risk_score")
    def risk_display(self, txn):
        flag = format_html(' <span class="flag" title="{}">⚑</span>', "a fraud alert was opened")
        return format_html(
            "{}{}",
            risk_badge(txn.risk_score, txn.risk_level, detail=factor_codes(txn)),
            flag if txn.flagged else "",
        )

    @admin.display(description="risk factors")
    def factors_display(self, txn):
        return factors_table(txn.risk_factors)

    @admin.display(description="features the decision used")
    def features_display(self, txn):
        """As the scorer stored them (its names; the fraud alert page puts them in words)."""
        rows = [(name, _shown(value)) for name, value in (txn.risk_features or {}).items()]
        return readonly_table(["feature", "value"], rows, empty="None stored.")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "live/",
                view(lambda request: admin_views.live_page(self, request)),
                name="transactions_transaction_live",
            ),
            path(
                "merchant/<path:merchant_id>/",
                view(lambda request, merchant_id: admin_merchants.merchant_page(self, request, merchant_id)),
                name="transactions_transaction_merchant",
            ),
            path(
                "merchants/",
                view(lambda request: admin_merchants.merchants_page(self, request)),
                name="transactions_transaction_merchants",
            ),
            path(
                "live/poll/",
                # Marked inside admin_views: the poll never extends the idle timeout.
                view(admin_views.live_poll_view(self)),
                name="transactions_transaction_live_poll",
            ),
            *super().get_urls(),
        ]


@admin.register(FraudReport)
class FraudReportAdmin(PanSafeSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Disputes and chargebacks filed through the API; read-only."""

    list_display = ["reported_at", "transaction_display", "amount_display", "merchant", "reason", "client"]
    list_select_related = ["transaction", "client"]
    search_fields = ["=transaction__card__last4", "=transaction__merchant_id", "reason"]
    search_help_text = "Last four digits of the card, merchant ID, or words of the reason."
    date_hierarchy = "reported_at"
    fields = ["transaction_display", "amount_display", "merchant", "reason", "reported_at", "client"]
    readonly_fields = fields

    @admin.display(description="transaction")
    def transaction_display(self, report):
        return transaction_link(report.transaction)

    @admin.display(description="amount")
    def amount_display(self, report):
        return format_amount(report.transaction.amount_minor, report.transaction.currency)

    @admin.display(description="merchant")
    def merchant(self, report):
        return merchant_link(report.transaction)
