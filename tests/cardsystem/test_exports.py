"""The back office's CSV exports (cardsystem/exports.py), what every list's export shares:
the cells a spreadsheet cannot run, who may export which list (403 for the others, who
see no button), the audit log's own export, a streamed response whose query count does
not grow with its rows, and the list's answer to a query string it cannot apply (never a
500: the changelists' hostile walk, tests/cardsystem/test_admin_hostile_queries.py, on
their exports)."""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cardsystem.audit import AuditAction
from cardsystem.exports import Columns, cell, column, neutralised
from cardsystem.models import AuditLog
from cardsystem.roles import ADMINISTRATOR, AUDITOR, CARD_OPERATIONS, FRAUD_ANALYST, FRAUD_MANAGER
from tests.authorizing import authorize
from tests.cardsystem.test_admin_hostile_queries import (  # the changelists' own walk, on their exports
    ANSWERED,
    _hostile_queries,
    some_of_everything,  # noqa: F401 (a fixture)
)
from tests.exports import body_of, export_url, exported
from tests.factories import CardFactory, staff_with_roles
from tests.fraud.configuration import set_rule

pytestmark = pytest.mark.django_db

LISTS = ["transactions_transaction", "fraud_fraudalert", "fraud_case", "cardsystem_auditlog"]
AUDIT = "cardsystem_auditlog"


# --- Cells ----------------------------------------------------------------------------------------

FORMULAS = {
    "=1+1": "'=1+1",
    "+1": "'+1",
    "-1": "'-1",
    "@SUM(A1)": "'@SUM(A1)",
    "\tTAB": "'\tTAB",
    "\rCR": "'\rCR",
    "Corner Coffee": "Corner Coffee",
    "A=1": "A=1",
    "": "",
}


@pytest.mark.parametrize(("text", "written"), FORMULAS.items(), ids=list(map(repr, FORMULAS)))
def test_a_text_a_spreadsheet_would_run_gets_a_leading_apostrophe(text, written):
    assert neutralised(text) == written


CELLS = [
    (None, ""),
    (True, "yes"),
    (False, "no"),
    (42, 42),
    (datetime.datetime(2026, 3, 1, 13, 30, tzinfo=ZoneInfo("Europe/Paris")), "2026-03-01T12:30:00+00:00"),
    ({"b": 1, "a": "x"}, '{"a": "x", "b": 1}'),
    (["=cmd"], '["=cmd"]'),
    ("=cmd", "'=cmd"),
]


@pytest.mark.parametrize(("value", "written"), CELLS, ids=[repr(value) for value, _ in CELLS])
def test_cells_are_utc_times_yes_no_json_and_neutralised_text(value, written):
    assert cell(value) == written


def test_columns_read_each_field_once_and_write_what_their_function_returns():
    writer = Columns(
        [column("id"), column("amount", "amount_minor", "currency", write=lambda a, c: f"={a} {c}")]
    )

    assert writer.headers == ["id", "amount"]
    assert writer.fields == ["id", "amount_minor", "currency"]
    assert writer.cells((7, 4200, "USD")) == [7, "'=4200 USD"]


# --- Who may export ---------------------------------------------------------------------------------

MAY_EXPORT = {
    FRAUD_ANALYST: {"transactions_transaction", "fraud_fraudalert", "fraud_case"},
    FRAUD_MANAGER: {"transactions_transaction", "fraud_fraudalert", "fraud_case"},
    CARD_OPERATIONS: {"transactions_transaction"},
    ADMINISTRATOR: set(),
    AUDITOR: set(LISTS),
}


@pytest.mark.parametrize("role", list(MAY_EXPORT))
@pytest.mark.parametrize("changelist", LISTS)
def test_each_role_exports_exactly_its_lists_and_sees_the_button_only_there(client, role, changelist):
    client.force_login(staff_with_roles(role))
    allowed = changelist in MAY_EXPORT[role]

    page = client.get(reverse(f"admin:{changelist}_changelist"))
    response = client.get(export_url(changelist))

    assert response.status_code == (200 if allowed else 403)
    assert (b"Export CSV" in page.content) == allowed
    assert AuditLog.objects.filter(action=AuditAction.LIST_EXPORTED).count() == (1 if allowed else 0)


def test_staff_who_may_view_a_list_but_not_export_it_are_refused(client):
    operations = staff_with_roles(CARD_OPERATIONS)  # reads the alert queue, exports none of it
    client.force_login(operations)
    assert client.get(reverse("admin:fraud_fraudalert_changelist")).status_code == 200

    assert client.get(export_url("fraud_fraudalert")).status_code == 403
    assert not AuditLog.objects.filter(action=AuditAction.LIST_EXPORTED).exists()


def test_without_logging_in_an_export_leads_to_the_login_page(client):
    response = client.get(export_url("transactions_transaction"))

    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


# --- The audit log's export -------------------------------------------------------------------------


@pytest.fixture
def auditor(client):
    client.force_login(staff_with_roles(AUDITOR, username="auditor"))
    return client


def test_the_auditor_exports_the_audit_log_filtered_and_searched(auditor):
    issued = [CardFactory(), CardFactory()]
    card_issued = AuditLog.objects.filter(action=AuditAction.CARD_ISSUED).order_by("-created_at", "-id")

    rows = exported(auditor, AUDIT, {"action__exact": AuditAction.CARD_ISSUED})
    searched = exported(auditor, AUDIT, {"q": issued[0].masked_pan[-4:]})

    assert [row["id"] for row in rows] == [str(pk) for pk in card_issued.values_list("pk", flat=True)]
    assert {row["target_label"] for row in rows} == {card.masked_pan for card in issued}
    assert rows[0]["action"] == "card.issued" and rows[0]["actor_label"] == "tests"
    assert issued[0].masked_pan in {row["target_label"] for row in searched}
    assert issued[1].masked_pan not in {row["target_label"] for row in searched}


def test_an_export_of_the_audit_log_is_itself_in_the_audit_log(auditor):
    response = auditor.get(export_url(AUDIT), {"action__exact": AuditAction.CARD_ISSUED})

    record = AuditLog.objects.get(action=AuditAction.LIST_EXPORTED)
    assert record.actor_label == "auditor" and record.target_label == "audit-log"
    assert record.details == {"list": "cardsystem.auditlog", "query": "action__exact=card.issued", "rows": 0}
    assert re.fullmatch(
        r'attachment; filename="audit-log-\d{8}T\d{6}Z\.csv"', response["Content-Disposition"]
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    assert body_of(response).splitlines()[0].startswith("id,created_at,action,")


@pytest.mark.parametrize(
    "query",
    ["created_at__year=99999999999", "created_at__year=2026&created_at__month=13", "nosuchfield=1"],
)
def test_a_query_the_list_cannot_apply_leads_back_to_the_list_and_exports_nothing(auditor, query):
    response = auditor.get(f"{export_url(AUDIT)}?{query}")

    assert response.status_code == 302
    assert response.url == reverse("admin:cardsystem_auditlog_changelist") + "?e=1"
    assert not AuditLog.objects.filter(action=AuditAction.LIST_EXPORTED).exists()


# --- Streamed, its queries bounded ------------------------------------------------------------------


def _flag_one_more():
    """One more row in every list: a card (audit rows), a flagged transaction, its alert and case."""
    authorize(CardFactory(balance_minor=10_000_000), merchant_country="FR", amount_minor=100_000)


@pytest.mark.parametrize("changelist", LISTS)
def test_an_export_streams_with_as_many_queries_for_many_rows_as_for_few(admin_client, changelist):
    set_rule("foreign_country", score=55)

    query = {"state": "all"} if changelist == "fraud_case" else {}

    def export():
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(export_url(changelist), query)
            assert response.streaming
            lines = body_of(response).count("\n")
        return len(queries), lines

    _flag_one_more()
    few_queries, few_lines = export()
    for _ in range(5):
        _flag_one_more()
    many_queries, many_lines = export()

    assert many_lines >= few_lines + 5
    assert many_queries == few_queries


@pytest.mark.usefixtures("some_of_everything")
@pytest.mark.parametrize("changelist", LISTS)
def test_every_export_answers_hostile_query_strings_without_a_server_error(admin_client, changelist):
    app_label, model_name = changelist.split("_", 1)
    model_admin = admin.site._registry[apps.get_model(app_label, model_name)]
    failures = []
    for query in _hostile_queries(model_admin):
        # The default test client re-raises a view's exception: a 500 fails with its traceback.
        response = admin_client.get(f"{export_url(changelist)}?{query}")
        if response.streaming:
            body_of(response)  # the rows are read only now: a query the database refuses fails here
        if response.status_code not in ANSWERED:
            failures.append((query[:60], response.status_code))
    assert failures == []
