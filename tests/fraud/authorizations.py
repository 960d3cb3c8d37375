"""Authorizations through the real service, and what the tests read from them."""

import datetime

from fraud.models import CountryRisk, FraudSettings, MerchantCategoryRisk, Rule
from tests.authorizing import authorize as shared_authorize
from transactions.models import Transaction

NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)
SECOND = datetime.timedelta(seconds=1)
MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
TICK = datetime.timedelta(microseconds=1)


def authorize(card, **changes) -> Transaction:
    """A 42.00 coffee in the card's currency, card present in the US, at NOW, with the
    card's own number, expiry and CVV; `changes` override any request field."""
    return shared_authorize(card, **{"transaction_time": NOW, **changes})


def wrong_cvv(card) -> str:
    return str((int(card.cvv) + 1) % 1000).zfill(3)


def factors(transaction: Transaction) -> dict[str, dict]:
    """The recorded risk factors by code."""
    return {f["code"]: f for f in transaction.risk_factors}


def codes(transaction: Transaction) -> list[str]:
    return [f["code"] for f in transaction.risk_factors]


def set_rule(code: str, *, score: int | None = None, enabled: bool | None = None, **params) -> Rule:
    """Change a rule the way staff do, with .save(): params given are merged in."""
    rule = Rule.objects.get(code=code)
    if score is not None:
        rule.score = score
    if enabled is not None:
        rule.enabled = enabled
    rule.params = {**rule.params, **params}
    rule.save()
    return rule


def set_settings(**fields) -> FraudSettings:
    settings = FraudSettings.objects.get()
    for name, value in fields.items():
        setattr(settings, name, value)
    settings.save()
    return settings


def list_country(country: str, level: str = CountryRisk.Level.HIGH_RISK) -> CountryRisk:
    entry, _ = CountryRisk.objects.get_or_create(country=country)
    entry.level = level
    entry.save()
    return entry


def list_mcc(mcc: str, level: str = MerchantCategoryRisk.Level.HIGH_RISK) -> MerchantCategoryRisk:
    entry, _ = MerchantCategoryRisk.objects.get_or_create(mcc=mcc)
    entry.level = level
    entry.save()
    return entry
