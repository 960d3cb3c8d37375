"""Versions of the fraud configuration: version 1 from the migration, edits that decide
nothing until a version is promoted, rollback, immutability, one live version under
concurrent promotions, the version each decision records, and the per-process copy."""

import importlib
from dataclasses import replace

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from cardsystem.exceptions import ConflictError
from cardsystem.models import AuditLog
from fraud import receivers, scoring, versions
from fraud.configuration import as_snapshot, from_snapshot, read_config, version_config
from fraud.models import CountryRisk, FraudConfigVersion, FraudSettings, MerchantCategoryRisk, Rule
from fraud.services import fraud_config_save
from fraud.versions import config_version_create, config_version_promote, live_version
from tests.authorizing import authorize_at, codes
from tests.factories import TEST_ACTOR
from tests.fraud.clock import MINUTE, NOW
from transactions.signals import AuthorizationAttempt

authorize = authorize_at(NOW)
pytestmark = pytest.mark.django_db
State = FraudConfigVersion.State
PROMOTED = AuditLog.Action.CONFIG_VERSION_PROMOTED


def _later(card, minutes, **changes):
    return authorize(card, transaction_time=NOW + minutes * MINUTE, **changes)


def _edit_rule(code, **fields):
    rule = Rule.objects.get(code=code)
    for name, value in fields.items():
        setattr(rule, name, value)
    return fraud_config_save(obj=rule, actor=TEST_ACTOR)


def _draft(reason="Abroad no longer counts."):
    return config_version_create(actor=TEST_ACTOR, reason=reason)


def _promote(version, reason="Reviewed."):
    return config_version_promote(version=version, actor=TEST_ACTOR, reason=reason)


# --- Version 1 --------------------------------------------------------------------------------


def test_the_migration_makes_version_1_live_equal_to_the_stored_configuration():
    version = live_version()
    assert (version.number, version.state, version.based_on, version.created_by) == (
        1,
        "live",
        None,
        "migration",
    )
    assert version_config(version) == replace(read_config(), version=1)
    assert scoring.load_config() == version_config(version)


def test_the_migration_snapshots_whatever_configuration_is_stored(db):
    """Run again over an edited configuration (as on a database that was tuned before
    versioning), version 1 is exactly what read_config() read before."""
    FraudConfigVersion.objects.all().delete()  # the queryset's delete: the rows' own refuse
    _edit_rule("foreign_country", enabled=False, score=7)
    _edit_rule("velocity_count", params={"per_minute": 9, "per_hour": 10, "per_day": 30})
    CountryRisk.objects.create(country="NG", level="high_risk")
    MerchantCategoryRisk.objects.filter(mcc="7995").update(level="blocked")
    FraudSettings.objects.update(review_threshold=40, decline_threshold=70, cvv_failure_limit=5)
    before = read_config()

    importlib.import_module("fraud.migrations.0008_config_version_1").create_version_1(apps, None)

    assert version_config(live_version()) == replace(before, version=1)


# --- Edits, drafts, promotion, rollback ---------------------------------------------------------


def test_edits_and_drafts_change_no_decision_until_promoted(card):
    assert "foreign_country" in codes(_later(card, 1, merchant_country="FR"))
    _edit_rule("foreign_country", enabled=False)
    assert "foreign_country" in codes(_later(card, 2, merchant_country="FR"))
    draft = _draft()
    assert (draft.number, draft.state, draft.based_on.number) == (2, "draft", 1)
    decided = _later(card, 3, merchant_country="FR")
    assert "foreign_country" in codes(decided) and decided.risk_config_version == 1

    _promote(draft)

    decided = _later(card, 4, merchant_country="FR")
    assert "foreign_country" not in codes(decided) and decided.risk_config_version == 2
    assert list(FraudConfigVersion.objects.values_list("number", "state")) == [(2, "live"), (1, "retired")]


def test_promoting_an_earlier_version_again_is_the_rollback(card):
    _edit_rule("foreign_country", score=60)
    second = _promote(_draft("Abroad weighs more."))
    assert _later(card, 1, merchant_country="FR").risk_score == 60

    _promote(FraudConfigVersion.objects.get(number=1), reason="Too many reviews: back to version 1.")

    decided = _later(card, 2, merchant_country="FR")
    assert (decided.risk_score, decided.risk_config_version) == (10, 1)
    second.refresh_from_db()
    assert (second.state, live_version().number) == ("retired", 1)
    audit = AuditLog.objects.filter(action=PROMOTED).latest("id")
    assert (audit.details["number"], audit.details["rollback"], audit.details["replaces"]) == (1, True, [2])
    assert audit.details["reason"] == "Too many reviews: back to version 1."
    assert audit.details["changes"] == [
        {"section": "rule", "item": "foreign_country", "change": "points", "before": "60", "after": "10"}
    ]


def test_a_version_needs_a_reason_and_a_difference_from_the_live_one():
    with pytest.raises(ValidationError) as error:
        config_version_create(actor=TEST_ACTOR, reason="  ")
    assert "reason" in error.value.message_dict
    with pytest.raises(ValidationError, match="live version 1"):
        _draft()
    _edit_rule("foreign_country", score=11)
    draft = _draft()
    with pytest.raises(ValidationError):
        config_version_promote(version=draft, actor=TEST_ACTOR, reason="")
    with pytest.raises(ConflictError, match="already live"):
        _promote(live_version())
    assert FraudConfigVersion.objects.count() == 2 and live_version().number == 1
    assert not AuditLog.objects.filter(action=PROMOTED).exists()


def test_creating_and_promoting_are_audited_with_their_changes(staff_user):
    _edit_rule("high_risk_country", enabled=False)
    draft = _draft("Country risk is in the model now.")
    _promote(draft, reason="Approved by the fraud lead.")
    created = AuditLog.objects.get(action=AuditLog.Action.CONFIG_VERSION_CREATED)
    promoted = AuditLog.objects.get(action=PROMOTED)
    assert (created.target_id, created.details["based_on"], created.details["reason"]) == (
        str(draft.pk),
        1,
        "Country risk is in the model now.",
    )
    switched_off = {"section": "rule", "item": "high_risk_country", "change": "switched off"}
    assert created.details["changes"] == [{**switched_off, "before": "on", "after": "off"}]
    assert (promoted.actor_label, promoted.details["was"], promoted.details["replaces"]) == (
        "tests",
        "draft",
        [1],
    )
    draft.refresh_from_db()
    assert (draft.promoted_by, draft.promoted_at is not None) == ("tests", True)


# --- Immutability -------------------------------------------------------------------------------


def test_a_version_never_changes_and_is_never_deleted():
    version = live_version()
    version.snapshot = {**version.snapshot, "review_threshold": 1}
    with pytest.raises(ValueError, match="never changes"):
        version.save()
    with pytest.raises(ValueError, match="never changes"):
        version.save(update_fields=["snapshot"])
    with pytest.raises(ValueError, match="never deleted"):
        version.delete()
    version.refresh_from_db()
    assert version.snapshot["review_threshold"] == 50


def test_the_database_holds_at_most_one_live_version():
    _edit_rule("foreign_country", score=11)
    draft = _draft()
    with pytest.raises(IntegrityError), transaction.atomic():
        FraudConfigVersion.objects.filter(pk=draft.pk).update(state=State.LIVE)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_promotions_leave_exactly_one_live_version():
    from tests.concurrency import run_concurrently

    # A transactional test may start from a database an earlier one emptied: a live
    # version to replace, then two drafts.
    Rule.objects.update_or_create(code="foreign_country", defaults={"name": "Abroad", "score": 10})
    if live_version() is None:
        _promote(_draft("The start."))
    first = live_version()
    promotions = AuditLog.objects.filter(action=PROMOTED).count()
    drafts = []
    for score in (20, 30):
        Rule.objects.filter(code="foreign_country").update(score=score)
        drafts.append(_draft(f"Abroad at {score}."))

    def promote(index):
        try:
            return _promote(drafts[index]).number
        except ConflictError:
            return None

    winners = [number for number in run_concurrently(2, promote) if number is not None]

    live = FraudConfigVersion.objects.filter(state=State.LIVE)
    assert live.count() == 1 and live.get().number in winners
    assert FraudConfigVersion.objects.get(number=first.number).state == State.RETIRED
    assert AuditLog.objects.filter(action=PROMOTED).count() == promotions + len(winners)


# --- What each decision records, and the per-process copy -------------------------------------------


def test_every_decision_records_its_version_and_manage_reads_show_it(card, manage_api, authorize_api):
    from tests.authorizing import decide

    answer = decide(authorize_api, card)
    assert "risk_config_version" not in answer  # the authorization's answer is the contract's
    listed = manage_api.get(f"/api/v1/transactions/{answer['id']}/").json()
    assert listed["risk_config_version"] == 1


def test_the_live_version_is_read_once_per_time_to_live(card, django_assert_num_queries):
    scoring.load_config()
    with django_assert_num_queries(0):
        scoring.load_config()


def test_another_process_decides_its_next_decision_with_a_promotion(
    card, monkeypatch, django_assert_num_queries
):
    assert "foreign_country" in codes(_later(card, 1, merchant_country="FR"))  # version 1, cached
    _edit_rule("foreign_country", enabled=False)
    # Promoted by another process: this one is not told, and its copy is within its TTL.
    monkeypatch.setattr(versions, "forget_live", lambda: None)
    _promote(_draft())
    # Its next decision's feature statement reads which version is live: version 2 decides.
    decided = _later(card, 2, merchant_country="FR")
    assert "foreign_country" not in codes(decided) and decided.risk_config_version == 2
    # Scored again that once; the decisions after it send one statement, as before.
    attempt = _attempt_for(card, 3)
    with django_assert_num_queries(1):
        assert receivers.assess_risk(sender=None, attempt=attempt).config_version == 2


def test_without_a_promotion_the_live_version_costs_no_statement(card, django_assert_num_queries):
    _later(card, 1)
    attempt = _attempt_for(card, 2)
    with django_assert_num_queries(1):  # the features statement, which also says version 1 is live
        assert receivers.assess_risk(sender=None, attempt=attempt).config_version == 1


def _attempt_for(card, minutes) -> AuthorizationAttempt:
    """As a decision builds it: the card read with its cardholder."""
    assert card.cardholder is not None
    return AuthorizationAttempt(
        card=card,
        amount_minor=42_00,
        currency="USD",
        merchant_id="M-1001",
        merchant_name="Corner Coffee",
        mcc="5814",
        merchant_country="FR",
        channel="pos",
        transaction_time=NOW + minutes * MINUTE,
        cvv_result="match",
    )


def test_a_promotion_is_forgotten_again_at_commit(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    # A decision in this process between the promotion and its commit reads the version
    # live until then and would keep it: the copy is dropped again when the promotion commits.
    _edit_rule("foreign_country", score=12)
    draft = _draft()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _promote(draft)
        scoring.load_config()
    assert callbacks
    with django_assert_num_queries(2):  # which version is live, and its snapshot once
        assert scoring.load_config().version == 2
    with django_assert_num_queries(0):
        scoring.load_config()


def test_any_version_scores_an_attempt_in_one_call(card):
    _edit_rule("foreign_country", score=33)
    draft = _draft()
    assert as_snapshot(from_snapshot(draft.snapshot)) == draft.snapshot
    attempt = _attempt_for(card, 0)

    under_draft, under_live = scoring.assess(attempt, version_config(draft)), scoring.assess(attempt)

    assert (under_draft.score, under_draft.config_version) == (33, 2)
    assert (under_live.score, under_live.config_version) == (10, 1)


def test_without_a_live_version_the_default_thresholds_decide_alone_and_it_is_logged(card, caplog):
    """Only a database emptied by hand lacks one: the working copy still decides nothing."""
    FraudConfigVersion.objects.all().delete()
    scoring.forget_config()
    with caplog.at_level("ERROR", logger="fraud.configuration"):
        decided = _later(card, 1, merchant_country="FR", mcc="7995")
    assert (decided.response_code, decided.risk_factors, decided.risk_config_version) == ("00", [], None)
    assert "no live fraud configuration version" in caplog.text
