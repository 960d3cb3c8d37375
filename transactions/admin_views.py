"""The live view of transactions: the latest ones in a table that refreshes itself.

The page renders the newest rows and a cursor (the arrival time and id of the newest
row shown); a small script (static/transactions/live.js) polls `live_poll` with the
cursor and the page's filters and prepends only the rows that are newer. The poll is
marked `does_not_extend_session`: a screen left open still times out after the idle
period (cardsystem/sessions.py).
"""

import datetime
import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from cardsystem.card_numbers import pan_like_digits
from cardsystem.money import format_amount
from cardsystem.sessions import does_not_extend_session
from transactions.models import Transaction

LIVE_ROWS = 50
POLL_SECONDS = 5
# A row is shown once it is this old. Its created_at is set before the authorization
# commits, so with two authorizations in flight the later-created one can commit first;
# a cursor already past it would then step over the earlier one for good. Every
# authorization commits well within this margin, so rows older than it are all visible.
SETTLE = datetime.timedelta(seconds=2)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICROSECOND = datetime.timedelta(microseconds=1)
_LAST_ID = uuid.UUID(int=2**128 - 1)
# Cursors come from this server's clock or another app server's; none is from the future.
_MAX_CLOCK_SKEW = datetime.timedelta(minutes=1)


class LiveFilterForm(forms.Form):
    """The filters of the live view, applied to the page and to every poll alike."""

    decision = forms.ChoiceField(
        required=False,
        choices=[("", "All"), *Transaction.Status.choices],
        error_messages={"invalid_choice": "Choose a decision from the list."},
    )
    min_risk = forms.IntegerField(required=False, min_value=0, max_value=100, label="Min. risk")
    last4 = forms.RegexField(
        required=False,
        regex=r"\A[0-9]{4}\Z",
        max_length=4,
        label="Card last 4",
        error_messages={"invalid": "Give the card's last four digits."},
    )
    merchant = forms.CharField(required=False, max_length=100, label="Merchant ID or name")
    date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def apply(self, queryset):
        data = self.cleaned_data
        if data["decision"]:
            queryset = queryset.filter(status=data["decision"])
        if data["min_risk"] is not None:
            queryset = queryset.filter(risk_score__gte=data["min_risk"])
        if data["last4"]:
            queryset = queryset.filter(card__last4=data["last4"])
        if data["merchant"]:
            term = data["merchant"].strip()
            queryset = queryset.filter(Q(merchant_id=term) | Q(merchant_name__icontains=term))
        if data["date"]:
            queryset = queryset.filter(transaction_time__date=data["date"])
        return queryset

    def querystring(self) -> str:
        """The cleaned filters for the poll's URL (never the raw input)."""
        values = {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}
        if "date" in values:
            values["date"] = values["date"].isoformat()
        return urlencode(values)


# --- The cursor: arrival time and id of the newest row shown ----------------------------------


def encode_cursor(created_at: datetime.datetime, pk: uuid.UUID) -> str:
    """Seconds and microseconds apart, the id with its dashes: no run of 13 or more digits,
    which the page would carry like a card number (and the browser tests refuse)."""
    seconds, micros = divmod((created_at - _EPOCH) // _MICROSECOND, 1_000_000)
    return f"{seconds}.{micros:06d}-{pk}"


def decode_cursor(text: str) -> tuple[datetime.datetime, uuid.UUID]:
    """Raises ValueError for anything encode_cursor did not make."""
    moment, _, key = (text or "").partition("-")
    seconds, dot, micros = moment.partition(".")
    if not (seconds.isdigit() and len(seconds) <= 12 and dot and micros.isdigit() and len(micros) == 6):
        raise ValueError("bad cursor")
    try:
        return _EPOCH + (int(seconds) * 1_000_000 + int(micros)) * _MICROSECOND, uuid.UUID(key)
    except OverflowError:
        raise ValueError("bad cursor") from None


def _newer_than(queryset, cursor: tuple[datetime.datetime, uuid.UUID]):
    # (created_at, id) ordered like the page: ties of the same microsecond by id.
    created_at, pk = cursor
    return queryset.filter(Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=pk))


def _latest(queryset, settled: datetime.datetime) -> list[Transaction]:
    return list(queryset.filter(created_at__lte=settled).order_by("-created_at", "-id")[:LIVE_ROWS])


def live_row(txn: Transaction) -> dict:
    """One row of the table, for the page and the poll: masked card number only."""
    return {
        "id": str(txn.pk),
        "url": reverse("admin:transactions_transaction_change", args=[txn.pk]),
        "time": timezone.localtime(txn.transaction_time).strftime("%Y-%m-%d %H:%M:%S"),
        "card": txn.masked_pan,
        "amount": format_amount(txn.amount_minor, txn.currency),
        "merchant": txn.merchant_name or txn.merchant_id,
        "merchant_id": txn.merchant_id,
        "country": txn.merchant_country.code,
        "decision": txn.status,
        "decision_label": txn.get_status_display(),
        "response_code": txn.response_code,
        "reason": txn.reason,
        "risk_score": txn.risk_score,
        "risk_level": txn.risk_level or "none",
        "factors": [factor.get("code", "") for factor in txn.risk_factors],
    }


# --- The views ----------------------------------------------------------------------------------


def live_page(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    pasted = {name: pan_like_digits(value) for name, value in request.GET.items()}
    if any(pasted.values()):
        # Never echo a card number in an input, the URL or the history: keep its last
        # four digits as the card filter and drop it from any other field.
        query = request.GET.copy()
        for name, digits in pasted.items():
            if digits:
                del query[name]
                if name == "last4":
                    query["last4"] = digits[-4:]
        messages.warning(request, "Full card numbers are never searched or shown: use the last four digits.")
        return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")

    form = LiveFilterForm(request.GET)
    settled = timezone.now() - SETTLE
    rows, poll_url = [], None
    if form.is_valid():
        rows = _latest(form.apply(Transaction.objects.all()), settled)
        poll_url = f"{reverse('admin:transactions_transaction_live_poll')}?{form.querystring()}"
    cursor = encode_cursor(rows[0].created_at, rows[0].pk) if rows else encode_cursor(settled, _LAST_ID)
    return TemplateResponse(
        request,
        "admin/transactions/transaction/live.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": "Live transactions",
            "form": form,
            "rows": [live_row(txn) for txn in rows],
            "cursor": cursor,
            "poll_url": poll_url,
            "poll_seconds": POLL_SECONDS,
            "max_rows": LIVE_ROWS,
        },
    )


def live_poll_view(model_admin):
    """The JSON endpoint behind the live page, bound to its ModelAdmin for permissions."""

    @does_not_extend_session
    def live_poll(request):
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        form = LiveFilterForm(request.GET)
        now = timezone.now()
        try:
            cursor = decode_cursor(request.GET.get("cursor", ""))
            if cursor[0] > now + _MAX_CLOCK_SKEW:
                raise ValueError("a cursor from the future")
        except ValueError:
            return JsonResponse(
                {"errors": {"cursor": ["Reload the page: this cursor is not valid."]}}, status=400
            )
        if not form.is_valid():
            errors = form.errors.get_json_data()
            return JsonResponse(
                {"errors": {name: [e["message"] for e in field] for name, field in errors.items()}},
                status=400,
            )
        settled = now - SETTLE
        rows = _latest(_newer_than(form.apply(Transaction.objects.all()), cursor), settled)
        # With no new row up to `settled`, later polls need not look further back than it.
        cursor = (rows[0].created_at, rows[0].pk) if rows else max(cursor, (settled, _LAST_ID))
        return JsonResponse({"rows": [live_row(txn) for txn in rows], "cursor": encode_cursor(*cursor)})

    return live_poll
