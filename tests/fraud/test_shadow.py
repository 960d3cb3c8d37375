"""Shadow mode: a draft scored beside the live version on live traffic never changes an
answer, never alerts, blocks or debits, stores what it would have decided, shares the
live decision's feature statements, fails alone, and is compared with the live one."""

import datetime
import logging

import pytest
from django.db import IntegrityError, connection, transaction

from cards.models import Card
from cardsystem.exceptions import ConflictError
from cardsystem.models import AuditLog
from fraud import features, scoring, shadow
from fraud.configuration import read_config, shadow_config
from fraud.models import FraudAlert, FraudConfigVersion, FraudSettings, Rule, ShadowDecision
from fraud.versions import config_version_create, config_version_promote
from tests.authorizing import authorize_at, balance, post_authorization, wrong_cvv
from tests.factories import TEST_ACTOR
from tests.fraud.clock import DAY, MINUTE, NOW
from transactions.models import Transaction

authorize = authorize_at(NOW)
pytestmark = pytest.mark.django_db
State = FraudConfigVersion.State
NIGERIAN_CASINO = {"merchant_country": "NG", "mcc": "7995", "merchant_id": "M-NG"}  # 60: review, not decline


def _draft(reason="Tighter.", **settings):
    """A draft of the live configuration with `settings` changed (the working copy is
    changed and saved as a version; nothing decides by it)."""
    stored = FraudSettings.objects.get()
    for name, value in settings.items():
        setattr(stored, name, value)
    stored.save()
    return config_version_create(actor=TEST_ACTOR, reason=reason)


def _draft_with_rule(code, reason="Rule changed.", **fields):
    rule = Rule.objects.get(code=code)
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.save()
    return config_version_create(actor=TEST_ACTOR, reason=reason)


def _in_shadow(version, reason="Watch it on live traffic."):
    return shadow.shadow_start(version=version, actor=TEST_ACTOR, reason=reason)


def _answer(response) -> dict:
    """The API's answer but its own identity (id and time of recording)."""
    assert response.status_code == 201, response.content[:300]
    body = response.json()
    return {k: v for k, v in body.items() if k not in ("id", "created_at")}


def _rolled_back(call):
    """`call()`'s result, with everything it wrote rolled back: the same request twice."""
    with transaction.atomic():
        result = call()
        transaction.set_rollback(True)
    scoring.forget_config()
    return result


# --- Never changing an answer -------------------------------------------------------------------


def test_a_shadow_declining_lower_leaves_the_api_answer_identical_and_stores_its_own(
    authorize_api, card, high_risk_country
):
    def request():
        return _answer(
            post_authorization(authorize_api, card, transaction_time=NOW.isoformat(), **NIGERIAN_CASINO)
        )

    without = _rolled_back(request)
    version = _in_shadow(_draft(review_threshold=40, decline_threshold=50))

    with_shadow = request()

    assert with_shadow == without
    assert (with_shadow["status"], with_shadow["response_code"], with_shadow["risk_score"]) == (
        "approved",
        "00",
        60,
    )
    stored = ShadowDecision.objects.get()
    assert (stored.version, stored.score, stored.decision, stored.response_code) == (
        version,
        60,
        "decline",
        "59",
    )
    assert (stored.live_decision, stored.live_response_code, stored.changed) == ("review", "00", True)
    assert [f["code"] for f in stored.factors] == [f["code"] for f in with_shadow["risk_factors"]]
    txn = Transaction.objects.get()
    assert (txn.risk_config_version, txn.status) == (version.number - 1, "approved")


def test_a_shadow_opens_no_alert_blocks_no_card_and_moves_no_balance(card):
    _in_shadow(_draft(review_threshold=1, decline_threshold=1, cvv_failure_limit=1))
    before = balance(card)

    txn = authorize(card, cvv=wrong_cvv(card))

    card.refresh_from_db()
    assert (txn.response_code, txn.flagged, card.status) == ("N7", False, Card.Status.ACTIVE)
    assert not FraudAlert.objects.exists() and balance(card) == before
    stored = txn.shadow_decision
    assert stored.factors[0]["code"] == "cvv_failures_in_a_row"
    assert (stored.decision, stored.response_code, stored.changed) == ("decline", "N7", False)


def test_with_no_shadow_nothing_is_stored(card):
    authorize(card)

    assert shadow_config(ttl_seconds=0) is None and not ShadowDecision.objects.exists()


# --- A shadow that fails fails alone ----------------------------------------------------------------


def test_a_shadow_that_raises_leaves_the_live_answer_unchanged_and_stores_nothing(
    authorize_api, card, high_risk_country, monkeypatch, caplog
):
    def request():
        return _answer(
            post_authorization(authorize_api, card, transaction_time=NOW.isoformat(), **NIGERIAN_CASINO)
        )

    without = _rolled_back(request)
    version = _in_shadow(_draft(decline_threshold=50))
    live_assess = scoring.assess

    def assess(attempt, config=None, reads=None):
        if config is not None and config.version == version.number:
            raise RuntimeError("shadow broke")
        return live_assess(attempt, config, reads)

    monkeypatch.setattr(scoring, "assess", assess)

    with caplog.at_level(logging.ERROR, logger="fraud.shadow"):
        answer = request()

    assert answer == without and Transaction.objects.count() == 1
    assert not ShadowDecision.objects.exists()
    assert "shadow scoring failed" in caplog.text


def test_a_failed_query_of_the_shadow_leaves_the_live_decision_recorded(card, monkeypatch):
    """On PostgreSQL a failed statement aborts its transaction: the shadow's savepoint
    keeps the live decision's."""
    _in_shadow(_draft_with_rule("merchant_card_testing", params={"window_minutes": 30, "min_failures": 10}))
    read = features.cross_card_activity

    def cross_card_activity(attempt, fraud_window, windows=features.DEFAULT_WINDOWS, **kwargs):
        if windows.merchant == datetime.timedelta(minutes=30):  # the shadow's window only
            with connection.cursor() as cursor:
                cursor.execute("SELECT no_such_column FROM fraud_rule")
        return read(attempt, fraud_window, windows, **kwargs)

    monkeypatch.setattr(features, "cross_card_activity", cross_card_activity)

    txn = authorize(card)

    assert (txn.response_code, Transaction.objects.count()) == ("00", 1)
    assert balance(card) == card.balance_minor - 4200
    assert not ShadowDecision.objects.exists()


# --- The feature statements, shared ------------------------------------------------------------------


@pytest.fixture
def feature_reads(monkeypatch):
    """How many times each feature statement ran ("both": the card's and the cross-card
    reads in one statement, as a decision starts)."""
    calls = {"card": 0, "cross": 0, "both": 0}
    card_history, cross, both = (
        features.card_history,
        features.cross_card_activity,
        features.card_and_cross_card,
    )

    def counted(name, read):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return read(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(features, "card_history", counted("card", card_history))
    monkeypatch.setattr(features, "cross_card_activity", counted("cross", cross))
    monkeypatch.setattr(features, "card_and_cross_card", counted("both", both))
    return calls


def test_a_shadow_with_the_same_windows_reads_no_feature_twice(card, feature_reads):
    _in_shadow(_draft(decline_threshold=60))

    authorize(card)

    assert feature_reads == {"card": 0, "cross": 0, "both": 1}
    assert ShadowDecision.objects.count() == 1


def test_a_shadow_with_another_window_reads_only_that_statement_again(card, feature_reads):
    _in_shadow(_draft_with_rule("bin_card_testing", params={"window_minutes": 15, "min_failures": 10}))

    authorize(card)

    assert feature_reads == {"card": 0, "cross": 1, "both": 1}


def test_a_shadow_adds_its_own_statements_to_a_decision_and_none_without_it(card, django_assert_num_queries):
    authorize(card, transaction_time=NOW - MINUTE)
    scoring.load_config()
    # The card, 2 savepoint statements, the features (one statement), the debit, transaction
    # and ledger entry (one statement on PostgreSQL, three on SQLite).
    decision = 5 if connection.vendor == "postgresql" else 7
    with django_assert_num_queries(decision):
        authorize(card)
    _in_shadow(_draft(decline_threshold=60))
    scoring.load_config()

    # + 2 savepoint statements around the shadow's scoring, + 2 around its storing and its INSERT
    with django_assert_num_queries(decision + 5):
        authorize(card, transaction_time=NOW + MINUTE)


# --- One shadow at a time, its audit rows, promotion ------------------------------------------


def test_only_one_version_is_in_shadow_at_a_time():
    first = _in_shadow(_draft(decline_threshold=70))
    second = _draft(decline_threshold=60)

    with pytest.raises(ConflictError):
        _in_shadow(second)

    second.refresh_from_db()
    assert (first.state, second.state) == (State.SHADOW, State.DRAFT)
    second.state = State.SHADOW
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save(update_fields=["state"])


@pytest.mark.parametrize("state", [State.LIVE, State.RETIRED])
def test_only_a_draft_goes_in_shadow(state):
    version = _draft(decline_threshold=70)
    if state == State.RETIRED:
        config_version_promote(version=version, actor=TEST_ACTOR, reason="Live.")
        version = FraudConfigVersion.objects.get(number=1)
    elif state == State.LIVE:
        version = FraudConfigVersion.objects.get(number=1)

    with pytest.raises(ConflictError):
        _in_shadow(version)

    assert not FraudConfigVersion.objects.filter(state=State.SHADOW).exists()


def test_putting_in_and_taking_out_of_shadow_are_audited_with_their_reasons(card):
    version = _in_shadow(_draft(decline_threshold=70), reason="Try 70.")
    authorize(card)
    shadow.shadow_end(version=version, actor=TEST_ACTOR, reason="Seen enough.")
    authorize(card, transaction_time=NOW + MINUTE)

    rows = AuditLog.objects.filter(target_id=str(version.pk)).order_by("id")
    assert [(r.action, r.details["reason"]) for r in rows if r.action.startswith("fraud.config_shadow")] == [
        (AuditLog.Action.CONFIG_SHADOW_STARTED, "Try 70."),
        (AuditLog.Action.CONFIG_SHADOW_ENDED, "Seen enough."),
    ]
    version.refresh_from_db()
    assert version.state == State.DRAFT and ShadowDecision.objects.count() == 1


def test_taking_out_a_version_not_in_shadow_is_a_conflict():
    with pytest.raises(ConflictError):
        shadow.shadow_end(version=_draft(decline_threshold=70), actor=TEST_ACTOR, reason="No.")


def test_a_shadow_without_a_reason_is_refused():
    version = _draft(decline_threshold=70)
    with pytest.raises(Exception, match="reason"):
        shadow.shadow_start(version=version, actor=TEST_ACTOR, reason=" ")
    assert FraudConfigVersion.objects.get(pk=version.pk).state == State.DRAFT


def test_promoting_the_shadowed_version_ends_its_shadow(card):
    version = _in_shadow(_draft(decline_threshold=70))
    config_version_promote(version=version, actor=TEST_ACTOR, reason="It did well.")

    txn = authorize(card)

    assert shadow_config(ttl_seconds=0) is None
    assert txn.risk_config_version == version.number and not ShadowDecision.objects.exists()
    promoted = AuditLog.objects.filter(action=AuditLog.Action.CONFIG_VERSION_PROMOTED).latest("id")
    assert promoted.details["was"] == State.SHADOW


# --- The comparison -------------------------------------------------------------------------------------


def test_the_comparison_counts_decisions_and_changes_and_says_why(card, high_risk_country):
    version = _in_shadow(_draft_with_rule("high_risk_country", score=50))  # 60 -> 80: declined
    for minute in range(3):
        authorize(card, transaction_time=NOW + minute * MINUTE)  # coffee: approved by both
    # The first in Nigeria a minute after the US is impossible travel (100) for both; the
    # next two score 60 (review) live, 80 (decline) in shadow.
    for minute in range(3, 6):
        authorize(card, transaction_time=NOW + minute * MINUTE, **NIGERIAN_CASINO)
    authorize(card, transaction_time=NOW + 2 * datetime.timedelta(days=1))  # outside the period

    result = shadow.comparison(version=version, since=NOW, until=NOW + datetime.timedelta(days=1))

    assert (result.decisions, result.changed) == (6, 2)
    assert result.matrix == {("approve", "approve"): 3, ("decline", "decline"): 1, ("review", "decline"): 2}
    assert [(e.live_score, e.score, e.response_code) for e in result.examples] == [(60, 80, "59")] * 2
    assert shadow.factor_differences(result.examples[0]) == [("high_risk_country", 30, 50)]
    assert read_config().rules["high_risk_country"].score == 50  # the working copy, deciding nothing


# --- The shadow's response code, in the contract's order ------------------------------------------------


@pytest.mark.parametrize(
    ("live", "restriction", "decline", "balance", "expected"),
    [
        ("N7", "blocked", True, 100_00, "N7"),  # a check before risk decides for both
        ("54", None, True, 100_00, "54"),
        ("00", "Merchant category 7995 is blocked.", False, 100_00, "57"),
        ("61", "Merchant category 7995 is blocked.", False, 100_00, "57"),  # restriction before limits
        ("51", None, True, 10_00, "51"),  # funds before the score
        ("61", None, True, 100_00, "61"),
        ("57", None, False, 100_00, "00"),  # a live restriction the shadow lifts
        ("57", None, False, 10_00, "51"),
        ("57", None, True, 100_00, "59"),
        ("00", None, True, 100_00, "59"),
        ("59", None, False, 100_00, "00"),
    ],
)
def test_the_shadow_answers_in_the_contracts_order(live, restriction, decline, balance, expected):
    card = Card(currency="USD", balance_minor=balance)
    txn = Transaction(card=card, currency="USD", amount_minor=42_00, response_code=live)
    assessment = scoring.RiskAssessment(score=0, level="low", decline=decline, restriction=restriction)

    assert shadow.shadow_response_code(txn, assessment) == expected


def test_a_card_in_another_currency_is_not_permitted_for_the_shadow_either():
    txn = Transaction(
        card=Card(currency="EUR", balance_minor=100_00), currency="USD", amount_minor=1, response_code="57"
    )

    assert shadow.shadow_response_code(txn, scoring.RiskAssessment(score=0, level="low")) == "57"


# --- A step-up (1A) in shadow ------------------------------------------------------------------------

TAP = {"entry_mode": "contactless", "cardholder_verification": "no_cvm"}
DEPARTMENT_TAP = {"merchant_id": "M-DEP", "mcc": "5311", **TAP}
LIQUOR_TAP = {"merchant_id": "M-LIQ", "mcc": "5921", **TAP}


@pytest.mark.parametrize(
    ("live", "restriction", "decline", "balance", "expected"),
    [
        ("00", None, False, 100_00, "1A"),
        ("59", None, False, 100_00, "1A"),
        ("1A", None, False, 100_00, "1A"),
        ("00", None, True, 100_00, "59"),  # the score's decline comes first
        ("00", "Merchant category 5921 is blocked.", False, 100_00, "57"),
        ("51", None, False, 10_00, "51"),  # funds before risk
        ("61", None, False, 100_00, "61"),
        ("N7", None, False, 100_00, "N7"),
        ("55", None, False, 100_00, "55"),
        ("57", None, False, 10_00, "51"),  # a live restriction the shadow lifts
    ],
)
def test_the_shadows_step_up_comes_after_its_decline_in_the_contracts_order(
    live, restriction, decline, balance, expected
):
    card = Card(currency="USD", balance_minor=balance)
    txn = Transaction(card=card, currency="USD", amount_minor=42_00, response_code=live)
    assessment = scoring.RiskAssessment(
        score=0, level="low", decline=decline, restriction=restriction, verification="Ask for the PIN."
    )

    assert shadow.shadow_response_code(txn, assessment) == expected


def _bought_in_the_categories(card):
    """Chip and PIN at another department store and liquor store two days ago: neither
    category is new to the card, so only the step-up for a second unverified purchase in
    the hour (unverified_cash_out_again) can ask for the PIN below."""
    for merchant, mcc in (("M-DEP-OLD", "5311"), ("M-LIQ-OLD", "5921")):
        authorize(
            card,
            merchant_id=merchant,
            mcc=mcc,
            entry_mode="chip",
            cardholder_verification="pin_verified",
            transaction_time=NOW - 2 * DAY,
        )


def test_a_step_up_lifted_by_the_shadow_is_stored_and_the_live_answer_stays_1a(authorize_api, card):
    _bought_in_the_categories(card)
    authorize(card, transaction_time=NOW - 30 * MINUTE, **DEPARTMENT_TAP)

    def request():
        return _answer(
            post_authorization(authorize_api, card, transaction_time=NOW.isoformat(), **LIQUOR_TAP)
        )

    without = _rolled_back(request)
    _in_shadow(_draft_with_rule("unverified_cash_out_again", enabled=False))
    before = balance(card)

    with_shadow = request()

    assert with_shadow == without
    assert (with_shadow["status"], with_shadow["response_code"]) == ("declined", "1A")
    assert balance(card) == before
    stored = ShadowDecision.objects.get()
    assert (stored.decision, stored.response_code, stored.live_response_code, stored.changed) == (
        "approve",
        "00",
        "1A",
        True,
    )


def test_a_step_up_in_shadow_never_asks_the_live_cardholder(authorize_api, card):
    live_off = _draft_with_rule("unverified_cash_out_again", enabled=False)
    config_version_promote(version=live_off, actor=TEST_ACTOR, reason="Off while we watch it.")
    scoring.forget_config()
    _bought_in_the_categories(card)
    authorize(card, transaction_time=NOW - 30 * MINUTE, **DEPARTMENT_TAP)

    def request():
        return _answer(
            post_authorization(authorize_api, card, transaction_time=NOW.isoformat(), **LIQUOR_TAP)
        )

    without = _rolled_back(request)
    _in_shadow(_draft_with_rule("unverified_cash_out_again", enabled=True))
    before = balance(card)

    with_shadow = request()

    assert with_shadow == without
    assert (with_shadow["status"], with_shadow["response_code"]) == ("approved", "00")
    assert balance(card) < before and not FraudAlert.objects.exists()
    stored = ShadowDecision.objects.get()
    assert (stored.decision, stored.response_code, stored.changed) == ("decline", "1A", True)
    assert stored.factors[0]["code"] == "unverified_cash_out_again"
