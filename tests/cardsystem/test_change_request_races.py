"""Deciding one request twice at once: of two approvals, or an approval and a withdrawal,
made together on separate connections, exactly one wins, and a top-up is credited once
at most."""

import pytest
from django.apps import apps

from cards.change_kinds import card_top_up_request
from cards.models import LedgerEntry
from cardsystem.audit import Actor
from cardsystem.change_requests import change_request_approve, change_request_withdraw
from cardsystem.exceptions import ConflictError
from cardsystem.models import ChangeRequest
from cardsystem.roles import CARD_OPERATIONS, sync_roles
from tests.concurrency import run_concurrently
from tests.factories import CardFactory, staff_with_roles

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def roles():
    sync_roles(apps)  # a transactional test's flush empties the migrated roles


def large_top_up():
    maker = staff_with_roles(CARD_OPERATIONS, username="maker")
    card = CardFactory()
    request = card_top_up_request(
        card=card,
        amount_minor=5_000_000,
        reference="TOPUP-RACE",
        reason="Payroll",
        actor=Actor.for_user(maker),
    )
    return maker, card, request


def outcome(action) -> str:
    try:
        action()
    except ConflictError:
        return "conflict"
    return "done"


def test_two_approvals_at_once_credit_the_card_once():
    _, card, request = large_top_up()
    checkers = [staff_with_roles(CARD_OPERATIONS, username=f"checker{n}") for n in range(2)]

    def approve(index):
        mine = ChangeRequest.objects.get(pk=request.pk)
        return outcome(lambda: change_request_approve(request=mine, actor=Actor.for_user(checkers[index])))

    assert sorted(run_concurrently(2, approve)) == ["conflict", "done"]
    assert LedgerEntry.objects.filter(card=card, reference="TOPUP-RACE").count() == 1
    assert ChangeRequest.objects.get().status == ChangeRequest.Status.APPROVED


def test_an_approval_and_a_withdrawal_at_once_end_one_way_only():
    maker, card, request = large_top_up()
    checker = staff_with_roles(CARD_OPERATIONS, username="checker")

    def decide(index):
        mine = ChangeRequest.objects.get(pk=request.pk)
        if index == 0:
            return outcome(lambda: change_request_approve(request=mine, actor=Actor.for_user(checker)))
        return outcome(lambda: change_request_withdraw(request=mine, actor=Actor.for_user(maker)))

    approved, withdrawn = run_concurrently(2, decide)
    assert sorted([approved, withdrawn]) == ["conflict", "done"]
    credited = LedgerEntry.objects.filter(card=card, reference="TOPUP-RACE").count()
    status = ChangeRequest.objects.get().status
    if approved == "done":
        assert (status, credited) == (ChangeRequest.Status.APPROVED, 1)
    else:
        assert (status, credited) == (ChangeRequest.Status.WITHDRAWN, 0)
