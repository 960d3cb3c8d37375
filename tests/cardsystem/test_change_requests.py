"""Four eyes, the mechanism: a request is held until a second person with the approver
permission and the kind's own approves it; nobody decides their own; a rejected,
withdrawn or failing request changes nothing. Each held action has its own tests
beside its app's; these use a kind registered for the test."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from cardsystem import change_requests
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.change_requests import (
    ChangeKind,
    change_request_approve,
    change_request_create,
    change_request_reject,
    change_request_withdraw,
)
from cardsystem.exceptions import ConflictError
from cardsystem.models import AuditLog, ChangeRequest
from cardsystem.roles import ADMINISTRATOR, AUDITOR, FRAUD_ANALYST, FRAUD_MANAGER
from tests.factories import staff_with_roles

pytestmark = pytest.mark.django_db


def _apply(request, actor):
    if request.params.get("fail"):
        raise ConflictError("The target changed meanwhile.", field="target")
    row = audit_record(actor=actor, action=AuditAction.DEMO_CREDENTIALS, target_label=request.params["label"])
    return {"audit_id": row.pk}


@pytest.fixture(autouse=True)
def test_kind():
    kind = ChangeKind(
        name="test_change", label="test change", permission="fraud.promote_fraudconfigversion", apply=_apply
    )
    change_requests.register(kind)
    yield kind
    change_requests._KINDS.pop(kind.name)


@pytest.fixture
def maker():
    return staff_with_roles(FRAUD_MANAGER, username="maker")


@pytest.fixture
def checker():
    return staff_with_roles(FRAUD_MANAGER, username="checker")


def _request(user, **params):
    return change_request_create(
        kind="test_change",
        actor=Actor.for_user(user),
        summary="Do the test change",
        reason="Because the test says so",
        params={"label": "applied", **params},
    )


def _applied() -> int:
    return AuditLog.objects.filter(action=AuditAction.DEMO_CREDENTIALS).count()


def test_a_request_waits_for_a_second_person_and_is_audited(maker):
    request = _request(maker)
    assert request.status == ChangeRequest.Status.PENDING
    assert _applied() == 0
    row = AuditLog.objects.get(action=AuditAction.CHANGE_REQUESTED)
    assert (row.actor_user, row.target_id) == (maker, str(request.pk))
    assert row.details["reason"] == "Because the test says so"


def test_approval_by_a_second_person_applies_it_once_and_names_both(maker, checker):
    request = change_request_approve(request=_request(maker), actor=Actor.for_user(checker), note="ok")
    assert _applied() == 1
    stored = ChangeRequest.objects.get(pk=request.pk)
    assert (stored.status, stored.decided_by, stored.decision_note) == ("approved", checker, "ok")
    assert stored.result["audit_id"] == AuditLog.objects.get(action=AuditAction.DEMO_CREDENTIALS).pk
    row = AuditLog.objects.get(action=AuditAction.CHANGE_APPROVED)
    assert (row.details["requested_by"], row.details["approved_by"]) == ("maker", "checker")


def test_nobody_approves_or_rejects_their_own_request(maker):
    request = _request(maker)
    with pytest.raises(PermissionDenied):
        change_request_approve(request=request, actor=Actor.for_user(maker))
    with pytest.raises(PermissionDenied):
        change_request_reject(request=request, actor=Actor.for_user(maker))
    assert ChangeRequest.objects.get(pk=request.pk).status == "pending"
    assert _applied() == 0


def test_the_database_refuses_a_request_decided_by_its_requester(maker):
    request = _request(maker)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChangeRequest.objects.filter(pk=request.pk).update(decided_by=maker)


@pytest.mark.parametrize("role", [FRAUD_ANALYST, AUDITOR, ADMINISTRATOR])
def test_a_second_person_without_both_permissions_cannot_decide(maker, role):
    request = _request(maker)
    other = staff_with_roles(role, username="other")
    with pytest.raises(PermissionDenied):
        change_request_approve(request=request, actor=Actor.for_user(other))
    with pytest.raises(PermissionDenied):
        change_request_reject(request=request, actor=Actor.for_user(other))
    assert ChangeRequest.objects.get(pk=request.pk).status == "pending"
    assert _applied() == 0


def test_someone_without_the_kinds_permission_cannot_request():
    analyst = staff_with_roles(FRAUD_ANALYST)
    with pytest.raises(PermissionDenied):
        _request(analyst)
    assert not ChangeRequest.objects.exists()
    assert not AuditLog.objects.filter(action=AuditAction.CHANGE_REQUESTED).exists()


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501, "card 4111 1111 1111 1111 was used"])
def test_a_request_needs_a_clean_reason(maker, reason):
    with pytest.raises(ValidationError) as error:
        change_request_create(
            kind="test_change", actor=Actor.for_user(maker), summary="s", reason=reason, params={}
        )
    assert "reason" in error.value.message_dict
    assert not ChangeRequest.objects.exists()


def test_a_rejected_request_changes_nothing_and_is_audited(maker, checker):
    request = change_request_reject(request=_request(maker), actor=Actor.for_user(checker), note="no")
    assert _applied() == 0
    assert ChangeRequest.objects.get(pk=request.pk).status == "rejected"
    row = AuditLog.objects.get(action=AuditAction.CHANGE_REJECTED)
    assert (row.details["requested_by"], row.details["rejected_by"]) == ("maker", "checker")
    with pytest.raises(ConflictError):
        change_request_approve(request=request, actor=Actor.for_user(checker))
    assert _applied() == 0


def test_a_change_that_no_longer_applies_leaves_the_request_pending(maker, checker):
    request = _request(maker, fail=True)
    with pytest.raises(ConflictError):
        change_request_approve(request=request, actor=Actor.for_user(checker))
    assert ChangeRequest.objects.get(pk=request.pk).status == "pending"
    assert request.status == "pending"
    assert not AuditLog.objects.filter(action=AuditAction.CHANGE_APPROVED).exists()


def test_a_request_is_approved_once(maker, checker):
    request = _request(maker)
    change_request_approve(request=ChangeRequest.objects.get(pk=request.pk), actor=Actor.for_user(checker))
    third = staff_with_roles(FRAUD_MANAGER, username="third")
    with pytest.raises(ConflictError):
        change_request_approve(request=request, actor=Actor.for_user(third))
    assert _applied() == 1


def test_only_the_requester_withdraws_and_then_nobody_approves(maker, checker):
    request = _request(maker)
    with pytest.raises(PermissionDenied):
        change_request_withdraw(request=request, actor=Actor.for_user(checker))
    change_request_withdraw(request=request, actor=Actor.for_user(maker))
    assert ChangeRequest.objects.get(pk=request.pk).status == "withdrawn"
    assert AuditLog.objects.filter(action=AuditAction.CHANGE_WITHDRAWN).count() == 1
    with pytest.raises(ConflictError):
        change_request_approve(request=request, actor=Actor.for_user(checker))
    assert _applied() == 0
