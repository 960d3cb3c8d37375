"""A small world of decisions, fraud reports and alerts whose dashboard figures are known
(cardsystem/dashboard.py, transactions/dashboard.py, fraud/dashboard.py), at NOW."""

import datetime
from dataclasses import replace

from django.urls import reverse

from fraud.configuration import ModelChoice, RuleConfig, read_config
from fraud.models import FraudAlert, FraudModel
from fraud.versions import config_version_create, config_version_promote
from tests.factories import TEST_ACTOR, CardFactory
from transactions.models import FraudReport, Transaction

NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
PAGE = reverse("admin:index")
OUTCOMES = {
    # name: status, response code, reason, risk level, flagged
    "approved": ("approved", "00", "approved", "low", False),
    "review": ("approved", "00", "approved", "medium", True),
    "reversed": ("reversed", "00", "approved", "low", False),
    "risk_decline": ("declined", "59", "suspected_fraud", "high", True),
    "funds": ("declined", "51", "insufficient_funds", "low", False),
    "unknown_card": ("declined", "14", "invalid_card", "", False),
}


def decision(
    outcome: str,
    *,
    ago,
    amount=1000,
    currency="USD",
    score=10,
    rules="",
    fraud=False,
    card=None,
    version=1,
    now=NOW,
):
    status, code, reason, level, flagged = OUTCOMES[outcome]
    txn = Transaction.objects.create(
        card=card,
        masked_pan="400000******0002",
        amount_minor=amount,
        currency=currency,
        merchant_id="M-1",
        mcc="5999",
        merchant_country="US",
        transaction_time=now - ago,
        status=status,
        response_code=code,
        reason=reason,
        risk_score=None if outcome == "unknown_card" else score,
        risk_level=level,
        risk_rules=rules,
        risk_config_version=None if outcome == "unknown_card" else version,
        flagged=flagged,
    )
    if fraud:
        FraudReport.objects.create(
            transaction=txn, reason="Dispute.", reported_at=now, transaction_time=txn.transaction_time
        )
    return txn


def decisions(now=NOW):
    """24 h: 6 decisions (approved 3 with the reversal, review 1, declined 2), 7 d: 7,
    30 d: 8 (one on an unknown card, without a score). Fraud reported: 24 h USD 50.00 and
    EUR 3.00 (2 reports), 7 d adds USD 100.00."""
    half_hour = HOUR / 2
    decision("approved", ago=half_hour, amount=1000, score=10, rules=",amount_large,", now=now)
    decision("review", ago=half_hour, amount=2000, score=55, rules=",amount_large,foreign_country!,", now=now)
    decision(
        "risk_decline", ago=half_hour, amount=5000, score=85, rules=",amount_large!,", fraud=True, now=now
    )
    decision("funds", ago=half_hour, amount=700, currency="EUR", score=20, now=now)
    decision("approved", ago=5 * HOUR, amount=300, currency="EUR", score=0, fraud=True, now=now)
    decision("reversed", ago=5 * HOUR, amount=400, score=100, now=now)
    decision("approved", ago=3 * DAY, amount=10_000, score=30, fraud=True, now=now)
    decision("unknown_card", ago=10 * DAY, amount=900, now=now)
    decision("approved", ago=40 * DAY, amount=100, score=40, now=now)


def alerts(now=NOW):
    """Unresolved alerts aged 30 min, 2 h, 5 h, 10 h (investigating), 2 d and 4 d, and one
    resolved: by age 1, 1, 2, 1, 1; the oldest opened 4 days ago."""
    card = CardFactory()
    ages = [HOUR / 2, 2 * HOUR, 5 * HOUR, 10 * HOUR, 2 * DAY, 4 * DAY, HOUR]
    for n, age in enumerate(ages):
        status = {3: FraudAlert.Status.INVESTIGATING, 6: FraudAlert.Status.CONFIRMED_FRAUD}.get(n, "open")
        txn = decision("review", ago=40 * DAY, card=card, now=now)
        alert = FraudAlert.objects.create(
            transaction=txn, card=card, risk_score=60, reason="test", status=status
        )
        FraudAlert.objects.filter(pk=alert.pk).update(created_at=now - age)


def live_model(version: int = 7) -> int:
    """A model (never parsed here) scoring in a new live configuration version: its number."""
    model = FraudModel.objects.create(version=version, created_by="test", artifact="-")
    config = read_config()
    rules = {**config.rules, "model": RuleConfig(40, {}, True)}
    config = replace(config, model=ModelChoice(model.pk, version), rules=rules)
    created = config_version_create(actor=TEST_ACTOR, reason=f"Model {version}.", config=config)
    return config_version_promote(version=created, actor=TEST_ACTOR, reason=f"Model {version}.").number
