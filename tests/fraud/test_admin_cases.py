"""The case queue and case page in the back office: unresolved cases, the most overdue
first; a case's alerts and thread; one form per step; a block asks for confirmation;
staff who may only view see no steps and are refused them."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from cards.models import Card
from fraud import cases
from fraud.models import Case
from tests.authorizing import authorize_at
from tests.factories import TEST_ACTOR, CardFactory, UserFactory
from tests.fraud.clock import NOW
from tests.fraud.configuration import set_rule

pytestmark = pytest.mark.django_db
authorize = authorize_at(NOW)
QUEUE = reverse("admin:fraud_case_changelist")


def step_url(case, step):
    return reverse(f"admin:fraud_case_{step}", args=[case.pk])


@pytest.fixture
def case(card):
    set_rule("foreign_country", score=55)
    authorize(card, merchant_country="FR", amount_minor=100_000)
    return Case.objects.get(card=card)


def test_the_queue_shows_unresolved_cases_most_overdue_first(admin_client, case):
    later = CardFactory(balance_minor=10_000_000)
    authorize(later, merchant_country="FR", amount_minor=100_000)
    later_case = Case.objects.get(card=later)
    Case.objects.filter(pk=case.pk).update(due_at=NOW - datetime.timedelta(hours=2))  # overdue
    done = CardFactory(balance_minor=10_000_000)
    authorize(done, merchant_country="FR", amount_minor=100_000)
    cases.case_resolve(case=Case.objects.get(card=done), resolution="false_positive", actor=TEST_ACTOR)

    response = admin_client.get(QUEUE)

    assert [c.pk for c in response.context["cl"].result_list] == [case.pk, later_case.pk]
    assert "overdue by 2" in response.content.decode()
    everything = admin_client.get(QUEUE, {"state": "all"}).context["cl"].result_list
    assert len(everything) == 3


def test_the_case_page_shows_its_alerts_thread_and_steps(admin_client, case):
    cases.case_comment(case=case, body="Called the cardholder.", actor=TEST_ACTOR)

    page = admin_client.get(reverse("admin:fraud_case_change", args=[case.pk])).content.decode()

    alert = case.alerts.get()
    assert reverse("admin:fraud_fraudalert_change", args=[alert.pk]) in page
    assert "Called the cardholder." in page and case.card.masked_pan in page
    for step in ("assign", "priority", "comment", "resolve"):
        assert step_url(case, step) in page


def test_assign_and_comment_through_their_forms_and_a_card_number_is_refused(
    admin_client, staff_user, case, card
):
    assert admin_client.post(step_url(case, "assign"), {"assignee": staff_user.pk}).status_code == 302
    assert admin_client.post(step_url(case, "comment"), {"body": "Looks like a skimmer."}).status_code == 302
    refused = admin_client.post(step_url(case, "comment"), {"body": f"the card {card.pan}"})

    case.refresh_from_db()
    assert case.assignee == staff_user and [c.body for c in case.comments.all()] == ["Looks like a skimmer."]
    assert refused.status_code == 200 and "card number" in str(refused.context["form"].errors["body"])


def test_resolving_with_a_block_asks_for_confirmation_first(admin_client, case):
    data = {"resolution": "confirmed_fraud", "note": "Skimmed.", "block_card": "on"}
    assert 'type="checkbox" name="block_card"' in admin_client.get(step_url(case, "resolve")).content.decode()

    asked = admin_client.post(step_url(case, "resolve"), data)

    case.refresh_from_db()
    assert asked.status_code == 200 and f"Block {case.card.masked_pan} and resolve" in asked.content.decode()
    assert not case.is_resolved and Card.objects.get(pk=case.card_id).status == Card.Status.ACTIVE

    confirmed = admin_client.post(step_url(case, "resolve"), {**data, "confirmed": "True"})

    case.refresh_from_db()
    assert confirmed.status_code == 302 and case.resolution == "confirmed_fraud"
    assert Card.objects.get(pk=case.card_id).status == Card.Status.BLOCKED
    again = admin_client.post(step_url(case, "resolve"), {"resolution": "false_positive"})
    assert again.status_code == 200 and "already resolved" in again.content.decode()


def test_a_viewer_sees_the_case_but_no_steps_and_is_refused_them(client, case):
    viewer = UserFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_case"]))
    client.force_login(viewer)

    page = client.get(reverse("admin:fraud_case_change", args=[case.pk])).content.decode()

    assert case.card.masked_pan in page and step_url(case, "resolve") not in page
    assert client.post(step_url(case, "resolve"), {"resolution": "false_positive"}).status_code == 403
    case.refresh_from_db()
    assert not case.is_resolved


def test_a_resolution_that_blocks_the_card_needs_the_block_permission(client, case):
    worker = UserFactory(username="worker", is_superuser=False)
    worker.user_permissions.set(Permission.objects.filter(codename__in=["view_case", "change_case"]))
    client.force_login(worker)

    form = client.get(step_url(case, "resolve")).content.decode()
    crafted = client.post(
        step_url(case, "resolve"),
        {"resolution": "confirmed_fraud", "block_card": "on", "confirmed": "True"},
    )

    assert 'type="checkbox" name="block_card"' not in form
    assert crafted.status_code == 403
    case.refresh_from_db()
    assert not case.is_resolved and Card.objects.get(pk=case.card_id).status == Card.Status.ACTIVE
    resolved = client.post(step_url(case, "resolve"), {"resolution": "confirmed_fraud", "note": "Skimmed."})
    case.refresh_from_db()
    assert resolved.status_code == 302 and case.resolution == "confirmed_fraud"
    assert Card.objects.get(pk=case.card_id).status == Card.Status.ACTIVE
