"""What analysts decide on an alert: the decisions, the alert page's and the queue's
buttons (one click each, with a note), and the bulk actions.

Every decision goes through fraud.services.alert_decide, which writes the audit row and
blocks the card when asked. Deciding needs fraud.decide_fraudalert; a decision that blocks
the card also needs cards.block_card (without it, its buttons are not shown and a crafted
request is refused).
"""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from cardsystem.admin import message_failures
from cardsystem.audit import Actor
from cardsystem.exceptions import ConflictError, error_text
from fraud.forms import DecisionForm
from fraud.models import FraudAlert
from fraud.services import alert_decide

Status = FraudAlert.Status
DECIDE_PERMISSION = "fraud.decide_fraudalert"
BLOCK_PERMISSION = "cards.block_card"


@dataclass(frozen=True)
class Decision:
    label: str  # the bulk action's and the alert page's
    short: str  # the queue row's button
    status: str
    block_card: bool = False
    danger: bool = False


DECISIONS = {
    "investigate": Decision("Investigate (assign to me)", "Investigate", Status.INVESTIGATING),
    "confirm_block": Decision(
        "Confirm fraud & block card", "Fraud + block", Status.CONFIRMED_FRAUD, block_card=True, danger=True
    ),
    "confirm": Decision("Confirm fraud", "Fraud", Status.CONFIRMED_FRAUD, danger=True),
    "false_positive": Decision("False positive", "False positive", Status.FALSE_POSITIVE),
}


def may_decide(user) -> bool:
    return user.has_perm(DECIDE_PERMISSION)


def may_block(user) -> bool:
    return user.has_perm(BLOCK_PERMISSION)


def decisions_for(alert: FraudAlert, *, block: bool = True) -> list[tuple[str, Decision]]:
    """What an analyst can still decide: nothing once decided; "investigate" only while
    the alert is open or nobody has it; a card block only with `block` (the permission)."""
    if alert.is_resolved:
        return []
    return [
        (key, decision)
        for key, decision in DECISIONS.items()
        if (key != "investigate" or alert.status == Status.OPEN or alert.assignee_id is None)
        and (block or not decision.block_card)
    ]


def _decide(request, alert: FraudAlert, key: str, note: str = "") -> FraudAlert:
    decision = DECISIONS[key]
    if not may_decide(request.user) or (decision.block_card and not may_block(request.user)):
        raise PermissionDenied
    if key not in dict(decisions_for(alert)):
        raise ConflictError(
            "This alert is already decided."
            if alert.is_resolved
            else f"This alert is already being investigated by {alert.assignee}."
        )
    if note:
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        note = f"[{stamp} {request.user.get_username()}, {decision.label.lower()}] {note}"
    return alert_decide(
        alert=alert,
        status=decision.status,
        block_card=decision.block_card,
        notes=note,
        actor=Actor.for_request(request),
    )


def _done(alert: FraudAlert, key: str) -> str:
    blocked = " The card is blocked." if DECISIONS[key].block_card else ""
    return f"Alert {alert.pk}: {alert.get_status_display().lower()}.{blocked}"


def _back(request, default: str) -> HttpResponseRedirect:
    """To the page the decision was made on (the queue with its filters), if it is ours."""
    target = request.POST.get("next") or request.headers.get("referer", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return HttpResponseRedirect(target)


def decide(model_admin, request, object_id):
    """One click: the decision named by the button pressed, with the note if any."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not model_admin.has_decide_permission(request):
        raise PermissionDenied
    alert = model_admin.get_object(request, unquote(object_id))
    if alert is None:
        raise Http404("No such alert.")
    back = _back(request, reverse("admin:fraud_fraudalert_changelist"))
    key = request.POST.get("decision", "")
    form = DecisionForm(request.POST)
    if key not in DECISIONS:
        model_admin.message_user(request, "Choose a decision.", messages.ERROR)
    elif not form.is_valid():
        problems = " ".join(message for errors in form.errors.values() for message in errors)
        model_admin.message_user(request, f"Nothing was decided: {problems}", messages.ERROR)
    else:
        try:
            alert = _decide(request, alert, key, form.cleaned_data["note"])
        except (ValidationError, ConflictError) as error:
            model_admin.message_user(request, f"Alert {alert.pk}: {error_text(error)}", messages.ERROR)
        else:
            model_admin.message_user(request, _done(alert, key), messages.SUCCESS)
    return back


def bulk_decide(model_admin, request, queryset, key: str) -> None:
    """An admin action: each selected alert on its own; those that cannot are reported."""
    decided, failures = 0, []
    for alert in queryset:
        try:
            _decide(request, alert, key)
        except (ValidationError, ConflictError) as error:
            failures.append((alert, error_text(error)))
        else:
            decided += 1
    if decided:
        blocked = " and their cards blocked" if DECISIONS[key].block_card else ""
        model_admin.message_user(
            request, f"{decided} alert(s) marked {DECISIONS[key].status.label.lower()}{blocked}."
        )
    message_failures(model_admin, request, failures)


def decision_buttons(alert: FraudAlert, *, short: bool, block: bool) -> str:
    """Submit buttons for the surrounding admin form (the queue's or the alert page's),
    each posting to the alert's decide URL with its own decision (those that block the
    card only with `block`)."""
    choices = decisions_for(alert, block=block)
    if not choices:
        return ""
    url = reverse("admin:fraud_fraudalert_decide", args=[alert.pk])
    buttons = format_html_join(
        "",
        '<button type="submit" class="button{}" formaction="{}" formmethod="post" name="decision" '
        'value="{}" title="{}">{}</button>',
        (
            (" danger" if d.danger else "", url, key, d.label, d.short if short else d.label)
            for key, d in choices
        ),
    )
    return format_html('<div class="decide">{}</div>', buttons)
