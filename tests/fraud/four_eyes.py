"""The second person of a fraud four-eyes request: a fraud manager other than the one
who asked, approving (or rejecting) the pending request through the service the queue
calls."""

from cardsystem.audit import Actor
from cardsystem.change_requests import change_request_approve, change_request_reject
from cardsystem.models import ChangeRequest
from cardsystem.roles import FRAUD_MANAGER
from tests.factories import staff_with_roles


def pending(kind: str) -> ChangeRequest:
    return ChangeRequest.objects.get(kind=kind, status=ChangeRequest.Status.PENDING)


def second_manager(username: str = "checker"):
    return staff_with_roles(FRAUD_MANAGER, username=username)


def approve(kind: str, by=None, note: str = "Checked.") -> ChangeRequest:
    actor = Actor.for_user(by or second_manager())
    return change_request_approve(request=pending(kind), actor=actor, note=note)


def reject(kind: str, by=None, note: str = "Not now.") -> ChangeRequest:
    actor = Actor.for_user(by or second_manager())
    return change_request_reject(request=pending(kind), actor=actor, note=note)
