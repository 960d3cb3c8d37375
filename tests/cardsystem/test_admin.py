import datetime

import pytest
from django.urls import reverse

from cardsystem.audit import Actor, audit_record
from cardsystem.change_requests import change_request_approve
from cardsystem.models import ApiClient, AuditLog, ChangeRequest
from cardsystem.services import api_client_for_key, hash_api_key
from tests.factories import CardFactory, UserFactory, make_api_client

pytestmark = pytest.mark.django_db

CLIENTS = reverse("admin:cardsystem_apiclient_changelist")
ADD_CLIENT = reverse("admin:cardsystem_apiclient_add")
AUDIT = reverse("admin:cardsystem_auditlog_changelist")


def audit_rows():
    return AuditLog.objects.exclude(action=AuditLog.Action.LOGIN).count()


def test_back_office_is_branded_and_closed_to_anonymous_visitors(client, admin_client):
    assert "cardsystem back office" in admin_client.get(reverse("admin:index")).content.decode()
    client.logout()
    response = client.get(reverse("admin:cards_card_changelist"))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


# --- API clients ---------------------------------------------------------------------------------------


def test_requests_an_api_client_shows_its_key_once_and_it_works_from_the_approval(admin_client, staff_user):
    response = admin_client.post(
        ADD_CLIENT,
        {"name": "Acquirer gateway", "scopes": ["authorize", "manage"], "reason": "New acquirer contract"},
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    key = response.context["key"]
    assert response.content.decode().count(key) == 1
    assert not ApiClient.objects.exists() and api_client_for_key(key) is None
    request = ChangeRequest.objects.get(kind="api_client_create", status="pending")
    assert request.params["key_hash"] == hash_api_key(key) and key not in str(request.params)
    assert key not in str(list(AuditLog.objects.values_list("details", flat=True)))
    assert key not in str(dict(admin_client.session.items()))

    checker = UserFactory(username="checker")
    change_request_approve(request=request, actor=Actor.for_user(checker))
    client = ApiClient.objects.get(name="Acquirer gateway")
    assert client.key_hash == hash_api_key(key) and api_client_for_key(key) == client
    assert client.scopes == ["authorize", "manage"]
    audit = AuditLog.objects.get(action=AuditLog.Action.API_CLIENT_CREATED)
    assert audit.actor_user == checker and key not in str(audit.details)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "Gateway"}, "scopes"),
        ({"name": "Gateway", "scopes": ["everything"]}, "scopes"),
        ({"name": "", "scopes": ["manage"]}, "name"),
        ({"name": "   ", "scopes": ["manage"]}, "name"),
        ({"name": "x" * 101, "scopes": ["manage"]}, "name"),
        ({"name": "Taken", "scopes": ["manage"]}, "name"),
        ({"name": "Gateway", "scopes": ["manage"], "reason": ""}, "reason"),
        ({"name": "Gateway", "scopes": ["manage"], "reason": "   "}, "reason"),
    ],
)
def test_rejects_bad_api_client_on_its_field_and_writes_nothing(admin_client, data, field):
    make_api_client("manage", name="Taken")
    before = ApiClient.objects.count(), ChangeRequest.objects.count(), audit_rows()
    response = admin_client.post(ADD_CLIENT, {"reason": "Needed for the test", **data})
    assert response.status_code == 200 and field in response.context["form"].errors
    assert "key" not in response.context
    assert (ApiClient.objects.count(), ChangeRequest.objects.count(), audit_rows()) == before


def test_api_client_pages_never_show_the_key_or_its_hash(admin_client):
    client, key = make_api_client("manage", name="Reporting")
    pages = [CLIENTS, reverse("admin:cardsystem_apiclient_change", args=[client.pk])]
    for page in pages:
        html = admin_client.get(page).content.decode()
        assert client.key_prefix in html and "Reporting" in html
        assert key not in html and client.key_hash not in html


def test_api_client_page_is_read_only(admin_client):
    client, _ = make_api_client("manage", name="Reporting")
    change = reverse("admin:cardsystem_apiclient_change", args=[client.pk])
    assert admin_client.get(change).context["title"].startswith("View")
    assert admin_client.post(change, {"name": "Renamed", "scopes": "[]"}).status_code == 403
    delete = reverse("admin:cardsystem_apiclient_delete", args=[client.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    client.refresh_from_db()
    assert client.name == "Reporting"


def test_revoke_action_revokes_through_the_service(admin_client):
    (revoked, key), (kept, _) = make_api_client("manage", name="Old"), make_api_client("manage", name="New")
    response = admin_client.post(CLIENTS, {"action": "revoke", "_selected_action": [revoked.pk]}, follow=True)
    revoked.refresh_from_db()
    kept.refresh_from_db()
    assert not revoked.is_active and revoked.revoked_at is not None and kept.is_active
    assert api_client_for_key(key) is None
    assert AuditLog.objects.filter(action=AuditLog.Action.API_CLIENT_REVOKED).count() == 1
    assert "Revoked 1 API client(s)" in response.content.decode()


def test_revoking_an_already_revoked_client_writes_nothing(admin_client):
    client, _ = make_api_client("manage", name="Old")
    admin_client.post(CLIENTS, {"action": "revoke", "_selected_action": [client.pk]})
    before = audit_rows()
    admin_client.post(CLIENTS, {"action": "revoke", "_selected_action": [client.pk]})
    assert audit_rows() == before


# --- Audit log -------------------------------------------------------------------------------------------


def test_audit_log_cannot_be_added_changed_or_deleted(admin_client):
    row = AuditLog.objects.first()  # the admin_client's login
    change = reverse("admin:cardsystem_auditlog_change", args=[row.pk])
    assert admin_client.get(reverse("admin:cardsystem_auditlog_add")).status_code == 403
    assert admin_client.get(change).context["title"].startswith("View")
    assert admin_client.post(change, {"actor_label": "someone else"}).status_code == 403
    assert admin_client.post(reverse("admin:cardsystem_auditlog_delete", args=[row.pk])).status_code == 403
    actions = admin_client.get(AUDIT).context["action_form"]
    assert actions is None or "delete_selected" not in dict(actions.fields["action"].choices)
    row.refresh_from_db()
    assert row.actor_label == "analyst"


def test_audit_log_lists_who_did_what_to_which_card(admin_client):
    card = CardFactory()
    html = admin_client.get(AUDIT).content.decode()
    assert "card issued" in html and card.masked_pan in html
    assert reverse("admin:cards_card_change", args=[card.pk]) in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action__exact": "card.issued"}, {"card.issued"}),
        ({"actor_type__exact": "user"}, {"auth.login"}),
        ({"q": "analyst"}, {"auth.login", "staff.created"}),  # by them, and their creation
        ({"q": "tests"}, {"card.issued"}),
    ],
)
def test_audit_log_filters_and_searches(admin_client, query, expected):
    CardFactory()
    rows = admin_client.get(AUDIT, query).context["cl"].result_list
    assert {row.action for row in rows} == expected


def test_audit_log_searches_by_target_id(admin_client):
    card = CardFactory()
    CardFactory()
    rows = admin_client.get(AUDIT, {"q": str(card.pk)}).context["cl"].result_list
    assert [row.target_id for row in rows] == [str(card.pk)]


def test_audit_log_drills_down_by_date(admin_client):
    old = audit_record(actor=Actor.system("tests"), action=AuditLog.Action.BINS_IMPORTED, target_label="old")
    AuditLog.objects.filter(pk=old.pk).update(created_at=datetime.datetime(2020, 5, 1, tzinfo=datetime.UTC))
    page = admin_client.get(AUDIT, {"created_at__year": "2020"})
    assert [row.pk for row in page.context["cl"].result_list] == [old.pk]
    assert "2020" in page.content.decode()
