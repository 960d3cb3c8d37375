"""Four eyes on the fraud strategy: promoting a configuration version (a rollback too) and
activating a model from the admin are requests; nothing changes for decisions until a
second fraud manager approves; a rejected, self-approved or stale request changes
nothing. Deactivating a model is the kill switch: immediate, audited, not held."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from cardsystem.audit import Actor
from cardsystem.change_requests import change_request_approve
from cardsystem.exceptions import ConflictError
from cardsystem.models import AuditLog, ChangeRequest
from cardsystem.roles import FRAUD_ANALYST, FRAUD_MANAGER
from fraud import inference
from fraud.change_kinds import CONFIG_PROMOTE, MODEL_ACTIVATE
from fraud.models import FraudConfigVersion, FraudModel, Rule
from fraud.services import model_activate
from fraud.versions import config_version_create, config_version_promote, live_version
from tests.admin_pages import change_url
from tests.authorizing import authorize, codes
from tests.factories import TEST_ACTOR, staff_with_roles
from tests.fraud import four_eyes
from tests.fraud.configuration import TESTS
from tests.fraud.modelling import history, train

pytestmark = pytest.mark.django_db
Action = AuditLog.Action
Pending = ChangeRequest.Status.PENDING


def promote_url(version) -> str:
    return reverse("admin:fraud_fraudconfigversion_promote", args=[version.pk])


def activate_url(model) -> str:
    return reverse("admin:fraud_fraudmodel_activate", args=[model.pk])


@pytest.fixture
def maker(client):
    user = staff_with_roles(FRAUD_MANAGER, username="maker")
    client.force_login(user)
    return user


@pytest.fixture
def checker():
    return four_eyes.second_manager()


@pytest.fixture
def draft(db):
    """Version 2, a draft without the "abroad" rule; version 1 (the migration's) is live."""
    Rule.objects.filter(code="foreign_country").update(enabled=False)
    return config_version_create(actor=TESTS, reason="Abroad is no risk on its own.")


@pytest.fixture
def trained(card):
    history(card)
    return train()


def request_promotion(client, version, reason="Fewer false declines abroad.") -> ChangeRequest:
    response = client.post(promote_url(version), {"reason": reason})
    assert response.status_code == 302, response.context and response.context["form"].errors
    return four_eyes.pending(CONFIG_PROMOTE)


def decided_by(card) -> tuple[int, bool]:
    """The version that made the next decision, and whether the "abroad" rule fired."""
    txn = authorize(card, merchant_country="FR")
    return txn.risk_config_version, "foreign_country" in codes(txn)


# --- Promotion -----------------------------------------------------------------------------------


def test_a_promotion_request_leaves_the_live_version_and_the_next_decision_unchanged(
    client, maker, draft, card
):
    response = client.post(promote_url(draft), {"reason": "Fewer false declines abroad."}, follow=True)

    body = response.content.decode()
    assert "Promote fraud configuration version 2 (replacing live version 1): held for a second" in body
    assert "nothing happens before it is approved" in body
    assert decided_by(card) == (1, True)
    draft.refresh_from_db()
    assert draft.state == FraudConfigVersion.State.DRAFT and live_version().number == 1
    page = client.get(change_url(draft)).content.decode()
    assert "Promotion requested" in page and "maker" in page and promote_url(draft) not in page
    requested = AuditLog.objects.get(action=Action.CHANGE_REQUESTED)
    assert requested.actor_user == maker and requested.details["reason"] == "Fewer false declines abroad."
    assert not AuditLog.objects.filter(action=Action.CONFIG_VERSION_PROMOTED).exists()


def test_a_second_request_to_promote_the_same_version_is_refused_while_one_waits(client, maker, draft):
    request_promotion(client, draft)
    other = staff_with_roles(FRAUD_MANAGER, username="other")
    second = Client()
    second.force_login(other)

    response = second.post(promote_url(draft), {"reason": "Me too."})

    assert response.status_code == 200
    assert "already requested by maker" in str(response.context["form"].non_field_errors())
    assert ChangeRequest.objects.count() == 1


def test_a_rejected_promotion_changes_nothing(client, maker, checker, draft, card):
    request_promotion(client, draft)

    rejected = four_eyes.reject(CONFIG_PROMOTE, by=checker, note="Not before the holidays.")

    assert ChangeRequest.objects.get(pk=rejected.pk).status == ChangeRequest.Status.REJECTED
    assert decided_by(card) == (1, True)
    draft.refresh_from_db()
    assert draft.state == FraudConfigVersion.State.DRAFT and draft.promoted_by == ""
    assert not AuditLog.objects.filter(action=Action.CONFIG_VERSION_PROMOTED).exists()
    assert AuditLog.objects.get(action=Action.CHANGE_REJECTED).details["rejected_by"] == "checker"
    # Decided: the version may be asked for again.
    assert request_promotion(client, draft).pk != rejected.pk


def test_an_approved_promotion_goes_live_and_the_audit_names_both_people(client, maker, checker, draft, card):
    change = request_promotion(client, draft)

    four_eyes.approve(CONFIG_PROMOTE, by=checker)

    assert decided_by(card) == (2, False)
    draft.refresh_from_db()
    assert draft.state == FraudConfigVersion.State.LIVE and draft.promoted_by == "checker"
    promoted = AuditLog.objects.get(action=Action.CONFIG_VERSION_PROMOTED)
    assert promoted.actor_user == checker
    assert promoted.details["requested_by"] == "maker"
    assert promoted.details["reason"] == "Fewer false declines abroad."
    approved = AuditLog.objects.get(action=Action.CHANGE_APPROVED)
    assert (approved.details["requested_by"], approved.details["approved_by"]) == ("maker", "checker")
    stored = ChangeRequest.objects.get(pk=change.pk)
    assert stored.status == ChangeRequest.Status.APPROVED and stored.result == {"version": 2, "replaced": 1}
    assert "Promotion requested" not in client.get(change_url(draft)).content.decode()


def test_nobody_approves_their_own_promotion_nor_without_the_approver_permission(client, maker, draft, card):
    change = request_promotion(client, draft)
    analyst = staff_with_roles(FRAUD_ANALYST, username="analyst2")

    for person in (maker, analyst):
        with pytest.raises(PermissionDenied):
            change_request_approve(request=change, actor=Actor.for_user(person))

    assert ChangeRequest.objects.get(pk=change.pk).status == Pending
    assert decided_by(card) == (1, True)
    assert not AuditLog.objects.filter(action=Action.CHANGE_APPROVED).exists()


def test_a_version_promoted_meanwhile_by_another_path_makes_the_approval_a_conflict(
    client, maker, checker, draft
):
    change = request_promotion(client, draft)
    config_version_promote(version=draft, actor=TESTS, reason="An operator's rollout.")

    with pytest.raises(ConflictError, match="already live") as error:
        four_eyes.approve(CONFIG_PROMOTE, by=checker)

    assert error.value.field == "version"
    assert ChangeRequest.objects.get(pk=change.pk).status == Pending
    assert not AuditLog.objects.filter(action=Action.CHANGE_APPROVED).exists()
    assert AuditLog.objects.filter(action=Action.CONFIG_VERSION_PROMOTED).count() == 1


def test_another_version_gone_live_since_the_request_makes_the_approval_a_conflict(
    client, maker, checker, draft
):
    change = request_promotion(client, draft)
    Rule.objects.filter(code="foreign_country").update(enabled=True, score=5)
    third = config_version_create(actor=TESTS, reason="Abroad counts a little.")
    config_version_promote(version=third, actor=TESTS, reason="An operator's rollout.")

    with pytest.raises(ConflictError, match="Version 3 went live after this request"):
        four_eyes.approve(CONFIG_PROMOTE, by=checker)

    assert ChangeRequest.objects.get(pk=change.pk).status == Pending
    assert live_version().number == 3
    draft.refresh_from_db()
    assert draft.state == FraudConfigVersion.State.DRAFT


def test_a_rollback_is_a_request_too_and_goes_live_once_approved(client, maker, checker, draft, card):
    config_version_promote(version=draft, actor=TESTS, reason="Rolled out.")
    first = FraudConfigVersion.objects.get(number=1)
    assert "Roll back to version 1" in client.get(change_url(first)).content.decode()

    change = request_promotion(client, first, reason="Reviews went up.")

    assert change.summary == "Roll back to fraud configuration version 1 (replacing live version 2)"
    assert decided_by(card) == (2, False)
    four_eyes.approve(CONFIG_PROMOTE, by=checker)
    assert decided_by(card) == (1, True)
    rollback = AuditLog.objects.filter(action=Action.CONFIG_VERSION_PROMOTED).latest("id")
    assert rollback.details["rollback"] and rollback.details["requested_by"] == "maker"


# --- Model activation ----------------------------------------------------------------------------


def test_activating_a_model_from_its_page_is_held_until_approved(client, maker, checker, trained):
    versions = FraudConfigVersion.objects.count()

    response = client.post(activate_url(trained), {"reason": "Better recall on the holdout."}, follow=True)

    assert (
        "Activate fraud model v1 (it then scores every decision): held for a second"
        in response.content.decode()
    )
    trained.refresh_from_db()
    assert not trained.active and live_version().model_id is None and inference.active_model() is None
    assert FraudConfigVersion.objects.count() == versions
    page = client.get(change_url(trained)).content.decode()
    assert "Activation requested" in page and activate_url(trained) not in page
    refused = client.post(activate_url(trained), {"reason": "Again."})
    assert refused.status_code == 200 and "already requested by maker" in refused.content.decode()

    four_eyes.approve(MODEL_ACTIVATE, by=checker)

    trained.refresh_from_db()
    live = live_version()
    assert trained.active and live.model == trained and inference.active_model().version == 1
    assert live.promoted_by == "checker" and "requested by maker, approved by checker" in live.reason
    assert AuditLog.objects.get(action=Action.MODEL_ACTIVATED).actor_user == checker


def test_the_bulk_action_leads_to_the_request_page(client, maker, trained):
    changelist = reverse("admin:fraud_fraudmodel_changelist")

    response = client.post(changelist, {"action": "activate", "_selected_action": [trained.pk]})

    assert response.status_code == 302 and response.url == activate_url(trained)
    trained.refresh_from_db()
    assert not trained.active and not ChangeRequest.objects.exists()


def test_a_rejected_activation_leaves_the_rules_alone_deciding(client, maker, checker, trained):
    client.post(activate_url(trained), {"reason": "Better recall on the holdout."})
    versions = FraudConfigVersion.objects.count()

    four_eyes.reject(MODEL_ACTIVATE, by=checker)

    trained.refresh_from_db()
    assert not trained.active and live_version().model_id is None and inference.active_model() is None
    assert FraudConfigVersion.objects.count() == versions
    assert not AuditLog.objects.filter(action=Action.MODEL_ACTIVATED).exists()


def test_a_model_activated_meanwhile_makes_the_approval_a_conflict(client, maker, checker, trained):
    client.post(activate_url(trained), {"reason": "Better recall on the holdout."})
    change = four_eyes.pending(MODEL_ACTIVATE)
    model_activate(model=trained, actor=TEST_ACTOR)  # an operator's train_model --activate

    with pytest.raises(ConflictError, match="already active"):
        four_eyes.approve(MODEL_ACTIVATE, by=checker)

    assert ChangeRequest.objects.get(pk=change.pk).status == Pending
    assert AuditLog.objects.filter(action=Action.MODEL_ACTIVATED).count() == 1


def test_deactivation_is_the_kill_switch_immediate_and_audited(client, maker, trained):
    model_activate(model=trained, actor=TEST_ACTOR)
    page = client.get(change_url(trained)).content.decode()
    assert "The kill switch" in page

    response = client.post(reverse("admin:fraud_fraudmodel_deactivate", args=[trained.pk]))

    assert response.status_code == 302
    trained.refresh_from_db()
    assert not trained.active and live_version().model_id is None and inference.active_model() is None
    assert AuditLog.objects.get(action=Action.MODEL_DEACTIVATED).actor_user == maker
    assert not ChangeRequest.objects.exists()
    assert FraudModel.objects.filter(active=True).count() == 0
