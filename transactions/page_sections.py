"""What transactions adds to a card's admin page (cards.admin.CARD_PAGE_SECTIONS): the
card's latest transactions, each linked, their risk scores, and the link to all of them.
Registered by TransactionsConfig.ready()."""

from django.urls import reverse
from django.utils.http import urlencode

from cards.admin import CARD_PAGE_SECTIONS
from cards.models import Card
from cardsystem.page_sections import Section
from transactions.admin_cells import ADMIN_CSS, transactions_table
from transactions.models import Transaction

LATEST = 20


def card_transactions(card: Card) -> str:
    """Two queries: the latest rows (by the card and time index) and their count."""
    latest = Transaction.objects.filter(card=card).order_by("-transaction_time", "-id")[:LATEST]
    count = Transaction.objects.filter(card=card).count()
    url = reverse("admin:transactions_transaction_changelist")
    return transactions_table(
        latest,
        card=False,
        more_url=f"{url}?{urlencode({'card__id__exact': card.pk})}",
        more_label=f"All {count} transaction(s) of this card",
    )


def register_page_sections() -> None:
    CARD_PAGE_SECTIONS.register(
        Section(
            key="transactions",
            title=f"Latest transactions (up to {LATEST}), newest first",
            permission="transactions.view_transaction",
            render=card_transactions,
            order=10,
            stylesheet=ADMIN_CSS,
        )
    )
