"""A labelled history with stored features, and training on it: for the model's tests."""

import datetime
import random

from fraud import catalogue, training
from fraud.models import FraudModel
from tests.factories import TEST_ACTOR
from tests.fraud.clock import DAY, NOW
from transactions.models import FraudReport, Transaction

CUTOFF = NOW - DAY
SINCE = CUTOFF - 70 * DAY
FEW_TREES = 40
LABEL_DELAY = datetime.timedelta(days=7)  # the history ends 8 days before the cut-off

FRAUD_LIKE = {
    "amount_usd": 950.0,
    "ecommerce": True,
    "card_present": False,
    "first_country": True,
    "amount_to_mean": 6.2,
    "merchant_cvv_mismatch_1h": 4,
    "card_count_1h": 5,
    "hours_since_last": 0.1,
    "foreign": True,
    "cardholder_age": 41,
}
USUAL = {
    "amount_usd": 38.0,
    "ecommerce": False,
    "card_present": True,
    "first_country": False,
    "amount_to_mean": 0.9,
    "merchant_cvv_mismatch_1h": 0,
    "card_count_1h": 0,
    "hours_since_last": 20.0,
    "foreign": False,
    "cardholder_age": 41,
}


def features(rng: random.Random, fraud: bool) -> dict:
    """All catalogue names, most of them noise; the fraud rows differ in a few ways a
    tree finds easily, each of them alone not always."""
    values = {name: None for name in catalogue.NAMES}
    values.update(
        amount_usd=round(rng.uniform(20, 1500) if fraud else rng.uniform(5, 400), 2),
        ecommerce=rng.random() < (0.8 if fraud else 0.3),
        first_country=rng.random() < (0.8 if fraud else 0.05),
        amount_to_mean=round(rng.uniform(1.5, 12) if fraud else rng.uniform(0.3, 3), 2),
        merchant_cvv_mismatch_1h=rng.randint(2, 6) if fraud else rng.choice([0, 0, 0, 1]),
        card_count_1h=rng.randint(2, 8) if fraud else rng.randint(0, 2),
        # Nothing to compare with for some cards: the model must cope with None.
        hours_since_last=None if rng.random() < 0.1 else round(rng.uniform(0, 72), 1),
        cardholder_age=rng.randint(18, 90),
        night=rng.random() < 0.3,
    )
    values["card_present"] = not values["ecommerce"]
    return values


def history(card, *, rows=1200, fraud_share=0.06, since=SINCE, until=CUTOFF - 8 * DAY, seed=7):
    """`rows` decisions spread evenly over [since, until) with stored features; a
    share of them fraud, each reported a day or two later (all before CUTOFF)."""
    rng = random.Random(seed)
    step = (until - since) / rows
    frauds = set(rng.sample(range(rows), round(rows * fraud_share)))
    transactions = [
        transaction_on(card, since + i * step, features(rng, i in frauds), merchant=f"M-{i % 40}")
        for i in range(rows)
    ]
    Transaction.objects.bulk_create(transactions)
    FraudReport.objects.bulk_create(
        FraudReport(
            transaction=transactions[i],
            reason="cardholder dispute",
            reported_at=transactions[i].transaction_time + rng.uniform(0.5, 2.5) * DAY,
        )
        for i in sorted(frauds)
    )
    return transactions, len(frauds)


def transaction_on(card, when, stored_features, *, merchant="M-1") -> Transaction:
    return Transaction(
        card=card,
        masked_pan=card.masked_pan if card else "400000******0000",
        amount_minor=4200,
        currency="USD",
        merchant_id=merchant,
        mcc="5814",
        merchant_country="US",
        transaction_time=when,
        status=Transaction.Status.APPROVED,
        response_code="00",
        reason="approved",
        risk_features=stored_features,
    )


def train(**changes) -> FraudModel:
    return training.train(
        **{
            "actor": TEST_ACTOR,
            "cutoff": CUTOFF,
            "since": SINCE,
            "label_delay": LABEL_DELAY,
            "rounds": FEW_TREES,
            **changes,
        }
    )
