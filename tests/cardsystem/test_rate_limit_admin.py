"""Staff set each API client's request rate per scope: the admin page, the service's checks
and the audit trail."""

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.urls import reverse

from cardsystem.audit import Actor
from cardsystem.models import ApiClient, AuditLog
from cardsystem.services import api_client_set_rate_limits
from tests.commands import counts
from tests.factories import UserFactory, make_api_client

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("tests")
CHANGED = AuditLog.Action.API_CLIENT_RATE_LIMITS_CHANGED


def rates_url(client):
    return reverse("admin:cardsystem_apiclient_rate_limits", args=[client.pk])


def change_url(client):
    return reverse("admin:cardsystem_apiclient_change", args=[client.pk])


def changes():
    return list(AuditLog.objects.filter(action=CHANGED))


def test_the_client_page_shows_its_rates_and_links_to_the_rate_page(admin_client):
    client, _ = make_api_client("authorize", "manage", name="Gateway")
    api_client_set_rate_limits(client=client, rate_limits={"authorize": "50/s"}, actor=ACTOR)

    html = admin_client.get(change_url(client)).content.decode()

    assert rates_url(client) in html
    assert "authorize 50/second" in html


def test_the_rate_page_has_a_field_per_scope_of_the_client_with_its_rate(admin_client):
    client, _ = make_api_client("authorize", name="Gateway")
    api_client_set_rate_limits(client=client, rate_limits={"authorize": "20/minute"}, actor=ACTOR)

    form = admin_client.get(rates_url(client)).context["form"]

    assert list(form.fields) == ["authorize"]
    assert form["authorize"].value() == "20/minute"


def test_admin_sets_rates_normalised_and_audited(admin_client, staff_user):
    client, _ = make_api_client("authorize", "manage", name="Gateway")

    response = admin_client.post(rates_url(client), {"authorize": " 50 / sec ", "manage": "600/min"})

    assert response.status_code == 302 and response["Location"] == change_url(client)
    client.refresh_from_db()
    assert client.rate_limits == {"authorize": "50/second", "manage": "600/minute"}
    (row,) = changes()
    assert row.actor_user == staff_user and row.target_id == str(client.pk)
    assert row.details == {"before": {}, "after": {"authorize": "50/second", "manage": "600/minute"}}


def test_admin_removes_a_rate_by_emptying_its_field(admin_client):
    client, _ = make_api_client("authorize", "manage", name="Gateway")
    api_client_set_rate_limits(
        client=client, rate_limits={"authorize": "50/second", "manage": "5/hour"}, actor=ACTOR
    )

    admin_client.post(rates_url(client), {"authorize": "", "manage": "5/hour"})

    client.refresh_from_db()
    assert client.rate_limits == {"manage": "5/hour"}
    assert changes()[0].details == {
        "before": {"authorize": "50/second", "manage": "5/hour"},
        "after": {"manage": "5/hour"},
    }


def test_saving_the_same_rates_writes_nothing(admin_client):
    client, _ = make_api_client("manage", name="Gateway")
    api_client_set_rate_limits(client=client, rate_limits={"manage": "5/hour"}, actor=ACTOR)
    before = counts()

    admin_client.post(rates_url(client), {"manage": "5/h"})

    assert counts() == before


BAD_RATES = [
    ("fast", 'Give a number of requests per second, minute or hour, such as "50/second".'),
    ("50", 'Give a number of requests per second, minute or hour, such as "50/second".'),
    ("50/day", 'Give a number of requests per second, minute or hour, such as "50/second".'),
    ("-5/second", 'Give a number of requests per second, minute or hour, such as "50/second".'),
    ("1.5/second", 'Give a number of requests per second, minute or hour, such as "50/second".'),
    ("\uff15/second", 'Give a number of requests per second, minute or hour, such as "50/second".'),
    ("0/second", "Give from 1 to 1,000,000 requests; leave it empty for no limit."),
    ("1000001/hour", "Give from 1 to 1,000,000 requests; leave it empty for no limit."),
]


@pytest.mark.parametrize(("rate", "message"), BAD_RATES)
def test_admin_refuses_a_bad_rate_on_its_field_and_writes_nothing(admin_client, rate, message):
    client, _ = make_api_client("authorize", "manage", name="Gateway")
    before = counts(), ApiClient.objects.values().get()

    response = admin_client.post(rates_url(client), {"authorize": "10/second", "manage": rate})

    assert response.status_code == 200
    assert response.context["form"].errors == {"manage": [message]}
    assert (counts(), ApiClient.objects.values().get()) == before


def test_a_rate_over_the_field_length_is_refused_by_the_form(admin_client):
    client, _ = make_api_client("manage", name="Gateway")

    response = admin_client.post(rates_url(client), {"manage": "1" * 40 + "/second"})

    assert list(response.context["form"].errors) == ["manage"]
    assert ApiClient.objects.get().rate_limits == {}


@pytest.mark.parametrize(("rate", "message"), BAD_RATES)
def test_the_service_names_the_scope_of_a_bad_rate(rate, message):
    client, _ = make_api_client("manage")

    with pytest.raises(ValidationError) as raised:
        api_client_set_rate_limits(client=client, rate_limits={"manage": rate}, actor=ACTOR)

    assert raised.value.message_dict == {"manage": [message]}
    assert changes() == []


def test_the_service_refuses_a_rate_for_a_scope_the_client_does_not_have():
    client, _ = make_api_client("manage")

    with pytest.raises(ValidationError) as raised:
        api_client_set_rate_limits(client=client, rate_limits={"authorize": "5/second"}, actor=ACTOR)

    assert raised.value.message_dict == {"authorize": ["This client does not have the 'authorize' scope."]}
    assert ApiClient.objects.get().rate_limits == {} and changes() == []


def test_setting_rates_needs_the_change_permission(client):
    viewer = UserFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="cardsystem", codename="view_apiclient")
    )
    client.force_login(viewer)
    api_client, _ = make_api_client("manage", name="Gateway")

    page = client.get(change_url(api_client))
    assert page.status_code == 200 and rates_url(api_client) not in page.content.decode()
    assert client.get(rates_url(api_client)).status_code == 403
    assert client.post(rates_url(api_client), {"manage": "1/hour"}).status_code == 403
    assert ApiClient.objects.get().rate_limits == {} and changes() == []


@pytest.mark.parametrize("page", ["rate-limits", "rotate-key"])
@pytest.mark.parametrize("object_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_a_client_page_for_an_id_that_is_not_a_client_is_404(admin_client, page, object_id):
    assert admin_client.get(f"/admin/cardsystem/apiclient/{object_id}/{page}/").status_code == 404
    assert admin_client.post(f"/admin/cardsystem/apiclient/{object_id}/{page}/", {}).status_code == 404
