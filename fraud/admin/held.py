"""The fraud pages' side of a change held for a second person (four eyes,
fraud/change_kinds.py): asking for it from a reason form, the message after asking, and
the note on the version's or the model's page while the request waits. Both link to the
request in the change-request queue."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html

from cardsystem.admin import add_service_errors
from cardsystem.admin_change_requests import held_message, request_url
from cardsystem.audit import Actor
from cardsystem.exceptions import ConflictError
from cardsystem.models import ChangeRequest


def ask(
    model_admin, request, form: forms.Form, make: Callable[..., ChangeRequest], back: str
) -> HttpResponseRedirect | None:
    """From a valid reason form, `make(actor=..., reason=...)` the request, say so and go
    `back`; None (the form then shows the service's errors) otherwise."""
    if not (form.is_bound and form.is_valid()):
        return None
    try:
        change = make(actor=Actor.for_request(request), reason=form.cleaned_data["reason"])
    except (ValidationError, ConflictError) as error:
        add_service_errors(form, error)
        return None
    model_admin.message_user(request, held_message(change), messages.WARNING)
    return HttpResponseRedirect(back)


def _named(change: ChangeRequest, text: str) -> str:
    return format_html('<a href="{}">{}</a>', request_url(change), text)


def pending_note(change: ChangeRequest | None) -> str:
    if change is None:
        return ""
    return format_html(
        "{} by {} on {} ({}), waiting for a second person.",
        _named(change, change.summary),
        change.requested_by.get_username(),
        timezone.localtime(change.requested_at).strftime("%Y-%m-%d %H:%M"),
        change.reason,
    )
