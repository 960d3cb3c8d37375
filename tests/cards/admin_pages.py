"""What the cards admin tests share: the pages' addresses, the issue form's data, a
snapshot of what a page could write, a form's errors, and cards in a given state."""

from django.urls import reverse

from cards.models import Card, Cardholder, LedgerEntry
from cards.services import card_change_status, card_issue_bulk
from cardsystem.models import AuditLog
from tests.factories import TEST_ACTOR, BinFactory, CardFactory, CardholderFactory

CARDS = reverse("admin:cards_card_changelist")
ISSUE = reverse("admin:cards_card_add")
HOLDERS = reverse("admin:cards_cardholder_changelist")
ADD_HOLDER = reverse("admin:cards_cardholder_add")
NO_LIMITS = {"limit_per_transaction": "", "limit_daily": "", "limit_monthly": ""}


def url(name, card):
    return reverse(f"admin:cards_card_{name}", args=[card.pk])


def written():
    """Everything an admin page could write; compared before and after a rejection."""
    audit = AuditLog.objects.exclude(action=AuditLog.Action.LOGIN)
    return Card.objects.count(), Cardholder.objects.count(), LedgerEntry.objects.count(), audit.count()


def errors(response):
    assert response.status_code == 200, response.status_code
    return response.context["form"].errors


def stock_card(**bin_fields):
    """A bulk-issued card: inactive and without a cardholder."""
    issued = []
    card_issue_bulk(bin=BinFactory(**bin_fields), count=1, actor=TEST_ACTOR, on_issued=issued.append)
    return issued[0].card


def card_in(status, **kwargs):
    card = CardFactory(**kwargs)
    if status != Card.Status.ACTIVE:
        card_change_status(card=card, status=status, reason="test", actor=TEST_ACTOR)
    return card


def issue_data(bin=None, holder=None, **fields):
    bin = bin or BinFactory()
    holder = holder or CardholderFactory()
    return {"bin": bin.pk, "cardholder": holder.pk, "token": "form-1", **NO_LIMITS, **fields}
