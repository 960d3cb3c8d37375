import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cards.models import Card, Cardholder, LedgerEntry
from cards.services import card_change_status, card_issue_bulk
from cardsystem.models import AuditLog
from tests.factories import TEST_ACTOR, BinFactory, CardFactory, CardholderFactory

pytestmark = pytest.mark.django_db

CARDS = reverse("admin:cards_card_changelist")
ISSUE = reverse("admin:cards_card_add")
HOLDERS = reverse("admin:cards_cardholder_changelist")
ADD_HOLDER = reverse("admin:cards_cardholder_add")
NO_LIMITS = {"limit_per_transaction": "", "limit_daily": "", "limit_monthly": ""}


def url(name, card):
    return reverse(f"admin:cards_card_{name}", args=[card.pk])


def written():
    """Everything an admin page could write; compared before and after a rejection."""
    audit = AuditLog.objects.exclude(action=AuditLog.Action.LOGIN)
    return Card.objects.count(), Cardholder.objects.count(), LedgerEntry.objects.count(), audit.count()


def errors(response):
    assert response.status_code == 200, response.status_code
    return response.context["form"].errors


def stock_card(**bin_fields):
    """A bulk-issued card: inactive and without a cardholder."""
    issued = []
    card_issue_bulk(bin=BinFactory(**bin_fields), count=1, actor=TEST_ACTOR, on_issued=issued.append)
    return issued[0].card


def card_in(status, **kwargs):
    card = CardFactory(**kwargs)
    if status != Card.Status.ACTIVE:
        card_change_status(card=card, status=status, reason="test", actor=TEST_ACTOR)
    return card


# --- Cardholders --------------------------------------------------------------------------------


HOLDER = {"name": "Ada Lovelace", "date_of_birth": "1985-12-10", "country": "GB", "email": "ada@example.com"}


def test_adds_cardholder_through_the_service(admin_client):
    response = admin_client.post(ADD_HOLDER, HOLDER)
    holder = Cardholder.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"{holder.pk}/change/")
    assert (holder.name, holder.country.code) == ("Ada Lovelace", "GB")
    assert AuditLog.objects.filter(
        action=AuditLog.Action.CARDHOLDER_CREATED, target_id=str(holder.pk)
    ).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1850-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1985-13-45"}, "date_of_birth"),
        ({"name": ""}, "name"),
        ({"country": "XX"}, "country"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_rejects_bad_cardholder_on_its_field_and_writes_nothing(admin_client, changes, field):
    before = written()
    assert field in errors(admin_client.post(ADD_HOLDER, {**HOLDER, **changes}))
    assert written() == before


def test_rejects_cardholder_born_today(admin_client):
    today = timezone.localdate().isoformat()
    assert "date_of_birth" in errors(admin_client.post(ADD_HOLDER, {**HOLDER, "date_of_birth": today}))
    assert not Cardholder.objects.exists()


@pytest.mark.parametrize(("query", "expected"), [({"q": "lovelace"}, "Ada"), ({"q": "grace@"}, "Grace")])
def test_cardholder_list_searches_by_name_and_email(admin_client, query, expected):
    CardholderFactory(name="Ada Lovelace", email="ada@example.com")
    CardholderFactory(name="Grace Hopper", email="grace@example.com")
    names = [h.name for h in admin_client.get(HOLDERS, query).context["cl"].result_list]
    assert len(names) == 1 and names[0].startswith(expected)


def test_cardholder_list_filters_by_country(admin_client):
    CardholderFactory(name="Ada", country="GB")
    CardholderFactory(name="Grace", country="US")
    response = admin_client.get(HOLDERS, {"country": "GB"})
    assert [h.name for h in response.context["cl"].result_list] == ["Ada"]


def test_cardholder_page_is_read_only_and_lists_cards_masked(admin_client):
    card = CardFactory()
    page = admin_client.get(reverse("admin:cards_cardholder_change", args=[card.cardholder_id]))
    html = page.content.decode()
    assert card.masked_pan in html and card.pan not in html
    assert f"{ISSUE}?cardholder={card.cardholder_id}" in html
    assert page.context["title"].startswith("View")


# --- Issuing -------------------------------------------------------------------------------------


def issue_data(bin=None, holder=None, **fields):
    bin = bin or BinFactory()
    holder = holder or CardholderFactory()
    return {"bin": bin.pk, "cardholder": holder.pk, "token": "form-1", **NO_LIMITS, **fields}


def test_issue_page_preselects_the_cardholder_it_was_opened_for(admin_client):
    holder = CardholderFactory()
    form = admin_client.get(ISSUE, {"cardholder": holder.pk}).context["form"]
    assert form.initial["cardholder"] == str(holder.pk)
    assert admin_client.get(ISSUE, {"cardholder": "not-a-uuid"}).status_code == 200


def test_cardholder_field_autocompletes_by_name(admin_client):
    CardholderFactory(name="Ada Lovelace")
    CardholderFactory(name="Grace Hopper")
    query = {"app_label": "cards", "model_name": "card", "field_name": "cardholder", "term": "lovel"}
    results = admin_client.get(reverse("admin:autocomplete"), query).json()["results"]
    assert [r["text"] for r in results] == ["Ada Lovelace"]


def test_issue_page_offers_only_active_bins(admin_client):
    active, inactive = BinFactory(), BinFactory(is_active=False)
    choices = list(admin_client.get(ISSUE).context["form"].fields["bin"].queryset)
    assert active in choices and inactive not in choices


def test_issues_card_and_shows_pan_and_cvv_once(admin_client, staff_user):
    response = admin_client.post(
        ISSUE, issue_data(limit_daily="500.00", expiry_month="7", expiry_year="2030")
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    card = Card.objects.get()
    pan, cvv = response.context["pan"], response.context["cvv"]
    html = response.content.decode()
    assert pan.startswith(card.bin.bin) and card.masked_pan.endswith(pan[-4:])
    assert html.count(pan) == 1
    assert len(re.findall(rf"CVV</th><td><code[^>]*>{cvv}</code>", html)) == 1
    assert "never be shown again" in html
    assert (card.limit_daily_minor, card.expiry_month, card.expiry_year) == (50_000, 7, 2030)
    audit = AuditLog.objects.get(action=AuditLog.Action.CARD_ISSUED)
    assert audit.actor_user == staff_user and pan not in str(audit.details)


def test_issued_pan_is_kept_in_no_session_or_message(admin_client):
    pan = admin_client.post(ISSUE, issue_data()).context["pan"]
    assert pan not in str(dict(admin_client.session.items()))
    assert all(pan not in morsel.value for morsel in admin_client.cookies.values())
    assert pan not in admin_client.get(CARDS).content.decode()


def test_resubmitting_the_issue_form_does_not_issue_a_second_card(admin_client):
    data = issue_data()
    pan = admin_client.post(ISSUE, data).context["pan"]
    again = admin_client.post(ISSUE, data, follow=True)
    card = Card.objects.get()
    assert again.redirect_chain[0][0] == url("change", card)
    assert pan not in again.content.decode() and "already submitted" in again.content.decode()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"limit_daily": "-5"}, "limit_daily"),
        ({"limit_daily": "1e3"}, "limit_daily"),
        ({"limit_daily": "10.005"}, "limit_daily"),
        ({"limit_monthly": "0"}, "limit_monthly"),
        ({"limit_per_transaction": "200.00", "limit_daily": "100.00"}, "limit_daily"),
        ({"expiry_month": "7"}, "expiry_year"),
        ({"expiry_month": "13", "expiry_year": "2030"}, "expiry_month"),
        ({"expiry_month": "1", "expiry_year": "2001"}, "expiry_year"),
        ({"cardholder": "00000000-0000-0000-0000-000000000000"}, "cardholder"),
    ],
)
def test_rejects_bad_issue_on_its_field_and_writes_nothing(admin_client, fields, field):
    data = issue_data(**fields)
    before = written()
    assert field in errors(admin_client.post(ISSUE, data))
    assert written() == before


def test_rejects_issue_from_an_inactive_bin(admin_client):
    data = issue_data(bin=BinFactory(is_active=False))
    before = written()
    assert "bin" in errors(admin_client.post(ISSUE, data))
    assert written() == before


def test_rejects_decimal_limit_for_a_currency_without_minor_units(admin_client):
    data = issue_data(bin=BinFactory(currency="JPY"), limit_daily="1000.5")
    before = written()
    assert "no minor unit" in errors(admin_client.post(ISSUE, data))["limit_daily"][0]
    assert written() == before


# --- The card list --------------------------------------------------------------------------------


def test_card_list_shows_masked_pan_balance_and_expiry(admin_client):
    card = CardFactory(balance_minor=12_345)
    html = admin_client.get(CARDS).content.decode()
    assert card.masked_pan in html and "123.45 USD" in html
    assert f"{card.expiry_month:02d}/{card.expiry_year}" in html and card.pan not in html


@pytest.mark.parametrize("query", ["last4", "holder", "bin"])
def test_card_list_searches_by_last_four_cardholder_and_bin(admin_client, query):
    card = CardFactory(cardholder=CardholderFactory(name="Ada Lovelace"), bin=BinFactory(bin="411111"))
    CardFactory(cardholder=CardholderFactory(name="Grace Hopper"), bin=BinFactory(bin="422222"))
    term = {"last4": card.last4, "holder": "lovelace", "bin": "411111"}[query]
    found = list(admin_client.get(CARDS, {"q": term}).context["cl"].result_list)
    assert card in found and all(c.cardholder.name == "Ada Lovelace" for c in found)


def test_pasted_card_number_is_searched_by_its_last_four_digits(admin_client):
    card = CardFactory()
    response = admin_client.get(CARDS, {"q": card.pan}, follow=True)
    assert response.redirect_chain[0][0].endswith(f"?q={card.last4}")
    assert list(response.context["cl"].result_list) == [card]
    assert card.pan not in response.content.decode()


@pytest.mark.parametrize("filter_name", ["status", "bin", "network", "currency"])
def test_card_list_filters(admin_client, filter_name):
    card = card_in(Card.Status.BLOCKED, bin=BinFactory(bin="522222", network="mastercard", currency="EUR"))
    CardFactory()
    query = {
        "status": {"status__exact": "blocked"},
        "bin": {"bin__id__exact": card.bin_id},
        "network": {"bin__network__exact": "mastercard"},
        "currency": {"currency": "EUR"},
    }[filter_name]
    assert list(admin_client.get(CARDS, query).context["cl"].result_list) == [card]


def test_card_list_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    CardFactory()
    admin_client.get(CARDS)  # the session's first request
    with CaptureQueriesContext(connection) as one_card:
        admin_client.get(CARDS)
    for _ in range(5):
        CardFactory(balance_minor=100)
    with django_assert_max_num_queries(len(one_card)):
        response = admin_client.get(CARDS)
    assert len(response.context["cl"].result_list) == 6


# --- The card page: limits, assignment, ledger, history ------------------------------------------------


def test_change_page_saves_limits_through_the_service(admin_client):
    card = CardFactory(limits={"daily": 10_000})
    data = {"limit_per_transaction": "50.00", "limit_daily": "", "limit_monthly": "2000"}
    response = admin_client.post(url("change", card), data)
    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.limit_per_transaction_minor, card.limit_daily_minor, card.limit_monthly_minor) == (
        5_000,
        None,
        200_000,
    )
    audit = AuditLog.objects.get(action=AuditLog.Action.CARD_LIMITS_CHANGED)
    assert audit.details["after"] == {"per_transaction": 5_000, "daily": None, "monthly": 200_000}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"limit_daily": "1e3"}, "limit_daily"),
        ({"limit_daily": "-1"}, "limit_daily"),
        ({"limit_per_transaction": "0.001"}, "limit_per_transaction"),
        ({"limit_monthly": "0"}, "limit_monthly"),
        ({"limit_daily": "100", "limit_monthly": "50"}, "limit_monthly"),
    ],
)
def test_change_page_rejects_bad_limits_and_writes_nothing(admin_client, fields, field):
    card = CardFactory()
    before = written()
    response = admin_client.post(url("change", card), {**NO_LIMITS, **fields})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert written() == before
    card.refresh_from_db()
    assert card.limit_daily_minor is None and card.limit_monthly_minor is None


def test_assigns_a_stock_card_to_a_cardholder(admin_client):
    card, holder = stock_card(), CardholderFactory()
    assert "assign_to" in admin_client.get(url("change", card)).context["adminform"].form.fields
    response = admin_client.post(url("change", card), {**NO_LIMITS, "assign_to": holder.pk})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.cardholder == holder
    assert AuditLog.objects.filter(action=AuditLog.Action.CARD_ASSIGNED, target_id=str(card.pk)).exists()


def test_a_card_with_a_cardholder_cannot_be_reassigned(admin_client):
    card, other = CardFactory(), CardholderFactory()
    assert "assign_to" not in admin_client.get(url("change", card)).context["adminform"].form.fields
    admin_client.post(url("change", card), {**NO_LIMITS, "assign_to": other.pk})
    card.refresh_from_db()
    assert card.cardholder != other


def test_change_page_shows_ledger_newest_first_and_status_history(admin_client):
    card = CardFactory(balance_minor=1_000)
    admin_client.post(url("top_up", card), {"amount": "2.50", "reference": "second"})
    admin_client.post(url("status", card), {"status": "blocked", "reason": "customer called"})
    html = admin_client.get(url("change", card)).content.decode()
    assert html.index("<td>2.50</td>") < html.index("<td>10.00</td>") and "<td>12.50</td>" in html
    assert "active → blocked: customer called" in html
    assert "12.50 USD" in html


def test_cards_and_ledger_entries_cannot_be_deleted_or_added_by_hand(admin_client):
    card = CardFactory(balance_minor=100)
    entry = card.ledger_entries.get()
    assert admin_client.get(url("delete", card)).status_code == 403
    assert admin_client.get(reverse("admin:cards_ledgerentry_add")).status_code == 403
    assert admin_client.get(reverse("admin:cards_ledgerentry_delete", args=[entry.pk])).status_code == 403
    page = admin_client.get(reverse("admin:cards_ledgerentry_change", args=[entry.pk]))
    assert page.context["title"].startswith("View") and "1.00 USD" in page.content.decode()


# --- Status -------------------------------------------------------------------------------------------


def test_changes_status_with_a_reason(admin_client, staff_user):
    card = CardFactory()
    response = admin_client.post(url("status", card), {"status": "lost", "reason": "Left on a train"})
    assert response.status_code == 302 and response["Location"] == url("change", card)
    card.refresh_from_db()
    assert (card.status, card.status_reason) == ("lost", "Left on a train")
    audit = AuditLog.objects.get(action=AuditLog.Action.CARD_STATUS_CHANGED)
    assert audit.actor_user == staff_user and audit.details["to"] == "lost"


@pytest.mark.parametrize(
    ("start", "data", "field"),
    [
        ("active", {"status": "blocked", "reason": ""}, "reason"),
        ("active", {"status": "blocked", "reason": "x" * 201}, "reason"),
        ("active", {"status": "frozen", "reason": "typo"}, "status"),
        ("lost", {"status": "active", "reason": "found it"}, "status"),
        ("closed", {"status": "active", "reason": "reopen"}, "status"),
    ],
)
def test_rejects_bad_status_change_and_writes_nothing(admin_client, start, data, field):
    card = card_in(start)
    before = written()
    assert field in errors(admin_client.post(url("status", card), data))
    assert written() == before
    card.refresh_from_db()
    assert card.status == start


def test_activating_a_stock_card_without_cardholder_is_a_form_error(admin_client):
    card = stock_card()
    before = written()
    response = admin_client.post(url("status", card), {"status": "active", "reason": "go"})
    assert "Assign the card" in errors(response)["status"][0]
    assert written() == before


def test_a_closed_card_offers_no_status(admin_client):
    page = admin_client.get(url("status", card_in("closed")))
    assert "can no longer change" in page.content.decode() and not page.context["can_submit"]


# --- Bulk status actions ----------------------------------------------------------------------------------


def bulk(admin_client, action, cards, follow=False, **extra):
    data = {"action": action, "_selected_action": [c.pk for c in cards], **extra}
    return admin_client.post(CARDS, data, follow=follow)


def test_block_action_asks_for_a_reason_first(admin_client):
    cards = CardFactory.create_batch(2)
    page = bulk(admin_client, "block", cards, index="0")
    assert page.status_code == 200 and "reason" in page.context["form"].fields
    html = page.content.decode()
    assert all(c.masked_pan in html and c.pan not in html for c in cards)
    assert set(Card.objects.values_list("status", flat=True)) == {"active"}


@pytest.mark.parametrize(
    ("action", "status"),
    [("block", "blocked"), ("report_lost", "lost"), ("report_stolen", "stolen")],
)
def test_bulk_action_changes_the_selected_cards_with_the_reason(admin_client, action, status):
    cards, untouched = CardFactory.create_batch(2), CardFactory()
    response = bulk(admin_client, action, cards, apply="yes", reason="fraud ring")
    assert response.status_code == 302
    assert {c.status for c in Card.objects.filter(pk__in=[c.pk for c in cards])} == {status}
    untouched.refresh_from_db()
    assert untouched.status == "active"
    assert AuditLog.objects.filter(action=AuditLog.Action.CARD_STATUS_CHANGED).count() == 2


def test_unblock_applies_to_the_cards_that_may_and_reports_the_others(admin_client):
    blocked, lost = card_in("blocked"), card_in("lost")
    response = bulk(admin_client, "unblock", [blocked, lost], apply="yes", reason="cleared", follow=True)
    blocked.refresh_from_db()
    lost.refresh_from_db()
    assert (blocked.status, lost.status) == ("active", "lost")
    shown = [str(m) for m in response.context["messages"]]
    assert "1 card(s) activated." in shown
    assert any(m.startswith(lost.masked_pan) and "lost card cannot become active" in m for m in shown)


def test_bulk_action_without_reason_asks_again_and_writes_nothing(admin_client):
    cards = CardFactory.create_batch(2)
    before = written()
    response = bulk(admin_client, "block", cards, apply="yes", reason="")
    assert "reason" in errors(response)
    assert written() == before


# --- Top-ups -----------------------------------------------------------------------------------------------


def test_tops_up_a_card(admin_client):
    card = CardFactory(balance_minor=500)
    response = admin_client.post(url("top_up", card), {"amount": "100.25", "reference": "branch 12"})
    assert response.status_code == 302
    card.refresh_from_db()
    entry = card.ledger_entries.first()
    assert card.balance_minor == 10_525 and (entry.amount_minor, entry.reference) == (10_025, "branch 12")
    assert AuditLog.objects.filter(action=AuditLog.Action.CARD_TOPPED_UP).count() == 2  # factory's + ours


@pytest.mark.parametrize("amount", ["-5", "0", "0.00", "1e3", "10.005", "12,50", " ", "abc", "1" * 16])
def test_rejects_bad_top_up_amount_and_writes_nothing(admin_client, amount):
    card = CardFactory()
    before = written()
    assert "amount" in errors(admin_client.post(url("top_up", card), {"amount": amount}))
    assert written() == before


def test_rejects_three_decimal_top_up(admin_client):
    card = CardFactory()
    response = admin_client.post(url("top_up", card), {"amount": "1.001"})
    assert errors(response)["amount"] == ["USD amounts have at most 2 decimal places."]
    assert not LedgerEntry.objects.exists()


def test_rejects_any_decimals_for_a_yen_card(admin_client):
    card = CardFactory(bin=BinFactory(currency="JPY"))
    assert "amount" in errors(admin_client.post(url("top_up", card), {"amount": "100.5"}))
    assert admin_client.post(url("top_up", card), {"amount": "1000"}).status_code == 302
    card.refresh_from_db()
    assert card.balance_minor == 1000


def test_rejects_top_up_of_a_closed_card(admin_client):
    card = card_in("closed")
    before = written()
    response = admin_client.post(url("top_up", card), {"amount": "10.00"})
    assert "takes no top-ups" in errors(response)["__all__"][0]
    assert written() == before


def test_staff_who_may_only_view_cards_change_nothing(client, admin_client):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_card", "view_cardholder"]))
    card, data = CardFactory(balance_minor=100), issue_data()
    client.force_login(viewer)
    before = written()
    assert client.get(url("change", card)).status_code == 200
    assert client.post(url("status", card), {"status": "blocked", "reason": "x"}).status_code == 403
    assert client.post(url("top_up", card), {"amount": "5.00"}).status_code == 403
    assert client.post(url("change", card), {**NO_LIMITS, "limit_daily": "5"}).status_code == 403
    assert client.post(ISSUE, data).status_code == 403
    assert bulk(client, "block", [card], apply="yes", reason="x").status_code == 200  # no such action
    assert written() == before
    card.refresh_from_db()
    assert card.status == "active"


# --- No page but the confirmation ever shows the card's number --------------------------------------------


def test_no_back_office_page_ever_shows_the_full_pan_or_cvv(admin_client):
    issued = admin_client.post(ISSUE, issue_data(limit_daily="300.00"))
    pan, cvv = issued.context["pan"], issued.context["cvv"]
    card = Card.objects.get()
    admin_client.post(url("top_up", card), {"amount": "40.00"})
    admin_client.post(url("status", card), {"status": "blocked", "reason": "check"})
    admin_client.post(url("change", card), {**NO_LIMITS, "limit_daily": "400.00"})
    entry = card.ledger_entries.get()
    audit_rows = AuditLog.objects.filter(target_id=str(card.pk))
    pages = [
        (CARDS, True),
        (f"{CARDS}?q={card.last4}", True),
        (url("change", card), True),
        (url("status", card), True),
        (url("top_up", card), True),
        (url("history", card), True),
        (reverse("admin:cards_ledgerentry_changelist") + f"?card__id__exact={card.pk}", True),
        (reverse("admin:cards_ledgerentry_change", args=[entry.pk]), True),
        (reverse("admin:cardsystem_auditlog_changelist"), True),
        *[(reverse("admin:cardsystem_auditlog_change", args=[row.pk]), True) for row in audit_rows],
        (reverse("admin:cards_cardholder_change", args=[card.cardholder_id]), True),
        (reverse("admin:bins_bin_change", args=[card.bin_id]), False),
        (reverse("admin:index"), True),
    ]
    assert len(pages) >= 16
    spaced = " ".join(pan[i : i + 4] for i in range(0, len(pan), 4))
    for page_url, shows_card in pages:
        response = admin_client.get(page_url)
        html = response.content.decode()
        assert response.status_code == 200, page_url
        assert pan not in html and spaced not in html, page_url
        assert not re.search(rf"cvv.{{0,200}}\b{cvv}\b", html, re.IGNORECASE | re.DOTALL), page_url
        assert card.masked_pan in html or not shows_card, page_url


def test_issuing_in_the_past_month_is_refused_by_expiry(admin_client):
    last_month = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    data = issue_data(expiry_month=str(last_month.month), expiry_year=str(last_month.year))
    assert "expiry_year" in errors(admin_client.post(ISSUE, data))
    assert not Card.objects.exists()
