"""Whatever a staff member types into a changelist's address bar gets a page, Django's
"?e=1" redirect or a 400, never a 500: every registered admin is walked with hostile
query strings built from its own date drill-down, filters and search."""

from urllib.parse import quote

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.urls import reverse

from cardsystem.admin_queries import CANNOT_APPLY, ChangeListGuard
from tests.authorizing import authorize, written
from tests.factories import TEST_ACTOR, CardFactory, make_api_client
from tests.fraud.configuration import set_rule
from transactions.models import Transaction
from transactions.services import fraud_report_create

pytestmark = pytest.mark.django_db

ANSWERED = {200, 302, 400}

NUL = "%00"
LONG = "x" * 5000
MANY_WORDS = quote(" ".join(f"w{n}" for n in range(3000)))

# Year 9999 itself is a valid date; Django adds a year, a month or a day to it.
DRILL_DOWNS = [
    "{h}__year=99999999999",
    "{h}__year=99999999999999999999999999",
    "{h}__year=-1",
    "{h}__year=0",
    "{h}__year=1",
    "{h}__year=abc",
    "{h}__year=",
    "{h}__year=" + NUL,
    "{h}__year=10000",
    "{h}__year=9999",
    "{h}__year=9999&{h}__month=12",
    "{h}__year=9999&{h}__month=12&{h}__day=31",
    "{h}__year=2024&{h}__month=13",
    "{h}__year=2024&{h}__month=0",
    "{h}__year=2024&{h}__month=-3",
    "{h}__year=2024&{h}__month=x",
    "{h}__year=2024&{h}__month=2&{h}__day=30",
    "{h}__year=2024&{h}__month=2&{h}__day=99999999999",
    "{h}__year=2024&{h}__day=5",
    "{h}__month=99999999999",
    "{h}__day=abc",
    "{h}__year=2024&{h}__year=99999999999",
    "{h}__gte=not-a-date",
    "{h}__lt=99999-99-99",
]

PER_FIELD = [
    "{f}=junk",
    "{f}=" + NUL,
    "{f}=99999999999999999999999999",
    "{f}=-1",
    "{f}=" + quote("²"),
    "{f}__in=a,b," + NUL,
    "{f}__in=1,99999999999999999999999999",
    "{f}__exact=junk",
    "{f}__isnull=junk",
    "{f}__gt=junk",
    "{f}__year=99999999999",
    "{f}__nosuchlookup=1",
    "{f}__id__exact=not-a-uuid",
]

EVERYWHERE = [
    "nosuchfield=1",
    NUL + "=1",
    "o=junk",
    "o=99999999999999999999",
    "o=-1.x.0",
    "p=junk",
    "p=99999999999999999999",
    "p=-1",
    "q=" + NUL,
    "q=a" + NUL + "b",
    "q=" + LONG,
    "q=" + MANY_WORDS,
    "q=" + quote("²³"),
    "all=&p=" + NUL,
    "_facets=1&nosuchfield=1",
    "_to_field=junk",
    "e=1",
    "pk=not-a-uuid",
    "id=not-a-uuid",
    "id__in=1,not-a-uuid",
    "id=99999999999999999999999999",
]


def _parameters(model_admin) -> set[str]:
    """The query-string names this admin's filters read."""
    names = set()
    for entry in model_admin.list_filter:
        if isinstance(entry, str):
            names.add(entry)
        elif isinstance(entry, (tuple, list)):
            names.add(entry[0])  # (field, FieldListFilter class)
        else:
            names.add(entry.parameter_name)  # a SimpleListFilter
    return names


def _hostile_queries(model_admin) -> list[str]:
    queries = list(EVERYWHERE)
    if model_admin.date_hierarchy:
        queries += [q.format(h=model_admin.date_hierarchy) for q in DRILL_DOWNS]
    for name in sorted(_parameters(model_admin)):
        queries += [q.format(f=name) for q in PER_FIELD]
    return queries


def _changelists():
    # Every registered admin: a superuser may view them all.
    return [
        pytest.param(model, model_admin, id=model._meta.label)
        for model, model_admin in admin.site._registry.items()
    ]


@pytest.fixture
def some_of_everything(admin_client, staff_user):
    """A row in every table a changelist shows, so that each query is really run."""
    set_rule("foreign_country", score=55)
    card = CardFactory(balance_minor=10_000_000)
    flagged = authorize(card, merchant_country="FR", amount_minor=100_000)
    flagged.fraud_alert.assignee = staff_user
    flagged.fraud_alert.save(update_fields=["assignee"])
    fraud_report_create(transaction=flagged, reason="Cardholder disputes it", actor=TEST_ACTOR)
    make_api_client("manage")
    seen = {"user_agent": "pytest", "ip_address": "127.0.0.1", "username": "mallory", "path_info": "/"}
    AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=3)
    AccessFailureLog.objects.create(**seen)
    AccessLog.objects.create(**seen)


@pytest.mark.parametrize(("model", "model_admin"), _changelists())
def test_every_changelist_answers_hostile_query_strings_without_a_server_error(
    admin_client, some_of_everything, model, model_admin
):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    before = written()
    failures = []
    for query in _hostile_queries(model_admin):
        # The default test client re-raises a view's exception: a 500 fails with its traceback.
        response = admin_client.get(f"{url}?{query}")
        if response.status_code not in ANSWERED:
            failures.append((query[:60], response.status_code))
    assert failures == []
    assert written() == before


def test_every_registered_admin_guards_its_changelist():
    unguarded = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not issubclass(model_admin.get_changelist(None), ChangeListGuard)
    ]
    assert unguarded == []


@pytest.mark.parametrize(
    ("changelist", "query"),
    [
        ("cardsystem_auditlog", "created_at__year=99999999999"),
        ("cardsystem_auditlog", "created_at__year=9999&created_at__month=12"),
        ("transactions_transaction", "transaction_time__year=9999"),
        ("transactions_transaction", "transaction_time__year=9999&transaction_time__month=12"),
        ("transactions_fraudreport", "reported_at__year=9999&reported_at__month=12&reported_at__day=31"),
        ("transactions_fraudreport", "reported_at__year=99999999999"),
    ],
)
def test_an_absurd_date_drill_down_leads_to_the_error_page_and_writes_nothing(
    admin_client, some_of_everything, changelist, query
):
    url = reverse(f"admin:{changelist}_changelist")
    before = written()

    response = admin_client.get(f"{url}?{query}")

    assert response.status_code == 302
    assert response.url == f"{url}?e=1"
    page = admin_client.get(response.url)
    assert page.status_code == 200
    assert CANNOT_APPLY in [str(m) for m in page.context["messages"]]
    assert written() == before


def test_the_last_whole_year_a_drill_down_can_show_is_a_page(admin_client, some_of_everything):
    url = reverse("admin:transactions_transaction_changelist")

    response = admin_client.get(f"{url}?transaction_time__year=9998&transaction_time__month=12")

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_a_search_with_a_nul_byte_is_a_bad_request(admin_client, some_of_everything):
    url = reverse("admin:cardsystem_auditlog_changelist")

    response = admin_client.get(f"{url}?q=card{NUL}")

    assert response.status_code == 400


def test_a_search_of_a_paragraph_leads_to_the_error_page(admin_client, some_of_everything):
    url = reverse("admin:cardsystem_auditlog_changelist")

    response = admin_client.get(f"{url}?q={MANY_WORDS}")

    assert response.status_code == 302
    assert response.url == f"{url}?e=1"


def test_a_search_of_a_few_words_still_searches(admin_client, some_of_everything):
    url = reverse("admin:cardsystem_auditlog_changelist")

    response = admin_client.get(f"{url}?q=" + quote(" ".join(["nobody"] * 20)))

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_a_sensible_drill_down_still_finds_its_rows(admin_client, some_of_everything):
    url = reverse("admin:transactions_transaction_changelist")
    txn = Transaction.objects.get()
    when = txn.transaction_time

    response = admin_client.get(
        f"{url}?transaction_time__year={when.year}&transaction_time__month={when.month}"
        f"&transaction_time__day={when.day}"
    )

    assert response.status_code == 200
    assert txn in list(response.context["cl"].result_list)
