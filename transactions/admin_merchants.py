"""A merchant's page and the list of the busiest merchants, under the transactions admin.

Merchants are not a model: a merchant is the `merchant_id` its transactions carry (and
the name of its latest one). Its page shows, over a period (24 hours, 7 or 30 days), its
headline figures (transactions, approval rate, fraud reported by transaction date, in
count and value), its transactions by response code, its latest transactions and fraud
reports, and what the apps above add (fraud: its alerts; MERCHANT_PAGE_SECTIONS).

Every figure reads one merchant's rows through an index that starts with its id
(Transaction: merchant_id, transaction_time, status...; FraudReport: merchant_id,
transaction_time), so a page costs the same on a million-row table. The merchant id
comes from the URL: one no transaction carries is a 404 page, never a 500.
"""

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q, Sum
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from cardsystem.admin_lists import readonly_table
from cardsystem.card_numbers import pan_like_digits
from cardsystem.money import format_amount
from cardsystem.page_sections import PageSections
from transactions.admin_cells import merchant_url, short_time, transaction_link, transactions_table
from transactions.models import FraudReport, Transaction

LATEST = 20
TOP_MERCHANTS = 50
MERCHANT_TEMPLATE = "admin/transactions/transaction/merchant.html"
MERCHANTS_TEMPLATE = "admin/transactions/transaction/merchants.html"
PERIODS = {
    "24h": ("24 hours", datetime.timedelta(hours=24)),
    "7d": ("7 days", datetime.timedelta(days=7)),
    "30d": ("30 days", datetime.timedelta(days=30)),
}
MAX_MERCHANT_ID = Transaction._meta.get_field("merchant_id").max_length

# What the apps above add to a merchant's page (fraud: its alerts); each section is
# rendered as render(merchant_id, since=<start of the period>).
MERCHANT_PAGE_SECTIONS = PageSections("merchant")

Status = Transaction.Status


@dataclass(frozen=True)
class MerchantFigures:
    """One merchant's headline figures over a period; amounts per currency."""

    transactions: int
    declined: int
    reported: int
    reported_value: list[str]

    @property
    def approval_rate(self) -> str:
        """Approved (reversed ones included: they were approved) of all decisions."""
        if not self.transactions:
            return "—"
        return f"{100 * (self.transactions - self.declined) / self.transactions:.1f} %"


def merchant_figures(merchant_id: str, since: datetime.datetime) -> MerchantFigures:
    decisions = Transaction.objects.filter(merchant_id=merchant_id, transaction_time__gte=since).aggregate(
        transactions=Count("id"), declined=Count("id", filter=Q(status=Status.DECLINED))
    )
    reported = (
        FraudReport.objects.filter(merchant_id=merchant_id, transaction_time__gte=since)
        .values("transaction__currency")
        .annotate(count=Count("id"), value=Sum("transaction__amount_minor"))
        .order_by("transaction__currency")
    )
    return MerchantFigures(
        transactions=decisions["transactions"],
        declined=decisions["declined"],
        reported=sum(row["count"] for row in reported),
        reported_value=[format_amount(row["value"], row["transaction__currency"]) for row in reported],
    )


def response_codes(merchant_id: str, since: datetime.datetime) -> list[dict]:
    """The merchant's decisions of the period by response code, the commonest first."""
    return list(
        Transaction.objects.filter(merchant_id=merchant_id, transaction_time__gte=since)
        .values("response_code")
        .annotate(count=Count("id"))
        .order_by("-count", "response_code")
    )


def top_merchants(since: datetime.datetime) -> list[dict]:
    """The merchants with the most transactions since `since`, with their declines."""
    return list(
        Transaction.objects.filter(transaction_time__gte=since)
        .values("merchant_id")
        .annotate(
            count=Count("id"),
            declined=Count("id", filter=Q(status=Status.DECLINED)),
            name=Max("merchant_name"),
        )
        .order_by("-count", "merchant_id")[:TOP_MERCHANTS]
    )


# --- The pages --------------------------------------------------------------------------------


def merchant_page(model_admin, request, merchant_id: str):
    """One merchant's page; 404 for an id no transaction carries, 400 for an unknown period."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    latest = _latest_transactions(merchant_id)
    context = {"merchant_id": merchant_id}
    if not latest:
        return _page(
            model_admin, request, MERCHANT_TEMPLATE, "Unknown merchant", status=404, unknown=True, **context
        )
    name = latest[0].merchant_name or merchant_id
    period, since = _period(request)
    if since is None:
        return _page(model_admin, request, MERCHANT_TEMPLATE, name, status=400, period=period, **context)
    changelist = _changelist(merchant_id=merchant_id)
    return _page(
        model_admin,
        request,
        MERCHANT_TEMPLATE,
        name,
        period=period,
        since=since,
        figures=merchant_figures(merchant_id, since),
        codes_table=_codes_table(merchant_id, since),
        transactions_table=transactions_table(
            latest,
            merchant=False,
            more_url=changelist,
            more_label="All of this merchant's transactions",
        ),
        reports_table=_reports_table(merchant_id),
        sections=MERCHANT_PAGE_SECTIONS.rendered(request.user, merchant_id, since=since),
        **context,
    )


def merchants_page(model_admin, request):
    """The busiest merchants of the period, each linked to its page."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    period, since = _period(request, default="24h")
    if since is None:
        return _page(model_admin, request, MERCHANTS_TEMPLATE, "Merchants", status=400, period=period)
    rows = [
        (
            _link(merchant_url(row["merchant_id"]), row["name"] or row["merchant_id"]),
            row["merchant_id"],
            row["count"],
            row["declined"],
            f"{100 * (row['count'] - row['declined']) / row['count']:.1f} %",
        )
        for row in top_merchants(since)
    ]
    table = readonly_table(
        ["merchant", "merchant ID", "transactions", "declined", "approval rate"],
        rows,
        empty="No transaction in this period.",
    )
    return _page(
        model_admin, request, MERCHANTS_TEMPLATE, "Merchants", period=period, since=since, table=table
    )


def _latest_transactions(merchant_id: str) -> list[Transaction]:
    if len(merchant_id) > MAX_MERCHANT_ID:
        return []  # no transaction carries it: no need to ask the database
    # By transaction_time alone: the merchant index read backwards, 20 rows and done (a
    # tie-break on id would sort all of a busy merchant's rows first).
    return list(Transaction.objects.filter(merchant_id=merchant_id).order_by("-transaction_time")[:LATEST])


def _period(request, default: str = "7d") -> tuple[str, datetime.datetime | None]:
    """The period named by ?period= and its start (to the minute), or None when the
    name is unknown."""
    period = request.GET.get("period", default)
    if period not in PERIODS:
        return period, None
    start = timezone.now() - PERIODS[period][1]
    return period, start.replace(second=0, microsecond=0)


def _changelist(**filters) -> str:
    return f"{reverse('admin:transactions_transaction_changelist')}?{urlencode(filters)}"


def _codes_table(merchant_id: str, since: datetime.datetime) -> str:
    labels = dict(Transaction._meta.get_field("response_code").choices)
    codes = response_codes(merchant_id, since)
    total = sum(row["count"] for row in codes)
    period = {"merchant_id": merchant_id, "transaction_time__gte": since.isoformat()}
    rows = [
        (
            _link(
                _changelist(**period, response_code__exact=row["response_code"]),
                labels.get(row["response_code"], row["response_code"]),
            ),
            row["count"],
            f"{100 * row['count'] / total:.1f} %",
        )
        for row in codes
    ]
    return readonly_table(
        ["response code", "transactions", "share"], rows, empty="No transaction in this period."
    )


def _link(url: str, text: str) -> str:
    return format_html('<a href="{}">{}</a>', url, text)


def _reports_table(merchant_id: str) -> str:
    reports = (
        FraudReport.objects.filter(merchant_id=merchant_id)
        .select_related("transaction")
        .order_by("-transaction_time")[:LATEST]
    )
    rows = [
        (
            _link(
                reverse("admin:transactions_fraudreport_change", args=[report.pk]),
                f"{timezone.localtime(report.reported_at):%Y-%m-%d %H:%M}",
            ),
            transaction_link(report.transaction, short_time(report.transaction.transaction_time)),
            report.transaction.masked_pan,
            format_amount(report.transaction.amount_minor, report.transaction.currency),
            report.reason,
        )
        for report in reports
    ]
    more = f"{reverse('admin:transactions_fraudreport_changelist')}?{urlencode({'merchant_id': merchant_id})}"
    return readonly_table(
        ["reported", "transaction", "card", "amount", "reason"],
        rows,
        more_url=more,
        more_label="All of this merchant's fraud reports",
        empty="No fraud reported.",
    )


def _page(model_admin, request, template: str, title: str, *, status: int = 200, **context):
    merchant_id = context.get("merchant_id", "")
    return TemplateResponse(
        request,
        template,
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": title,
            # An id shaped like a card number is never echoed (it may be one, pasted).
            "shown_id": "" if pan_like_digits(merchant_id) else merchant_id,
            "periods": [(key, label) for key, (label, _) in PERIODS.items()],
            "period_label": PERIODS.get(context.get("period"), ("",))[0],
            **context,
        },
        status=status,
    )
