"""The roles in the fraud back office, one test each: what each may do there and what it
is refused, by the pages (buttons hidden) and by crafted requests (403, nothing written)."""

import pytest
from django.urls import reverse

from cards.models import Card
from cardsystem.models import ChangeRequest
from cardsystem.roles import ADMINISTRATOR, AUDITOR, CARD_OPERATIONS, FRAUD_ANALYST, FRAUD_MANAGER
from fraud.change_kinds import CONFIG_PROMOTE
from fraud.models import Case, FraudAlert, FraudConfigVersion, FraudModel, FraudSettings, Rule
from fraud.versions import config_version_create, live_version
from tests.admin_pages import change_url
from tests.authorizing import authorize
from tests.factories import CardFactory, staff_with_roles
from tests.fraud import four_eyes
from tests.fraud.configuration import TESTS

pytestmark = pytest.mark.django_db

ALERTS = reverse("admin:fraud_fraudalert_changelist")
RULES = reverse("admin:fraud_rule_changelist")
VERSIONS = reverse("admin:fraud_fraudconfigversion_changelist")
MODELS = reverse("admin:fraud_fraudmodel_changelist")
SAVE_DRAFT = reverse("admin:fraud_fraudconfigversion_save_draft")
PERFORMANCE = reverse("admin:fraud_rule_performance")


def url(name: str, obj) -> str:
    return reverse(f"admin:{name}", args=[obj.pk])


@pytest.fixture
def alert(high_risk_country) -> FraudAlert:
    txn = authorize(CardFactory(balance_minor=100_000_000), merchant_country="NG", mcc="7995")
    return FraudAlert.objects.get(transaction=txn)


@pytest.fixture
def draft(db) -> FraudConfigVersion:
    Rule.objects.filter(code="foreign_country").update(enabled=False)
    return config_version_create(actor=TESTS, reason="Abroad is no risk on its own.")


@pytest.fixture
def model(db) -> FraudModel:
    return FraudModel.objects.create(version=1, created_by="trainer", artifact="", features=[])


def logged_in(client, *roles, username="someone"):
    client.force_login(staff_with_roles(*roles, username=username))
    return client


def rule_edit(client):
    rule = Rule.objects.get(code="foreign_country")
    return rule, client.post(change_url(rule), {"enabled": "on", "score": "77", "params": "{}"})


def assert_refused_the_strategy(client, draft, model):
    """Config edits, drafts, shadow, backtests, promotion, activation: 403 and nothing written."""
    versions, live = FraudConfigVersion.objects.count(), live_version().number
    rule, edited = rule_edit(client)
    assert edited.status_code == 403 and Rule.objects.get(pk=rule.pk).score != 77
    assert client.post(SAVE_DRAFT, {"reason": "Mine."}).status_code == 403
    reason = {"reason": "Mine."}
    assert client.post(url("fraud_fraudconfigversion_edit_from", draft), reason).status_code == 403
    assert client.post(url("fraud_shadow_start", draft), {"reason": "Mine."}).status_code == 403
    window = {"since": "2026-01-01T00:00Z", "until": "2026-01-02T00:00Z"}
    assert client.post(url("fraud_fraudconfigversion_backtest", draft), window).status_code == 403
    assert client.post(url("fraud_fraudconfigversion_promote", draft), {"reason": "Mine."}).status_code == 403
    assert client.post(url("fraud_fraudmodel_activate", model), {"reason": "Mine."}).status_code == 403
    assert client.post(url("fraud_fraudmodel_deactivate", model)).status_code == 403
    assert FraudConfigVersion.objects.count() == versions and live_version().number == live
    assert FraudConfigVersion.objects.get(pk=draft.pk).state == FraudConfigVersion.State.DRAFT
    assert not ChangeRequest.objects.exists()


def assert_version_page_offers_nothing(client, draft, model):
    page = client.get(change_url(draft)).content.decode()
    assert "Abroad is no risk on its own." in page
    for name in ("promote", "edit_from", "backtest"):
        assert url(f"fraud_fraudconfigversion_{name}", draft) not in page
    assert url("fraud_shadow_start", draft) not in page
    assert SAVE_DRAFT not in client.get(VERSIONS).content.decode()
    assert url("fraud_fraudmodel_activate", model) not in client.get(change_url(model)).content.decode()


def test_a_fraud_analyst_decides_alerts_and_works_cases_but_not_the_strategy(client, alert, draft, model):
    logged_in(client, FRAUD_ANALYST)
    assert 'name="decision"' in client.get(change_url(alert)).content.decode()

    decided = client.post(url("fraud_fraudalert_decide", alert), {"decision": "confirm_block"})

    alert.refresh_from_db()
    assert decided.status_code == 302 and alert.status == FraudAlert.Status.CONFIRMED_FRAUD
    assert Card.objects.get(pk=alert.card_id).status == Card.Status.BLOCKED
    case = Case.objects.get(card=alert.card)
    comment = client.post(url("fraud_case_comment", case), {"body": "Called the cardholder."})
    assert comment.status_code == 302 and case.comments.count() == 1
    page = client.get(change_url(Rule.objects.first())).content.decode()
    assert 'name="score"' not in page  # read-only for the analyst
    assert_version_page_offers_nothing(client, draft, model)
    assert_refused_the_strategy(client, draft, model)


def test_a_fraud_manager_edits_the_strategy_requests_promotion_and_approves_anothers(client, draft, model):
    logged_in(client, FRAUD_MANAGER, username="maker")
    page = client.get(change_url(draft)).content.decode()
    assert url("fraud_fraudconfigversion_promote", draft) in page and url("fraud_shadow_start", draft) in page

    rule, edited = rule_edit(client)
    assert edited.status_code == 302 and Rule.objects.get(pk=rule.pk).score == 77
    assert client.post(SAVE_DRAFT, {"reason": "Velocity counts more."}).status_code == 302
    third = FraudConfigVersion.objects.get(number=3)
    assert client.post(url("fraud_shadow_start", third), {"reason": "Watch it."}).status_code == 302
    assert client.post(url("fraud_fraudconfigversion_promote", draft), {"reason": "Ship."}).status_code == 302
    assert client.post(url("fraud_fraudmodel_activate", model), {"reason": "Try it."}).status_code == 302
    assert live_version().number == 1  # held

    other_manager = staff_with_roles(FRAUD_MANAGER, username="colleague")
    four_eyes.approve(CONFIG_PROMOTE, by=other_manager)

    assert live_version().number == 2
    assert ChangeRequest.objects.filter(status=ChangeRequest.Status.PENDING).count() == 1  # the model's


def test_card_operations_sees_alerts_but_is_refused_deciding_them(client, alert):
    logged_in(client, CARD_OPERATIONS)
    queue = client.get(ALERTS)
    assert queue.status_code == 200 and url("fraud_fraudalert_decide", alert) not in queue.content.decode()
    assert 'name="decision"' not in client.get(change_url(alert)).content.decode()

    decide = url("fraud_fraudalert_decide", alert)
    assert client.post(decide, {"decision": "confirm_block"}).status_code == 403
    client.post(ALERTS, {"action": "confirm_block", "_selected_action": [alert.pk]})

    alert.refresh_from_db()
    assert alert.status == FraudAlert.Status.OPEN
    assert Card.objects.get(pk=alert.card_id).status == Card.Status.ACTIVE
    case = Case.objects.get(card=alert.card)
    assert client.post(url("fraud_case_comment", case), {"body": "Hm."}).status_code == 403
    assert client.get(RULES).status_code == 403 and client.get(VERSIONS).status_code == 403


def test_an_auditor_reads_everything_and_changes_nothing(client, alert, draft, model):
    logged_in(client, AUDITOR)
    case = Case.objects.get(card=alert.card)
    settings = FraudSettings.objects.get()
    for page in (
        ALERTS,
        change_url(alert),
        change_url(case),
        RULES,
        change_url(settings),
        VERSIONS,
        MODELS,
        PERFORMANCE,
        url("fraud_fraudconfigversion_backtest", draft),
        url("fraud_shadow_compare", draft),
    ):
        assert client.get(page).status_code == 200, page
    assert 'name="decision"' not in client.get(change_url(alert)).content.decode()
    assert 'name="review_threshold"' not in client.get(change_url(settings)).content.decode()

    decide = url("fraud_fraudalert_decide", alert)
    assert client.post(decide, {"decision": "false_positive"}).status_code == 403
    assert client.post(url("fraud_case_resolve", case), {"resolution": "false_positive"}).status_code == 403
    alert.refresh_from_db()
    case.refresh_from_db()
    assert alert.status == FraudAlert.Status.OPEN and not case.is_resolved
    assert_version_page_offers_nothing(client, draft, model)
    assert_refused_the_strategy(client, draft, model)


def test_an_administrator_cannot_see_the_fraud_configuration(client, alert, draft, model):
    logged_in(client, ADMINISTRATOR)

    index = client.get(reverse("admin:index")).content.decode()

    assert RULES not in index and VERSIONS not in index and ALERTS not in index
    for page in (RULES, change_url(FraudSettings.objects.get()), VERSIONS, change_url(draft), MODELS, ALERTS):
        assert client.get(page).status_code == 403, page
    assert client.get(PERFORMANCE).status_code == 403
    assert client.get(url("fraud_shadow_compare", draft)).status_code == 403
    assert_refused_the_strategy(client, draft, model)
