"""The fraud configuration's versions in the back office: the working copy's pages say
they decide nothing; saving the working copy as a draft, the version page's differences,
promotion and rollback, and copying a version back into the working copy, each audited."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from cardsystem.models import AuditLog
from fraud.change_kinds import CONFIG_PROMOTE
from fraud.models import CountryRisk, FraudConfigVersion, FraudSettings, Rule
from tests.admin_pages import change_url
from tests.authorizing import authorize, codes
from tests.factories import UserFactory
from tests.fraud import four_eyes
from tests.fraud.four_eyes import second_manager

pytestmark = pytest.mark.django_db

VERSIONS = reverse("admin:fraud_fraudconfigversion_changelist")
SAVE_DRAFT = reverse("admin:fraud_fraudconfigversion_save_draft")
Action = AuditLog.Action


def promote_url(version):
    return reverse("admin:fraud_fraudconfigversion_promote", args=[version.pk])


def edit_from_url(version):
    return reverse("admin:fraud_fraudconfigversion_edit_from", args=[version.pk])


def switch_off_abroad(admin_client):
    rule = Rule.objects.get(code="foreign_country")
    data = {"score": str(rule.score), "params": "{}"}  # "enabled" left out: unticked
    assert admin_client.post(change_url(rule), data).status_code == 302


def save_draft(admin_client, reason="Abroad is no risk on its own."):
    response = admin_client.post(SAVE_DRAFT, {"reason": reason})
    assert response.status_code == 302, response.context and response.context["form"].errors
    return FraudConfigVersion.objects.get(number=FraudConfigVersion.objects.count())


def test_the_working_copy_pages_say_they_decide_nothing_and_count_the_differences(admin_client):
    page = admin_client.get(reverse("admin:fraud_rule_changelist")).content.decode()
    assert "Working copy: changes here decide nothing" in page and "version 1</a>" in page
    assert "differs from it in 0 places" in page
    switch_off_abroad(admin_client)
    page = admin_client.get(change_url(FraudSettings.objects.get())).content.decode()
    assert "differs from it in 1 place." in page and SAVE_DRAFT in page


def test_saving_the_working_copy_shows_its_changes_then_makes_a_draft_that_decides_nothing(
    admin_client, staff_user, card
):
    switch_off_abroad(admin_client)
    CountryRisk.objects.create(country="NG", level="high_risk")

    preview = admin_client.get(SAVE_DRAFT).content.decode()
    assert "The working copy against the live version 1" in preview
    assert "foreign_country" in preview and "switched off" in preview and "NG" in preview
    draft = save_draft(admin_client)

    assert (draft.number, draft.state, draft.created_by, draft.based_on.number) == (2, "draft", "analyst", 1)
    audit = AuditLog.objects.get(action=Action.CONFIG_VERSION_CREATED)
    assert (audit.actor_user, audit.target_id, len(audit.details["changes"])) == (
        staff_user,
        str(draft.pk),
        2,
    )
    assert "foreign_country" in codes(authorize(card, merchant_country="FR"))  # still version 1


def test_a_draft_needs_a_reason_and_a_difference(admin_client):
    response = admin_client.post(SAVE_DRAFT, {"reason": ""})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    response = admin_client.post(SAVE_DRAFT, {"reason": "Nothing changed."})
    assert "live version 1: nothing to save" in str(response.context["form"].non_field_errors())
    assert FraudConfigVersion.objects.count() == 1


def test_the_version_page_is_read_only_and_shows_its_changes_and_the_live_difference(admin_client):
    switch_off_abroad(admin_client)
    draft = save_draft(admin_client)

    page = admin_client.get(change_url(draft))

    body = page.content.decode()
    assert page.status_code == 200 and 'name="_save"' not in body
    assert "Changes from the version it was based on" in body and "switched off" in body
    assert "From the live version 1 to this one" in body
    assert "Promote: make it live" in body and promote_url(draft) in body
    assert admin_client.post(change_url(draft), {"reason": "edited"}).status_code == 403
    assert admin_client.get(reverse("admin:fraud_fraudconfigversion_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:fraud_fraudconfigversion_delete", args=[draft.pk])).status_code == 403
    )
    listing = admin_client.get(VERSIONS)
    assert (
        "Abroad is no risk on its own." in listing.content.decode() and SAVE_DRAFT in listing.content.decode()
    )
    rows = {row.number: row for row in listing.context["cl"].result_list}
    assert listing.context["cl"].model_admin.changes_count(rows[2]) == 1


def test_promotion_and_rollback_from_the_admin_change_the_next_decision_with_audit_rows(
    admin_client, staff_user, card
):
    switch_off_abroad(admin_client)
    draft = save_draft(admin_client)
    first = FraudConfigVersion.objects.get(number=1)

    preview = admin_client.get(promote_url(draft)).content.decode()
    assert "What changes for decisions: version 1 (live) against version 2" in preview
    assert admin_client.post(promote_url(draft), {"reason": ""}).status_code == 200  # a reason is required
    assert admin_client.post(promote_url(draft), {"reason": "Approved."}).status_code == 302
    # Held: the live version decides until a second person approves.
    assert authorize(card, merchant_country="FR").risk_config_version == 1
    checker = second_manager()
    four_eyes.approve(CONFIG_PROMOTE, by=checker)

    decided = authorize(card, merchant_country="FR")
    assert "foreign_country" not in codes(decided) and decided.risk_config_version == 2
    assert "Roll back to version 1" in admin_client.get(change_url(first)).content.decode()

    assert admin_client.post(promote_url(first), {"reason": "Reviews went up."}).status_code == 302
    four_eyes.approve(CONFIG_PROMOTE, by=checker)

    decided = authorize(card, merchant_country="FR")
    assert "foreign_country" in codes(decided) and decided.risk_config_version == 1
    promotions = AuditLog.objects.filter(action=Action.CONFIG_VERSION_PROMOTED).order_by("id")
    assert [
        (a.actor_user, a.details["requested_by"], a.details["number"], a.details["rollback"])
        for a in promotions
    ] == [
        (checker, staff_user.username, 2, False),
        (checker, staff_user.username, 1, True),
    ]
    assert list(FraudConfigVersion.objects.values_list("number", "state")) == [(2, "retired"), (1, "live")]


def test_editing_from_a_version_replaces_the_working_copy_only(admin_client, card):
    switch_off_abroad(admin_client)
    CountryRisk.objects.filter(country="KP").delete()
    first = FraudConfigVersion.objects.get(number=1)
    preview = admin_client.get(edit_from_url(first)).content.decode()
    assert "What the working copy loses" in preview and "switched on" in preview

    assert admin_client.post(edit_from_url(first), {"reason": "Start again from 1."}).status_code == 302

    assert (
        Rule.objects.get(code="foreign_country").enabled and CountryRisk.objects.filter(country="KP").exists()
    )
    audit = AuditLog.objects.get(action=Action.CONFIG_WORKING_COPY_RESET)
    assert {c["item"] for c in audit.details["changes"]} == {"foreign_country", "KP"}
    assert FraudConfigVersion.objects.count() == 1


def test_a_viewer_reads_versions_but_neither_saves_nor_promotes(client, admin_client):
    switch_off_abroad(admin_client)
    draft = save_draft(admin_client)
    viewer = UserFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_fraudconfigversion"))
    client.force_login(viewer)

    body = client.get(change_url(draft)).content.decode()

    assert "switched off" in body and promote_url(draft) not in body
    assert client.post(promote_url(draft), {"reason": "Mine."}).status_code == 403
    assert client.post(SAVE_DRAFT, {"reason": "Mine."}).status_code == 403
    assert client.post(edit_from_url(draft), {"reason": "Mine."}).status_code == 403
    assert FraudConfigVersion.objects.get(state="live").number == 1
