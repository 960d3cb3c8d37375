"""The cells every back-office page about transactions shares: the risk badge, the
decision, the merchant (linked to its page), the time, and the table of a card's or a
merchant's latest transactions. Card numbers are shown masked, as recorded.

Long text (a merchant's name) is cut by the stylesheet (static/transactions/admin.css)
and kept whole in the cell's title, so that the lists fit a 1366-pixel screen.
"""

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from cardsystem.admin_lists import readonly_table
from cardsystem.money import format_amount
from transactions.models import Transaction

MERCHANT_URL_NAME = "admin:transactions_transaction_merchant"
ADMIN_CSS = "transactions/admin.css"


def risk_badge(score: int | None, level: str, *, detail: str = "") -> str:
    """The risk score coloured by its level (low, medium, high; none for unscored);
    `detail` (the factors) is added to its title."""
    if score is None:
        return format_html('<span class="risk risk-none" title="{}">—</span>', "not scored")
    title = f"{level or 'unknown'} risk" + (f": {detail}" if detail else "")
    return format_html('<span class="risk risk-{}" title="{}">{}</span>', level or "none", title, score)


def transaction_link(txn: Transaction, text: str | None = None) -> str:
    url = reverse("admin:transactions_transaction_change", args=[txn.pk])
    return format_html('<a href="{}">{}</a>', url, text or txn.masked_pan)


def merchant_url(merchant_id: str) -> str:
    return reverse(MERCHANT_URL_NAME, args=[merchant_id])


def merchant_link(txn: Transaction) -> str:
    """The merchant's name (or id), cut to the column by the stylesheet, whole in the
    title with its id, linked to the merchant's page."""
    name = txn.merchant_name or txn.merchant_id
    return format_html(
        '<a class="merchant" href="{}" title="{} ({})">{}</a>',
        merchant_url(txn.merchant_id),
        name,
        txn.merchant_id,
        name,
    )


def merchant_cell(txn: Transaction) -> str:
    """The merchant linked, and under it its country, category and channel (short, in
    words in their titles)."""
    return format_html(
        '{}<br><span class="quiet"><abbr title="{}">{}</abbr> · {} · <abbr title="{}">{}</abbr></span>',
        merchant_link(txn),
        txn.merchant_country.name,
        txn.merchant_country.code,
        txn.mcc,
        txn.get_channel_display(),
        txn.channel,
    )


def short_time(moment) -> str:
    """Day and time on two short lines; the second is to the second."""
    local = timezone.localtime(moment)
    return format_html('<span class="when">{}<br>{}</span>', f"{local:%Y-%m-%d}", f"{local:%H:%M:%S}")


def decision_cell(txn: Transaction) -> str:
    """ "Approved 00" or "Declined 51", the reason in the code's title."""
    return format_html(
        '<span class="decision decision-{}">{}</span> <span class="code" title="{}">{}</span>',
        txn.status,
        txn.get_status_display(),
        txn.get_response_code_display(),
        txn.response_code,
    )


def factor_codes(txn: Transaction) -> str:
    return ", ".join(factor.get("code", "") for factor in txn.risk_factors)


def transactions_table(
    transactions, *, more_url: str, more_label: str, card: bool = True, merchant: bool = True
) -> str:
    """The latest transactions of a card (`card=False`: the page is the card's) or of a
    merchant (`merchant=False`), each linked to its page, and the link to all of them."""

    def row(txn: Transaction) -> tuple:
        cells = [transaction_link(txn, short_time(txn.transaction_time))]
        if card:
            cells.append(card_cell(txn))
        cells.append(format_amount(txn.amount_minor, txn.currency))
        if merchant:
            cells.append(merchant_link(txn))
        cells += [decision_cell(txn), risk_badge(txn.risk_score, txn.risk_level, detail=factor_codes(txn))]
        return tuple(cells)

    headers = ["time", *(["card"] if card else []), "amount", *(["merchant"] if merchant else [])]
    return readonly_table(
        [*headers, "decision", "risk"],
        [row(txn) for txn in transactions],
        more_url=more_url,
        more_label=more_label,
        empty="No transaction yet.",
    )


def card_cell(txn: Transaction) -> str:
    if txn.card_id is None:
        return format_html('<span class="pan">{}</span>', txn.masked_pan)
    url = reverse("admin:cards_card_change", args=[txn.card_id])
    return format_html('<a class="pan" href="{}">{}</a>', url, txn.masked_pan)
