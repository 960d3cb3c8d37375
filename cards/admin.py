"""Cardholders, cards and their ledger in the back office.

A card's page never shows its number: columns, pages, forms and messages use
`masked_pan`, and the only page with the full PAN and CVV is the confirmation
rendered by the issuing view (cards.admin_views.issue_card).
"""

import json

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Count
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django_countries.filters import CountryFilter

from cards import admin_views, staff_permissions
from cards.change_kinds import pending_for
from cards.forms import LIMIT_FORM_FIELDS, CardChangeForm
from cards.models import Card, Cardholder, LedgerEntry
from cards.services import LIMIT_FIELDS
from cardsystem.admin import PanSafeSearchMixin, ReadOnlyAdminMixin
from cardsystem.admin_lists import readonly_table
from cardsystem.audit import Actor
from cardsystem.models import AuditLog
from cardsystem.money import format_amount, to_major
from cardsystem.page_sections import PageSections

TABLE_ROWS = 50

# What the apps above add to a card's page (its transactions, its fraud alerts): they
# register their sections from their AppConfig.ready().
CARD_PAGE_SECTIONS = PageSections("card")


def _expiry(card) -> str:
    return f"{card.expiry_month:02d}/{card.expiry_year}"


# --- Cardholders --------------------------------------------------------------------------------


@admin.register(Cardholder)
class CardholderAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "country", "card_count", "created_at"]
    list_filter = [("country", CountryFilter)]
    search_fields = ["name", "email"]
    fields = ["name", "date_of_birth", "country", "email", "created_at", "cards_table"]
    readonly_fields = fields

    def get_queryset(self, request):
        # Meta.ordering does not apply to a GROUP BY query: order explicitly (the
        # cardholder autocomplete paginates this queryset).
        return (
            super()
            .get_queryset(request)
            .annotate(card_count=Count("cards"))
            .order_by(*Cardholder._meta.ordering)
        )

    @admin.display(description="cards", ordering="card_count")
    def card_count(self, cardholder):
        return cardholder.card_count

    @admin.display(description="cards")
    def cards_table(self, cardholder):
        cards = cardholder.cards.select_related("bin")[:TABLE_ROWS]
        rows = [
            (
                format_html('<a href="{}">{}</a>', reverse("admin:cards_card_change", args=[c.pk]), c),
                c.get_status_display(),
                format_amount(c.balance_minor, c.currency),
                _expiry(c),
            )
            for c in cards
        ]
        more = reverse("admin:cards_card_changelist") + f"?cardholder__id__exact={cardholder.pk}"
        return readonly_table(
            ["card", "status", "balance", "expiry"],
            rows,
            more_url=more,
            more_label=f"All {cardholder.card_count} card(s)",
            empty="No cards yet.",
        )

    def has_change_permission(self, request, obj=None):
        return False  # no service changes a cardholder; the page is for reading

    def has_delete_permission(self, request, obj=None):
        return False  # cards keep their cardholder (PROTECT)

    def add_view(self, request, form_url="", extra_context=None):
        return admin_views.add_cardholder(self, request)


# --- Cards -----------------------------------------------------------------------------------------


@admin.register(Card)
class CardAdmin(PanSafeSearchMixin, admin.ModelAdmin):
    form = CardChangeForm
    list_display = ["masked_pan", "cardholder", "bin_display", "status", "balance_display", "expiry"]
    list_select_related = ["bin", "cardholder"]
    list_filter = ["status", "bin", "bin__network", "currency"]
    search_fields = ["=last4", "cardholder__name", "=bin__bin"]
    search_help_text = "Last four digits, cardholder name or BIN. Full card numbers are never searched."
    readonly_fields = [
        "card_number",
        "bin_link",
        "cardholder_link",
        "expiry",
        "status_summary",
        "created_at",
        "limits_display",
        "balance_display",
        "ledger_table",
        "history_table",
    ]
    actions = ["block", "unblock", "report_lost", "report_stolen"]

    def get_fieldsets(self, request, obj=None):
        may = request.user.has_perm
        assignable = obj is not None and obj.cardholder_id is None and may(staff_permissions.CHANGE)
        holder = "assign_to" if assignable else "cardholder_link"
        currency = obj.currency if obj is not None else "the card's currency"
        if may(staff_permissions.CHANGE_LIMITS):
            limits = {
                "fields": list(LIMIT_FORM_FIELDS.values()),
                "description": f"Decimal amounts in {currency}. Empty: no limit.",
            }
        else:
            limits = {"fields": ["limits_display"]}
        return [
            (None, {"fields": ["card_number", "bin_link", holder, "expiry", "status_summary", "created_at"]}),
            ("Limits", limits),
            ("Balance and ledger", {"fields": ["balance_display", "ledger_table"]}),
            ("Status history", {"fields": ["history_table"]}),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        # A fresh class per request: what this person may change on the form.
        form.actor = Actor.for_request(request)
        form.may_change_limits = request.user.has_perm(staff_permissions.CHANGE_LIMITS)
        form.may_assign = request.user.has_perm(staff_permissions.CHANGE)
        return form

    def has_change_permission(self, request, obj=None):
        # The card's own page changes its limits, or hands a stock card to a cardholder.
        may = request.user.has_perm
        return may(staff_permissions.CHANGE_LIMITS) or may(staff_permissions.CHANGE)

    def has_block_permission(self, request):
        return request.user.has_perm(staff_permissions.BLOCK)

    def has_unblock_permission(self, request):
        return request.user.has_perm(staff_permissions.UNBLOCK)

    def save_model(self, request, obj, form, change):
        """Nothing to do: CardChangeForm.clean() already saved through the services."""

    def has_delete_permission(self, request, obj=None):
        return False  # a card is closed, never deleted

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/status/",
                view(lambda request, object_id: admin_views.change_status(self, request, object_id)),
                name=f"{info}_status",
            ),
            path(
                "<path:object_id>/replace/",
                view(lambda request, object_id: admin_views.replace(self, request, object_id)),
                name=f"{info}_replace",
            ),
            path(
                "<path:object_id>/top-up/",
                view(lambda request, object_id: admin_views.top_up(self, request, object_id)),
                name=f"{info}_top_up",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return admin_views.issue_card(self, request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        may = request.user.has_perm
        extra_context = {
            **(extra_context or {}),
            # "Save and add another" would lead to issuing a card: not what saving limits means.
            "show_save_and_add_another": False,
            "may_change_status": staff_permissions.may_change_status(request.user),
            "may_top_up": may(staff_permissions.TOP_UP),
            "may_replace": may(staff_permissions.REPLACE),
            "pending_requests": [
                (reverse("admin:cardsystem_changerequest_change", args=[held.pk]), held.summary)
                for held in pending_for(unquote(object_id))
            ],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["card_sections"] = CARD_PAGE_SECTIONS.rendered(request.user, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- Columns and read-only fields ---

    @admin.display(description="card number")
    def card_number(self, card):
        return card.masked_pan

    @admin.display(description="BIN", ordering="bin__bin")
    def bin_display(self, card):
        return f"{card.bin.bin} · {card.bin.get_network_display()}"

    @admin.display(description="BIN")
    def bin_link(self, card):
        url = reverse("admin:bins_bin_change", args=[card.bin_id])
        return format_html('<a href="{}">{}</a>', url, card.bin)

    @admin.display(description="cardholder")
    def cardholder_link(self, card):
        if card.cardholder is None:
            return "—"
        url = reverse("admin:cards_cardholder_change", args=[card.cardholder_id])
        return format_html('<a href="{}">{}</a>', url, card.cardholder)

    @admin.display(description="limits")
    def limits_display(self, card):
        return ", ".join(
            f"{name.replace('_', ' ')}: "
            + (
                "no limit"
                if getattr(card, field) is None
                else format_amount(getattr(card, field), card.currency)
            )
            for name, field in LIMIT_FIELDS.items()
        )

    @admin.display(description="balance", ordering="balance_minor")
    def balance_display(self, card):
        return format_amount(card.balance_minor, card.currency)

    @admin.display(description="expiry", ordering="expiry_year")
    def expiry(self, card):
        return _expiry(card)

    @admin.display(description="status")
    def status_summary(self, card):
        if card.status_changed_at is None:
            status = card.get_status_display()
        else:
            since = localtime(card.status_changed_at)
            status = f"{card.get_status_display()} since {since:%Y-%m-%d %H:%M} ({card.status_reason})"
        links = [("replaces", card.replaces), ("replaced by", getattr(card, "replaced_by", None))]
        shown = [
            (label, reverse("admin:cards_card_change", args=[other.pk]), other.masked_pan)
            for label, other in links
            if other
        ]
        return format_html("{}{}", status, format_html_join("", '<br>{} <a href="{}">{}</a>', shown))

    @admin.display(description="ledger, newest first")
    def ledger_table(self, card):
        entries = card.ledger_entries.order_by("-created_at", "-id")[:TABLE_ROWS]
        rows = [
            (
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:cards_ledgerentry_change", args=[entry.pk]),
                    f"{localtime(entry.created_at):%Y-%m-%d %H:%M:%S}",
                ),
                entry.get_kind_display(),
                to_major(entry.amount_minor, entry.currency),
                to_major(entry.balance_after_minor, entry.currency),
                entry.reference,
            )
            for entry in entries
        ]
        more = reverse("admin:cards_ledgerentry_changelist") + f"?card__id__exact={card.pk}"
        return readonly_table(
            ["time", "kind", f"amount ({card.currency})", f"balance after ({card.currency})", "reference"],
            rows,
            more_url=more,
            more_label=f"The whole ledger ({card.ledger_entries.count()} entries)",
            empty="No entries yet.",
        )

    @admin.display(description="audit log, newest first")
    def history_table(self, card):
        audit = AuditLog.objects.filter(target_type=Card._meta.label_lower, target_id=str(card.pk))
        rows = [
            (row.created_at, row.actor_label, row.get_action_display(), _audit_summary(row, card.currency))
            for row in audit[:TABLE_ROWS]
        ]
        more = reverse("admin:cardsystem_auditlog_changelist") + (
            f"?target_type={Card._meta.label_lower}&target_id={card.pk}"
        )
        return readonly_table(
            ["time", "by", "action", "details"],
            rows,
            more_url=more,
            more_label="In the audit log",
            empty="None yet.",
        )

    # --- Bulk status actions: an intermediate page asks for the reason ---

    @admin.action(description="Block the selected cards", permissions=["block"])
    def block(self, request, queryset):
        return admin_views.bulk_status(
            self, request, queryset, action="block", status=Card.Status.BLOCKED, done="blocked"
        )

    @admin.action(description="Unblock (activate) the selected cards", permissions=["unblock"])
    def unblock(self, request, queryset):
        return admin_views.bulk_status(
            self, request, queryset, action="unblock", status=Card.Status.ACTIVE, done="activated"
        )

    @admin.action(description="Report the selected cards lost", permissions=["block"])
    def report_lost(self, request, queryset):
        return admin_views.bulk_status(
            self, request, queryset, action="report_lost", status=Card.Status.LOST, done="reported lost"
        )

    @admin.action(description="Report the selected cards stolen", permissions=["block"])
    def report_stolen(self, request, queryset):
        return admin_views.bulk_status(
            self, request, queryset, action="report_stolen", status=Card.Status.STOLEN, done="reported stolen"
        )


def _audit_summary(row: AuditLog, currency: str) -> str:
    details = row.details

    def amount(value):
        return format_amount(value, currency) if value is not None else "no limit"

    if row.action == AuditLog.Action.CARD_STATUS_CHANGED:
        return f"{details.get('from')} → {details.get('to')}: {details.get('reason', '')}"
    if row.action == AuditLog.Action.CARD_TOPPED_UP:
        return f"+{amount(details.get('amount_minor'))} {details.get('reference', '')}".strip()
    if row.action == AuditLog.Action.CARD_ISSUED:
        return f"BIN {details.get('bin')}, expiry {details.get('expiry')}"
    if row.action == AuditLog.Action.CARD_LIMITS_CHANGED:
        before, after = details.get("before", {}), details.get("after", {})
        return ", ".join(f"{name}: {amount(before.get(name))} → {amount(after[name])}" for name in after)
    return json.dumps(details, sort_keys=True)


# --- Ledger -------------------------------------------------------------------------------------------


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: entries are written by the services with the balance they change."""

    list_display = ["created_at", "card", "kind", "amount_display", "balance_after_display", "reference"]
    list_select_related = ["card"]
    list_filter = ["kind", "currency"]
    search_fields = ["=card__last4", "reference"]
    search_help_text = "Last four digits of the card, or the reference."
    show_full_result_count = False
    fields = ["created_at", "card", "kind", "amount_display", "balance_after_display", "reference"]
    readonly_fields = fields

    @admin.display(description="amount", ordering="amount_minor")
    def amount_display(self, entry):
        return format_amount(entry.amount_minor, entry.currency)

    @admin.display(description="balance after")
    def balance_after_display(self, entry):
        return format_amount(entry.balance_after_minor, entry.currency)
