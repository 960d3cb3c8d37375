"""The fraud engine's configuration changed the way staff change it (with .save()): rules,
settings and the country and merchant-category risk lists."""

from fraud.models import CountryRisk, FraudSettings, MerchantCategoryRisk, Rule


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
