"""The approval queue in the back office: it opens on the pending requests, oldest
first; a request's page is read-only, with Approve and Reject for those who may decide
it and Withdraw for its requester; each button calls the service, whose refusals are a
403 (nobody decides their own request, nor without the approver permission) or an
error message, with nothing changed."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from cardsystem import change_requests
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.change_requests import ChangeKind, change_request_create
from cardsystem.exceptions import ConflictError
from cardsystem.models import AuditLog, ChangeRequest
from cardsystem.roles import AUDITOR, CARD_OPERATIONS, FRAUD_ANALYST
from tests.factories import UserFactory, staff_with_roles
from tests.staff_pages import client_for, shown

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:cardsystem_changerequest_changelist")


def _apply(request, actor):
    if request.params.get("fail"):
        raise ConflictError("The card changed meanwhile.", field="card")
    return {"audit_id": audit_record(actor=actor, action=AuditAction.DEMO_CREDENTIALS).pk}


@pytest.fixture(autouse=True)
def queue_kind():
    kind = ChangeKind(name="queue_test", label="Queue test", permission="cards.top_up_card", apply=_apply)
    change_requests.register(kind)
    yield kind
    change_requests._KINDS.pop(kind.name)


@pytest.fixture
def maker():
    return staff_with_roles(CARD_OPERATIONS, username="maker")


@pytest.fixture
def checker():
    return staff_with_roles(CARD_OPERATIONS, username="checker")


def make_request(user, summary="Top up a card", **params) -> ChangeRequest:
    return change_request_create(
        kind="queue_test", actor=Actor.for_user(user), summary=summary, reason="Branch deposit", params=params
    )


def page(request) -> str:
    return reverse("admin:cardsystem_changerequest_change", args=[request.pk])


def button(request, name) -> str:
    return reverse(f"admin:cardsystem_changerequest_{name}", args=[request.pk])


def applied() -> int:
    return AuditLog.objects.filter(action=AuditAction.DEMO_CREDENTIALS).count()


def status(request) -> str:
    return ChangeRequest.objects.get(pk=request.pk).status


# --- The queue --------------------------------------------------------------------------------------


def test_the_queue_opens_on_pending_requests_oldest_first(maker, checker):
    now = timezone.now()
    newer, older, oldest, decided = (make_request(maker, summary=f"request {n}") for n in range(4))
    for request, hours in [(newer, 1), (older, 5), (oldest, 9), (decided, 20)]:
        ChangeRequest.objects.filter(pk=request.pk).update(requested_at=now - datetime.timedelta(hours=hours))
    client_for(checker).post(button(decided, "reject"))

    response = client_for(checker).get(QUEUE)

    assert list(response.context["cl"].result_list) == [oldest, older, newer]
    html = response.content.decode()
    for column in [
        "requested at",
        "age",
        "kind",
        "summary",
        "target",
        "requested by",
        "status",
        "decided by",
    ]:
        assert f">{column}<" in html.lower()
    assert "Queue test" in html and "9\xa0hours" in html


def test_all_requests_show_pending_first(maker, checker):
    decided, pending = make_request(maker, summary="first"), make_request(maker, summary="second")
    client_for(checker).post(button(decided, "reject"))
    response = client_for(checker).get(QUEUE, {"status": "all"})
    assert list(response.context["cl"].result_list) == [pending, decided]


def test_the_page_is_read_only_and_shows_everything(maker, checker):
    request = make_request(maker)
    client_for(checker).post(button(request, "approve"), {"note": "Slip seen"})
    client = client_for(checker)
    html = client.get(page(request)).content.decode()
    assert all(
        text in html for text in ["Branch deposit", "Slip seen", "audit_id", "Top up a card", "checker"]
    )
    assert 'name="approve"' not in html and 'name="withdraw"' not in html
    assert client.get(reverse("admin:cardsystem_changerequest_add")).status_code == 403
    assert client.post(page(request), {"summary": "changed"}).status_code == 403
    assert client.post(reverse("admin:cardsystem_changerequest_delete", args=[request.pk])).status_code == 403
    assert ChangeRequest.objects.get(pk=request.pk).summary == "Top up a card"


def test_staff_without_the_view_permission_do_not_see_the_queue(maker):
    request = make_request(maker)
    stranger = UserFactory(is_superuser=False, username="stranger")
    client = client_for(stranger)
    assert client.get(QUEUE).status_code == 403
    assert client.post(button(request, "withdraw")).status_code == 403
    assert status(request) == "pending"


# --- Deciding -------------------------------------------------------------------------------------------


def test_a_second_person_approves_through_the_page(maker, checker):
    request = make_request(maker)
    client = client_for(checker)
    assert 'name="approve"' in client.get(page(request)).content.decode()

    response = client.post(button(request, "approve"), {"note": "Slip seen"}, follow=True)

    assert response.redirect_chain[-1][0] == page(request)
    assert any("approved and applied" in m for m in shown(response))
    stored = ChangeRequest.objects.get(pk=request.pk)
    assert (stored.status, stored.decided_by, stored.decision_note) == ("approved", checker, "Slip seen")
    assert applied() == 1


def test_a_second_person_rejects_through_the_page(maker, checker):
    request = make_request(maker)
    client_for(checker).post(button(request, "reject"), {"note": "No slip"})
    stored = ChangeRequest.objects.get(pk=request.pk)
    assert (stored.status, stored.decided_by, stored.decision_note) == ("rejected", checker, "No slip")
    assert applied() == 0


def test_the_requester_sees_no_approve_button_and_cannot_approve_their_own(maker):
    request = make_request(maker)
    client = client_for(maker)
    html = client.get(page(request)).content.decode()
    assert 'name="approve"' not in html and 'name="reject"' not in html and 'name="withdraw"' in html

    assert client.post(button(request, "approve")).status_code == 403
    assert client.post(button(request, "reject")).status_code == 403
    assert status(request) == "pending" and applied() == 0
    assert not AuditLog.objects.filter(action=AuditAction.CHANGE_APPROVED).exists()


@pytest.mark.parametrize("role", [FRAUD_ANALYST, AUDITOR])
def test_a_role_without_the_approver_permission_gets_403(maker, role):
    request = make_request(maker)
    client = client_for(staff_with_roles(role, username="other"))
    assert 'name="approve"' not in client.get(page(request)).content.decode()
    assert client.post(button(request, "approve")).status_code == 403
    assert client.post(button(request, "reject")).status_code == 403
    assert status(request) == "pending" and applied() == 0


def test_the_kinds_permission_without_the_approver_one_gets_403(maker):
    holder = UserFactory(is_superuser=False, username="holder")
    holder.user_permissions.set(Permission.objects.filter(codename__in=["view_changerequest", "top_up_card"]))
    assert client_for(holder).post(button(make_request(maker), "approve")).status_code == 403
    assert ChangeRequest.objects.get().status == "pending" and applied() == 0


def test_a_request_that_no_longer_applies_stays_pending_with_an_error(maker, checker):
    request = make_request(maker, fail=True)
    response = client_for(checker).post(button(request, "approve"), follow=True)
    assert any(m.startswith("Nothing changed:") and "changed meanwhile" in m for m in shown(response))
    assert status(request) == "pending" and ChangeRequest.objects.get().decided_by is None


def test_a_note_with_a_card_number_is_refused_and_nothing_changes(maker, checker):
    request = make_request(maker)
    response = client_for(checker).post(
        button(request, "approve"), {"note": "card 4111 1111 1111 1111"}, follow=True
    )
    assert any(m.startswith("Nothing changed:") for m in shown(response))
    assert status(request) == "pending" and applied() == 0
    assert "4111 1111 1111 1111" not in "".join(ChangeRequest.objects.values_list("decision_note", flat=True))


def test_buttons_answer_only_posts(maker, checker):
    request = make_request(maker)
    assert client_for(checker).get(button(request, "approve")).status_code == 405
    assert status(request) == "pending"


# --- Withdrawing ------------------------------------------------------------------------------------------


def test_the_requester_withdraws_and_then_nobody_approves(maker, checker):
    request = make_request(maker)
    response = client_for(maker).post(button(request, "withdraw"), follow=True)
    assert any("withdrawn" in m for m in shown(response)) and status(request) == "withdrawn"

    again = client_for(checker).post(button(request, "approve"), follow=True)
    assert any("already decided or withdrawn" in m for m in shown(again))
    assert status(request) == "withdrawn" and applied() == 0


def test_only_the_requester_withdraws(maker, checker):
    request = make_request(maker)
    assert 'name="withdraw"' not in client_for(checker).get(page(request)).content.decode()
    assert client_for(checker).post(button(request, "withdraw")).status_code == 403
    assert status(request) == "pending"
