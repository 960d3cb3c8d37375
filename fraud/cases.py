"""Cases: the alerts of one card worked as one (fraud.models.Case).

The engine's alert joins the card's unresolved case or opens one (`case_for_alert`, in
the transaction that records the decision), at a priority from what the engine did:
a card it blocked is urgent, a decline high, an approval sent for review normal. The
service level runs from the case's opening and is due after SLA_HOURS[priority]; an
alert of higher priority joining a case brings its due time forward, never back.

Analysts assign and reassign, change the priority, comment (append-only) and resolve:
the resolution decides every undecided alert of the case through alert_decide, which
blocks the card when asked. Every step is audited.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cards.models import Card
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.card_numbers import reject_pan
from cardsystem.exceptions import ConflictError
from fraud.models import Case, CaseComment, FraudAlert
from fraud.services import alert_decide, card_block_for_fraud

Priority = Case.Priority
SLA_HOURS = {Priority.URGENT: 1, Priority.HIGH: 4, Priority.NORMAL: 24, Priority.LOW: 72}
MAX_COMMENT = 2000


def priority_for(*, declined: bool, card_blocked: bool) -> int:
    if card_blocked:
        return Priority.URGENT
    return Priority.HIGH if declined else Priority.NORMAL


def _due(opened_at: datetime.datetime, priority: int) -> datetime.datetime:
    return opened_at + datetime.timedelta(hours=SLA_HOURS[priority])


def case_for_alert(*, alert: FraudAlert, priority: int) -> Case:
    """Put a new alert in its card's unresolved case, opening one if there is none.
    Two alerts of one card at once: the unique constraint lets one open the case and
    the other join it."""
    if alert.case_id is not None:
        return alert.case
    case = Case.objects.select_for_update().filter(card_id=alert.card_id, resolved_at__isnull=True).first()
    if case is None:
        now = timezone.now()
        try:
            with transaction.atomic():
                case = Case.objects.create(
                    card_id=alert.card_id, priority=priority, opened_at=now, due_at=_due(now, priority)
                )
        except IntegrityError:  # the other alert opened it first
            case = Case.objects.select_for_update().get(card_id=alert.card_id, resolved_at__isnull=True)
    if priority < case.priority:
        case.priority = priority
        case.due_at = min(case.due_at, _due(timezone.now(), priority))
        case.save(update_fields=["priority", "due_at"])
    FraudAlert.objects.filter(pk=alert.pk).update(case=case)
    alert.case = case
    return case


def _open_case(case: Case) -> Case:
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.is_resolved:
        raise ConflictError("This case is already resolved.", field="case")
    return case


def case_assign(*, case: Case, assignee, actor: Actor) -> Case:
    """Give the case to `assignee` (a staff user), or to nobody with None."""
    if assignee is not None and not (assignee.is_active and assignee.is_staff):
        raise ValidationError({"assignee": "Assign the case to an active staff member."})
    with transaction.atomic():
        case = _open_case(case)
        before = case.assignee
        if before == assignee:
            return case
        case.assignee = assignee
        case.save(update_fields=["assignee"])
        audit_record(
            actor=actor,
            action=AuditAction.CASE_ASSIGNED,
            target=case,
            details={
                "from": before.get_username() if before else None,
                "to": assignee.get_username() if assignee else None,
            },
        )
    return case


def case_set_priority(*, case: Case, priority: int, actor: Actor) -> Case:
    """A new priority: the due time is the opening plus the new priority's service level."""
    if priority not in Priority.values:
        raise ValidationError({"priority": f"Unknown priority: use {', '.join(map(str, Priority.values))}."})
    with transaction.atomic():
        case = _open_case(case)
        before = case.priority
        if before == priority:
            return case
        case.priority = priority
        case.due_at = _due(case.opened_at, priority)
        case.save(update_fields=["priority", "due_at"])
        audit_record(
            actor=actor,
            action=AuditAction.CASE_PRIORITY_CHANGED,
            target=case,
            details={"from": Priority(before).label, "to": Priority(priority).label},
        )
    return case


def case_comment(*, case: Case, body: str, actor: Actor) -> CaseComment:
    """Append a comment (also on a resolved case: the thread records what came after)."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write the comment."})
    if len(body) > MAX_COMMENT:
        raise ValidationError({"body": f"At most {MAX_COMMENT} characters."})
    reject_pan(body, "body")
    with transaction.atomic():
        comment = CaseComment.objects.create(
            case=case, author=actor.user, author_label=actor.label[:150], body=body
        )
        audit_record(
            actor=actor, action=AuditAction.CASE_COMMENTED, target=case, details={"comment": comment.pk}
        )
    return comment


def case_resolve(
    *, case: Case, resolution: str, actor: Actor, note: str = "", block_card: bool = False
) -> Case:
    """Resolve the case: every undecided alert of it gets the resolution (through
    alert_decide, which audits each and blocks the card once when asked), then the case
    is closed with its resolver and time. ConflictError for a resolved case."""
    if resolution not in Case.Resolution.values:
        raise ValidationError({"resolution": f"Unknown resolution: use {', '.join(Case.Resolution.values)}."})
    if block_card and resolution != Case.Resolution.CONFIRMED_FRAUD:
        raise ValidationError({"block_card": "Only confirmed fraud blocks the card."})
    note = (note or "").strip()
    reject_pan(note, "note")
    with transaction.atomic():
        case = _open_case(case)
        undecided = case.alerts.exclude(
            status__in=[FraudAlert.Status.CONFIRMED_FRAUD, FraudAlert.Status.FALSE_POSITIVE]
        ).order_by("created_at", "pk")
        for alert in undecided:
            alert_decide(alert=alert, status=resolution, actor=actor, notes=note)
        if block_card:
            card = Card.objects.get(pk=case.card_id)
            card_block_for_fraud(card=card, reason=f"Fraud confirmed on case {case.pk}.", actor=actor)
        user = actor.user if actor.user is not None and actor.user.pk else None
        case.resolution, case.resolved_at, case.resolved_by = resolution, timezone.now(), user
        case.save(update_fields=["resolution", "resolved_at", "resolved_by"])
        if note:
            CaseComment.objects.create(case=case, author=user, author_label=actor.label[:150], body=note)
        audit_record(
            actor=actor,
            action=AuditAction.CASE_RESOLVED,
            target=case,
            details={"resolution": resolution, "alerts": len(undecided), "block_card": block_card},
        )
    return case
