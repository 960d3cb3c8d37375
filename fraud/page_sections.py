"""What fraud adds to the admin pages of the apps below it: a card's fraud alerts
(cards.admin.CARD_PAGE_SECTIONS) and a merchant's (transactions.admin_merchants.
MERCHANT_PAGE_SECTIONS), the latest of each linked to its page, with their risk
scores, and a link to the queue filtered on the card or merchant. Registered by
FraudConfig.ready()."""

import datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from cards.admin import CARD_PAGE_SECTIONS
from cards.models import Card
from cardsystem.admin_lists import readonly_table
from cardsystem.money import format_amount
from cardsystem.page_sections import Section
from fraud.models import FraudAlert
from transactions.admin_cells import ADMIN_CSS, card_cell, factor_codes, merchant_link, risk_badge
from transactions.admin_merchants import MERCHANT_PAGE_SECTIONS

LATEST = 20
VIEW_ALERTS = "fraud.view_fraudalert"


def alerts_table(alerts, *, more_url: str, more_label: str, card: bool = True, merchant: bool = True) -> str:
    """Alerts, each linked to its page: when opened, status, risk, the transaction's
    card (`card=False` on the card's page), amount and merchant, and why."""

    def row(alert: FraudAlert) -> tuple:
        txn = alert.transaction
        opened = f"{timezone.localtime(alert.created_at):%Y-%m-%d %H:%M}"
        cells = [
            format_html(
                '<a href="{}">{}</a>', reverse("admin:fraud_fraudalert_change", args=[alert.pk]), opened
            ),
            alert.get_status_display(),
            risk_badge(alert.risk_score, txn.risk_level, detail=factor_codes(txn)),
        ]
        if card:
            cells.append(card_cell(txn))
        cells.append(format_amount(txn.amount_minor, txn.currency))
        if merchant:
            cells.append(merchant_link(txn))
        return (*cells, alert.reason)

    headers = ["opened", "status", "risk", *(["card"] if card else []), "amount"]
    return readonly_table(
        [*headers, *(["merchant"] if merchant else []), "reason"],
        [row(alert) for alert in alerts],
        more_url=more_url,
        more_label=more_label,
        empty="No fraud alert.",
    )


def _queue(**filters) -> str:
    return f"{reverse('admin:fraud_fraudalert_changelist')}?{urlencode(filters)}"


def card_alerts(card: Card) -> str:
    alerts = FraudAlert.objects.filter(card=card)
    latest = alerts.select_related("transaction").order_by("-created_at", "-id")[:LATEST]
    return alerts_table(
        latest,
        card=False,
        more_url=_queue(card__id__exact=card.pk),
        more_label=f"All {alerts.count()} alert(s) of this card",
    )


def merchant_alerts(merchant_id: str, *, since: datetime.datetime) -> str:
    """The alerts on the merchant's latest transactions, and how many of the period. By
    the transaction's time: the merchant's index read backwards until 20 alerts are met."""
    alerts = FraudAlert.objects.filter(transaction__merchant_id=merchant_id)
    latest = alerts.select_related("transaction").order_by("-transaction__transaction_time")[:LATEST]
    in_period = alerts.filter(transaction__transaction_time__gte=since).count()
    return format_html(
        '<p class="alerts-in-period">{} alert(s) on transactions of the period.</p>{}',
        in_period,
        alerts_table(
            latest,
            merchant=False,
            more_url=_queue(merchant_id=merchant_id),
            more_label="All of this merchant's alerts",
        ),
    )


def register_page_sections() -> None:
    shared = {"key": "fraud_alerts", "permission": VIEW_ALERTS, "order": 20, "stylesheet": ADMIN_CSS}
    CARD_PAGE_SECTIONS.register(
        Section(title=f"Latest fraud alerts (up to {LATEST}), newest first", render=card_alerts, **shared)
    )
    MERCHANT_PAGE_SECTIONS.register(
        Section(title=f"Alerts on the latest transactions (up to {LATEST})", render=merchant_alerts, **shared)
    )
