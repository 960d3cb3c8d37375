"""The card pages of the back office that are not plain model forms: issuing (with its
one-time confirmation), status changes, top-ups, bulk status actions, new cardholders.

Each view checks the permission its change needs (cards.staff_permissions), checks what
was typed with a form from cards.forms, calls one service, and shows the service's
ValidationError or ConflictError on the form's fields. Unblocking a card blocked for
fraud and a top-up above TOP_UP_APPROVAL_ABOVE are held instead: the view makes a change
request (cards.change_kinds) and says so, with a link to it.
"""

import uuid

from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from cards import staff_permissions
from cards.change_kinds import (
    card_top_up_request,
    card_unblock_request,
    top_up_approval_above,
    top_up_needs_approval,
)
from cards.forms import (
    LIMIT_FORM_FIELDS,
    BulkStatusForm,
    CardholderForm,
    CardIssueForm,
    CardReplaceForm,
    CardStatusForm,
    TopUpForm,
)
from cards.models import Card
from cards.services import (
    TRANSITIONS,
    IssuedCard,
    card_change_status,
    card_issue,
    card_replace,
    card_top_up,
    cardholder_create,
    needs_approval_to_change,
)
from cardsystem.admin import add_service_errors, form_page, message_failures, no_store
from cardsystem.admin_change_requests import held_message
from cardsystem.audit import Actor
from cardsystem.exceptions import ConflictError, error_text
from cardsystem.models import ChangeRequest
from cardsystem.money import format_amount

# Issue-form tokens already used in this session, and the card each one issued.
_ISSUED_TOKENS = "cards_issue_tokens"
_REMEMBERED_TOKENS = 20


def _change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def _card_to_change(model_admin, request, object_id, *, allowed: bool) -> Card:
    """The card of a page URL, for someone who may see cards and is `allowed` this page."""
    if not (allowed and model_admin.has_view_permission(request)):
        raise PermissionDenied
    card = model_admin.get_object(request, unquote(object_id))
    if card is None:
        raise Http404("No such card.")
    return card


# --- Issuing ----------------------------------------------------------------------------------


def issue_card(model_admin, request):
    """The admin's "add card": issue through card_issue, then show the PAN and CVV on
    this response only. They are never put in the session, a message or a redirect."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    if request.method == "POST":
        form = CardIssueForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            issued_before = request.session.get(_ISSUED_TOKENS, {}).get(data["token"])
            if issued_before:
                model_admin.message_user(
                    request,
                    "This form was already submitted and its card issued; the number is not shown again.",
                    messages.WARNING,
                )
                return HttpResponseRedirect(reverse("admin:cards_card_change", args=[issued_before]))
            try:
                issued = card_issue(
                    bin=data["bin"],
                    cardholder=data["cardholder"],
                    expiry_month=data["expiry_month"],
                    expiry_year=data["expiry_year"],
                    limits=data["limits"],
                    actor=Actor.for_request(request),
                )
            except ValidationError as error:
                add_service_errors(form, error, field_map=LIMIT_FORM_FIELDS)
            else:
                _remember_token(request, data["token"], issued.card)
                return _issued_page(model_admin, request, issued, title="Card issued")
    else:
        form = CardIssueForm(initial={"cardholder": _uuid_or_none(request.GET.get("cardholder"))})
    return form_page(
        request,
        model_admin,
        form=form,
        title="Issue a card",
        submit_label="Issue card",
        intro="The card number and CVV are shown once, on the next page.",
    )


def _issued_page(model_admin, request, issued: IssuedCard, *, title: str, replaced: Card | None = None):
    """The one response that shows a new card's PAN and CVV: never cached, stored,
    put in a message or a redirect."""
    return no_store(
        TemplateResponse(
            request,
            "admin/cards/card/issued.html",
            {
                **model_admin.admin_site.each_context(request),
                "opts": model_admin.opts,
                "title": title,
                "card": issued.card,
                "pan": issued.pan,
                "cvv": issued.cvv,
                "replaced": replaced,
            },
        )
    )


def _remember_token(request, token: str, card: Card) -> None:
    used = request.session.get(_ISSUED_TOKENS, {})
    used[token] = str(card.pk)
    request.session[_ISSUED_TOKENS] = dict(list(used.items())[-_REMEMBERED_TOKENS:])


def _uuid_or_none(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


# --- One card ------------------------------------------------------------------------------------


def change_status(model_admin, request, object_id):
    """Only the statuses this person may set are offered, and another one posted is a
    403. Unblocking a card blocked for fraud makes a change request instead."""
    may_change = staff_permissions.may_change_status(request.user)
    card = _card_to_change(model_admin, request, object_id, allowed=may_change)
    allowed = staff_permissions.statuses_allowed(request.user, card)
    refused = set(TRANSITIONS[card.status]) - set(allowed)
    if request.method == "POST" and request.POST.get("status") in refused:
        raise PermissionDenied
    form = CardStatusForm(request.POST if request.method == "POST" else None, card=card, allowed=allowed)
    if form.is_bound and form.is_valid():
        try:
            held = _change_status_or_hold(
                card, status=form.cleaned_data["status"], reason=form.cleaned_data["reason"], request=request
            )
        except (ValidationError, ConflictError) as error:
            add_service_errors(form, error)
        else:
            if held is None:
                model_admin.message_user(request, f"Card {card} is now {card.get_status_display().lower()}.")
            return HttpResponseRedirect(_change_url(card))
    return form_page(
        request,
        model_admin,
        form=form,
        title="Change status",
        original=card,
        submit_label="Change status",
        intro=_status_intro(card, allowed),
        can_submit=bool(allowed),
    )


def _change_status_or_hold(card: Card, *, status: str, reason: str, request) -> ChangeRequest | None:
    """Change the card's status (`card` then holds it) or, where that takes a second
    person, make the change request, say so with a link, and return it."""
    actor = Actor.for_request(request)
    if needs_approval_to_change(card, status):
        held = card_unblock_request(card=card, status=status, reason=reason, actor=actor)
        messages.warning(request, held_message(held))
        return held
    card_change_status(card=card, status=status, reason=reason, actor=actor)
    return None


def _status_intro(card: Card, allowed: list[str]) -> str:
    if not TRANSITIONS[card.status]:
        return "This card's status can no longer change."
    if not allowed:
        return "You may not change this card's status."
    if card.blocked_for_fraud:
        return "This card was blocked for fraud: unblocking it waits for a second person's approval."
    return ""


def top_up(model_admin, request, object_id):
    """A top-up above TOP_UP_APPROVAL_ABOVE makes a change request (its reason required);
    at or under it, the card is credited at once."""
    allowed = request.user.has_perm(staff_permissions.TOP_UP)
    card = _card_to_change(model_admin, request, object_id, allowed=allowed)
    data = request.POST if request.method == "POST" else None
    form = TopUpForm(data, card=card, approval_above=top_up_approval_above(card.currency))
    if form.is_bound and form.is_valid():
        amount, reference = form.cleaned_data["amount"], form.cleaned_data["reference"]
        actor = Actor.for_request(request)
        try:
            if top_up_needs_approval(card, amount):
                held = card_top_up_request(
                    card=card,
                    amount_minor=amount,
                    reference=reference,
                    reason=form.cleaned_data["reason"],
                    actor=actor,
                )
                model_admin.message_user(request, held_message(held), messages.WARNING)
                return HttpResponseRedirect(_change_url(card))
            entry = card_top_up(card=card, amount_minor=amount, reference=reference, actor=actor)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            model_admin.message_user(
                request,
                f"Topped up {format_amount(entry.amount_minor, entry.currency)}; "
                f"the balance is {format_amount(entry.balance_after_minor, entry.currency)}.",
            )
            return HttpResponseRedirect(_change_url(card))
    return form_page(
        request,
        model_admin,
        form=form,
        title="Top up",
        original=card,
        submit_label="Top up",
        intro=f"The balance is {format_amount(card.balance_minor, card.currency)}.",
    )


def replace(model_admin, request, object_id):
    """A new card in place of this one (cards.services.card_replace), its PAN and CVV
    shown on the response. Submitting again finds the old card closed: a form error."""
    allowed = request.user.has_perm(staff_permissions.REPLACE)
    card = _card_to_change(model_admin, request, object_id, allowed=allowed)
    form = CardReplaceForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            issued = card_replace(
                card=card, reason=form.cleaned_data["reason"], actor=Actor.for_request(request)
            )
        except (ValidationError, ConflictError) as error:
            add_service_errors(form, error)
        else:
            return _issued_page(model_admin, request, issued, title="Replacement card issued", replaced=card)
    balance = format_amount(card.balance_minor, card.currency)
    return form_page(
        request,
        model_admin,
        form=form,
        title="Replace card",
        original=card,
        submit_label="Replace card",
        intro=(
            f"Issues a new card to the same cardholder on the same BIN with the same limits, moves the "
            f"balance ({balance}) to it and closes this card. The new number and CVV are shown once, "
            f"on the next page."
        ),
        can_submit=card.status != Card.Status.CLOSED,
    )


# --- Many cards -----------------------------------------------------------------------------------


def bulk_status(model_admin, request, queryset, *, action: str, status: str, done: str):
    """An admin action that asks for the reason on an intermediate page, then changes
    each card on its own: the cards that may change do, the others are reported. A card
    blocked for fraud is not unblocked: a change request is made for it."""
    form = BulkStatusForm(request.POST) if "apply" in request.POST else BulkStatusForm()
    if form.is_bound and form.is_valid():
        changed, failures, reason = 0, [], form.cleaned_data["reason"]
        for card in queryset:
            try:
                held = _change_status_or_hold(card, status=status, reason=reason, request=request)
            except (ValidationError, ConflictError) as error:
                failures.append((card, error_text(error)))
            else:
                changed += held is None
        if changed:
            model_admin.message_user(request, f"{changed} card(s) {done}.")
        message_failures(model_admin, request, failures)
        return None
    return TemplateResponse(
        request,
        "admin/cards/card/bulk_status.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": f"{Card.Status(status).label}: {queryset.count()} card(s)",
            "cards": queryset,
            "form": form,
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "media": model_admin.media,
        },
    )


# --- Cardholders ------------------------------------------------------------------------------------


def add_cardholder(model_admin, request):
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    form = CardholderForm(request.POST) if request.method == "POST" else CardholderForm()
    if request.method == "POST" and form.is_valid():
        try:
            cardholder = cardholder_create(actor=Actor.for_request(request), **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            model_admin.message_user(request, f"The cardholder “{cardholder}” was added.")
            return HttpResponseRedirect(_change_url(cardholder))
    return form_page(request, model_admin, form=form, title="Add cardholder", submit_label="Save")
