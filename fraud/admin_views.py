"""The alert queue's decisions and the alert page's tables.

Every decision (a row's button, the alert page's panel, a bulk action) goes through
fraud.services.alert_decide, which writes the audit row and blocks the card when asked.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from cardsystem.admin import message_failures
from cardsystem.audit import Actor
from cardsystem.exceptions import ConflictError
from cardsystem.money import format_amount
from fraud import catalogue
from fraud.forms import DecisionForm
from fraud.models import FraudAlert
from fraud.services import alert_decide
from transactions.admin import factors_table, readonly_table, risk_badge, transaction_link
from transactions.models import Transaction

RECENT_TRANSACTIONS = 20
DETAILS_TEMPLATE = "admin/fraud/fraudalert/details_table.html"
Status = FraudAlert.Status


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


def decisions_for(alert: FraudAlert) -> list[tuple[str, Decision]]:
    """What an analyst can still decide: nothing once decided; "investigate" only while
    the alert is open or nobody has it."""
    if alert.is_resolved:
        return []
    return [
        (key, decision)
        for key, decision in DECISIONS.items()
        if key != "investigate" or alert.status == Status.OPEN or alert.assignee_id is None
    ]


def _decide(request, alert: FraudAlert, key: str, note: str = "") -> FraudAlert:
    decision = DECISIONS[key]
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


def _error_text(error: ValidationError | ConflictError) -> str:
    return error.message if isinstance(error, ConflictError) else " ".join(error.messages)


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
            model_admin.message_user(request, f"Alert {alert.pk}: {_error_text(error)}", messages.ERROR)
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
            failures.append((alert, _error_text(error)))
        else:
            decided += 1
    if decided:
        blocked = " and their cards blocked" if DECISIONS[key].block_card else ""
        model_admin.message_user(
            request, f"{decided} alert(s) marked {DECISIONS[key].status.label.lower()}{blocked}."
        )
    message_failures(model_admin, request, failures)


# --- What the queue and the alert page show ------------------------------------------------------


def decision_buttons(alert: FraudAlert, *, short: bool) -> str:
    """Submit buttons for the surrounding admin form (the queue's or the alert page's),
    each posting to the alert's decide URL with its own decision."""
    choices = decisions_for(alert)
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


def transaction_details(txn: Transaction) -> str:
    card = (
        format_html(
            '<a href="{}">{}</a>', reverse("admin:cards_card_change", args=[txn.card_id]), txn.masked_pan
        )
        if txn.card_id
        else txn.masked_pan
    )
    rows = [
        ("Transaction", transaction_link(txn, str(txn.pk))),
        ("Time", timezone.localtime(txn.transaction_time).strftime("%Y-%m-%d %H:%M:%S")),
        ("Card", card),
        ("Amount", format_amount(txn.amount_minor, txn.currency)),
        ("Merchant", f"{txn.merchant_name or '—'} ({txn.merchant_id}), MCC {txn.mcc}"),
        ("Country", f"{txn.merchant_country.code} {txn.merchant_country.name}"),
        ("Channel", txn.get_channel_display()),
        ("CVV", txn.get_cvv_result_display()),
        ("Decision", f"{txn.get_status_display()}, {txn.response_code} {txn.reason}"),
        ("Risk", risk_badge(txn.risk_score, txn.risk_level)),
    ]
    return render_to_string(DETAILS_TEMPLATE, {"rows": rows})


def risk_factors(txn: Transaction) -> str:
    return factors_table(txn.risk_factors)


def card_activity(txn: Transaction) -> str:
    """The behavioural features as the decision saw them (stored with the transaction),
    in words, in the catalogue's order; amounts also in the transaction's currency."""
    if txn.card is None:
        return "An unknown card: no history."
    stored = txn.risk_features or {}
    if not stored:
        return "No feature values were stored with this decision."
    rows = [
        (feature.label, catalogue.format_value(feature.name, stored[feature.name]))
        for feature in catalogue.FEATURES
        if feature.name in stored
    ]
    return render_to_string(DETAILS_TEMPLATE, {"rows": rows})


def recent_transactions(txn: Transaction) -> str:
    if txn.card_id is None:
        return "An unknown card: no history."
    recent = Transaction.objects.filter(card_id=txn.card_id).order_by("-created_at", "-id")[
        :RECENT_TRANSACTIONS
    ]

    def when(t: Transaction) -> str:
        text = timezone.localtime(t.transaction_time).strftime("%Y-%m-%d %H:%M:%S")
        return (
            format_html("<strong>{}</strong> (this one)", text)
            if t.pk == txn.pk
            else transaction_link(t, text)
        )

    rows = [
        (
            when(t),
            t.masked_pan,
            format_amount(t.amount_minor, t.currency),
            t.merchant_name or t.merchant_id,
            t.merchant_country.code,
            f"{t.get_status_display()} {t.response_code}",
            risk_badge(t.risk_score, t.risk_level),
            ", ".join(f.get("code", "") for f in t.risk_factors),
        )
        for t in recent
    ]
    more = reverse("admin:transactions_transaction_changelist") + f"?card__id__exact={txn.card_id}"
    return format_html(
        '{}<p><a href="{}">All of this card\'s transactions</a></p>',
        readonly_table(
            ["time", "card", "amount", "merchant", "country", "decision", "risk", "factors"],
            rows,
            empty="None.",
        ),
        more,
    )
