"""The naive floor of an authorization, as a plain Django view: the second floor that
bench/authorizations.py serves beside cardsystem.wsgi:application (issue 15).

What a developer would write in an afternoon, on the same project, settings and
middleware as the real server, with the ORM and no care for round trips: per request,
parse the JSON body; in one database transaction, lock the card by its keyed fingerprint
(SELECT ... FOR UPDATE on PostgreSQL), read today's approved sum and the last hour's
count of its transactions, debit it with a conditional UPDATE, insert the transaction;
answer a small JSON 201. No DRF, no API key, no validation beyond what parsing needs,
no risk scoring, no ledger entry, no decision log line.
"""

import datetime
import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")
django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402  (after django.setup())
from django.db import transaction  # noqa: E402
from django.db.models import F, Sum  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from cards.models import Card  # noqa: E402
from cards.pan import pan_fingerprint  # noqa: E402
from cardsystem.money import MoneyError, to_minor  # noqa: E402
from transactions.models import Transaction  # noqa: E402

HOUR = datetime.timedelta(hours=1)


@csrf_exempt
def authorize(request):
    if request.method != "POST":
        return JsonResponse({"detail": "POST only."}, status=405)
    try:
        body = json.loads(request.body)
        amount = to_minor(body["amount"], body["currency"])
    except (ValueError, KeyError, TypeError, MoneyError) as error:
        return JsonResponse({"detail": type(error).__name__}, status=400)
    now = timezone.now()
    with transaction.atomic():
        fingerprint = pan_fingerprint(body["card_number"])
        card = Card.objects.select_for_update().filter(pan_fingerprint=fingerprint).first()
        if card is None:
            return JsonResponse({"id": None, "status": "declined", "response_code": "14"}, status=201)
        mine = Transaction.objects.filter(card=card)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        approved_today = mine.filter(status="approved", transaction_time__gte=midnight)
        today = approved_today.aggregate(s=Sum("amount_minor"))
        last_hour = mine.filter(transaction_time__gte=now - HOUR).count()
        funded = Card.objects.filter(pk=card.pk, balance_minor__gte=amount)
        approved = bool(funded.update(balance_minor=F("balance_minor") - amount))
        txn = Transaction.objects.create(
            card=card,
            masked_pan=card.masked_pan,
            amount_minor=amount,
            currency=card.currency,
            merchant_id=body["merchant_id"],
            merchant_name=body.get("merchant_name", ""),
            mcc=body["mcc"],
            merchant_country=body["merchant_country"],
            channel=body.get("channel", "pos"),
            transaction_time=now,
            status="approved" if approved else "declined",
            response_code="00" if approved else "51",
            reason="approved" if approved else "insufficient_funds",
        )
    return JsonResponse(
        {
            "id": str(txn.pk),
            "status": txn.status,
            "response_code": txn.response_code,
            "spent_today_minor": today["s"] or 0,
            "last_hour": last_hour,
        },
        status=201,
    )


urlpatterns = [path("api/v1/authorizations/", authorize)]


class FloorHandler(WSGIHandler):
    """Django's WSGI handler with this module's one URL instead of the project's (a
    per-request URLconf, as a middleware may set it), so that the floor and the project
    can share a process (bench/profile_authorization.py)."""

    def get_response(self, request):
        request.urlconf = __name__
        return super().get_response(request)


application = FloorHandler()
