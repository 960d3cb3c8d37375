"""Per-rule, per-version and per-model-version performance (fraud/performance.py) on a
hand-made fixture of decisions with known rules and fraud reports, its period bounds,
the rule summary each decision stores, and the admin page (permission, constant queries)."""

import datetime
import importlib
from dataclasses import replace

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fraud import performance
from fraud.configuration import ModelChoice, RuleConfig, read_config
from fraud.models import FraudModel, Rule
from fraud.versions import config_version_create, config_version_promote
from tests.authorizing import authorize
from tests.factories import TEST_ACTOR, UserFactory
from tests.fraud.clock import DAY, HOUR, NOW
from transactions.models import FraudReport, Transaction
from transactions.signals import RiskFactor

pytestmark = pytest.mark.django_db
MIGRATION = importlib.import_module("fraud.migrations.0010_decision_rule_summaries")
PAGE = reverse("admin:fraud_rule_performance")
SINCE, UNTIL = NOW - DAY, NOW
OUTCOMES = {
    # name: status, response code, risk level, flagged
    "risk_decline": ("declined", "59", "high", True),
    "review": ("approved", "00", "medium", True),
    "approved": ("approved", "00", "low", False),
}


def decision(rules: str, outcome: str, *, version=1, fraud=False, at=NOW - HOUR, score=50) -> Transaction:
    status, code, level, flagged = OUTCOMES[outcome]
    txn = Transaction.objects.create(
        masked_pan="400000******0002",
        amount_minor=1000,
        currency="USD",
        merchant_id="M-1",
        mcc="5999",
        merchant_country="US",
        transaction_time=at,
        status=status,
        response_code=code,
        reason="suspected_fraud" if code == "59" else "approved",
        risk_score=score,
        risk_level=level,
        risk_rules=rules,
        risk_config_version=version,
        flagged=flagged,
    )
    if fraud:
        FraudReport.objects.create(transaction=txn, reason="Cardholder dispute.", reported_at=NOW)
    return txn


@pytest.fixture
def world():
    """Version 1 (rules alone, from the migration) and version 2 with model 7 on."""
    model = FraudModel.objects.create(version=7, created_by="test", artifact="-")
    config = read_config()
    rules = {**config.rules, "model": RuleConfig(40, {}, True)}
    config_version_create(
        actor=TEST_ACTOR,
        reason="Model 7.",
        config=replace(config, model=ModelChoice(model.pk, 7), rules=rules),
    )
    decision(",amount_large!,foreign_country,", "risk_decline", fraud=True)
    decision(",foreign_country,", "approved")
    decision(",amount_large,foreign_country!,", "review", fraud=True)
    decision(",cvv_mismatch,model!,", "risk_decline", version=2)
    decision("", "approved", version=2, fraud=True)
    decision(",amount_large,", "risk_decline", fraud=True, at=UNTIL)  # the period excludes its end
    decision(",amount_large,", "approved", score=None)  # not a decision on a known card


def by_code(figures):
    return {
        f.code: (f.fired, f.declines, f.reviews, f.decisive, f.fraud_caught, f.precision) for f in figures
    }


def test_each_rule_counts_its_hits_declines_reviews_decisive_points_and_fraud(world):
    figures = by_code(performance.rule_performance(since=SINCE, until=UNTIL))

    assert figures["amount_large"] == (2, 1, 1, 1, 2, 1.0)
    assert figures["foreign_country"] == (3, 1, 1, 1, 2, 2 / 3)
    assert figures["cvv_mismatch"] == (1, 1, 0, 0, 0, 0.0)
    assert figures["model"] == (1, 1, 0, 1, 0, 0.0)
    assert figures["velocity_count"] == (0, 0, 0, 0, 0, None)
    assert set(figures) == set(Rule.objects.values_list("code", flat=True))


def test_a_version_filter_counts_that_versions_decisions_only(world):
    figures = by_code(performance.rule_performance(since=SINCE, until=UNTIL, version=2))

    assert figures["amount_large"][0] == 0
    assert figures["cvv_mismatch"] == (1, 1, 0, 0, 0, 0.0)


def test_the_period_includes_its_start_and_excludes_its_end(world):
    at_end = by_code(performance.rule_performance(since=UNTIL, until=UNTIL + HOUR))
    before = by_code(performance.rule_performance(since=SINCE - DAY, until=SINCE))

    assert at_end["amount_large"] == (1, 1, 0, 0, 1, 1.0)
    assert before["amount_large"][0] == 0


def test_each_version_counts_its_outcomes_fraud_caught_missed_and_false_declines(world):
    v2, v1 = performance.version_performance(since=SINCE, until=UNTIL)

    assert (v1.version, v1.decisions, v1.approvals, v1.reviews, v1.declines, v1.risk_declines) == (
        1,
        3,
        2,
        1,
        1,
        1,
    )
    assert (v1.fraud, v1.fraud_caught, v1.fraud_missed, v1.false_declines) == (2, 2, 0, 0)
    assert (v2.version, v2.decisions, v2.approvals, v2.reviews, v2.declines, v2.risk_declines) == (
        2,
        2,
        1,
        0,
        1,
        1,
    )
    assert (v2.fraud, v2.fraud_caught, v2.fraud_missed, v2.false_declines) == (1, 0, 1, 1)
    assert v1.rate(v1.approvals) == 2 / 3


def test_each_model_version_has_precision_and_recall_at_both_thresholds(world):
    versions = performance.version_performance(since=SINCE, until=UNTIL)
    decision(",model!,", "risk_decline", version=2, fraud=True)
    decision(",model,", "review", version=2, fraud=True)
    versions = performance.version_performance(since=SINCE, until=UNTIL)

    (model,) = performance.model_performance(versions)

    assert (model.model_version, model.config_versions, model.decisions, model.fraud) == (7, (2,), 4, 3)
    assert (model.decline_precision, model.decline_recall) == (1 / 2, 1 / 3)
    assert (model.review_precision, model.review_recall) == (2 / 3, 2 / 3)


def test_no_decision_gives_zero_counts_and_no_ratio():
    (figures,) = [
        f for f in performance.rule_performance(since=SINCE, until=UNTIL) if f.code == "amount_large"
    ]

    assert (figures.fired, figures.precision) == (0, None)
    assert performance.version_performance(since=SINCE, until=UNTIL) == []
    assert performance.model_performance([]) == []


# --- The summary each decision stores --------------------------------------------------------------


def test_the_summary_marks_the_points_without_which_the_level_would_be_lower():
    config = replace(read_config(), review_threshold=40, decline_threshold=70)
    a, b, c, z = (
        RiskFactor("a", 50, ""),
        RiskFactor("b", 25, ""),
        RiskFactor("c", 5, ""),
        RiskFactor("z", 0, ""),
    )

    # 80 declines; without a (30) it is low, without b (55) a review, without c (75) still a decline.
    assert performance.rule_summary([c, z, b, a], config) == ",a!,b!,c,"
    # 45 reviews; without b (20) or the other 20 points it is low.
    assert performance.rule_summary([b, RiskFactor("d", 20, "")], config) == ",b!,d!,"
    assert performance.rule_summary([z], config) == ""


def test_the_points_are_taken_from_the_sum_before_its_cap_at_100():
    config = replace(read_config(), review_threshold=40, decline_threshold=70)

    # 150, shown as 100: without either rule the other's 70 or 80 still declines.
    assert performance.rule_summary([RiskFactor("a", 80, ""), RiskFactor("b", 70, "")], config) == ",a,b,"


def test_an_authorization_stores_its_rule_summary():
    txn = authorize(merchant_country="FR")

    assert txn.risk_rules == ",foreign_country,"
    assert performance.rule_performance(since=txn.transaction_time, until=txn.transaction_time + HOUR)


def test_the_migration_summarises_the_decisions_stored_before_it_as_the_scorer_does():
    Rule.objects.filter(code="foreign_country").update(score=60)
    config_version_create(actor=TEST_ACTOR, reason="Abroad weighs more.")
    from fraud.versions import live_version

    config_version_promote(
        version=live_version().__class__.objects.get(number=2), actor=TEST_ACTOR, reason="Ok."
    )
    stored = [authorize(merchant_country="FR"), authorize(merchant_country="US")]
    recorded = [t.risk_rules for t in stored]
    Transaction.objects.update(risk_rules="")

    importlib.import_module("fraud.migrations.0010_decision_rule_summaries").summarise_stored_decisions(
        apps, None
    )

    assert recorded[0] == ",foreign_country!,"
    assert [t.risk_rules for t in Transaction.objects.order_by("created_at")] == recorded


# --- The admin page ---------------------------------------------------------------------------------


def test_the_page_shows_each_table_for_a_custom_period(admin_client, world):
    body = admin_client.get(
        PAGE, {"period": "custom", "since": "2026-06-14 12:00", "until": "2026-06-15 12:00"}
    ).content.decode()

    assert (
        "<td>amount_large</td><td>2</td><td>1</td><td>0</td><td>1</td><td>1</td><td>2</td><td>100.0%</td>"
        in body
    )
    assert "<td>2</td><td>2</td><td>1 (50.0%)</td>" in body  # version 2: 2 decisions, 1 approved
    assert "<td>7</td><td>2</td><td>2</td><td>1</td><td>0.0%</td>" in body  # model 7


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"period": "custom", "since": "2026-06-15 12:00"}, "custom period needs"),
        ({"period": "custom", "since": "2026-06-15 12:00", "until": "2026-06-14 12:00"}, "must come after"),
        ({"period": "year"}, "Select a valid choice"),
        ({"period": "7d", "version": "0"}, "greater than or equal to 1"),
    ],
)
def test_a_bad_period_or_version_is_named_and_nothing_is_counted(admin_client, query, field):
    body = admin_client.get(PAGE, query).content.decode()

    assert field in body and 'id="rules"' not in body


def test_the_page_needs_the_permission_to_view_rules(client):
    staff = UserFactory(username="clerk", is_superuser=False)
    client.force_login(staff)
    assert client.get(PAGE).status_code == 403

    staff.user_permissions.set(Permission.objects.filter(codename="view_rule"))
    assert client.get(PAGE).status_code == 200


def test_the_rules_and_versions_lists_link_to_the_page(admin_client):
    for listing in ("admin:fraud_rule_changelist", "admin:fraud_fraudconfigversion_changelist"):
        assert PAGE in admin_client.get(reverse(listing)).content.decode()


def test_the_pages_query_count_does_not_grow_with_rules_versions_or_rows(admin_client, world):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(PAGE, {"period": "30d"}).status_code == 200
        return len(captured)

    queries()  # the first view counts the period's complete days into the rollup
    before = queries()
    for minutes in range(20):
        decision(",amount_large,", "approved", version=2, at=NOW - datetime.timedelta(minutes=minutes + 1))
    Rule.objects.create(code="extra_rule", name="Extra", score=5)
    config_version_create(
        actor=TEST_ACTOR, reason="Another.", config=replace(read_config(), review_threshold=41)
    )

    assert queries() == before
