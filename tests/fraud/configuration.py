"""The fraud engine's configuration changed the way staff change it: the working copy
edited with .save() (rules, settings and the country and merchant-category risk lists),
then saved as a version and promoted (`go_live`), as nothing decides before."""

from cardsystem.audit import Actor
from fraud.configuration import as_snapshot, read_config
from fraud.models import CountryRisk, FraudSettings, MerchantCategoryRisk, Rule
from fraud.versions import config_version_create, config_version_promote, live_version

TESTS = Actor.system("tests")


def go_live(reason: str = "A test's change."):
    """The working copy as a new version, promoted: what makes staff's edits decide.
    Nothing to do when the working copy is the live configuration already."""
    live = live_version()
    if live is not None and live.snapshot == as_snapshot(read_config()):
        return live
    version = config_version_create(actor=TESTS, reason=reason)
    return config_version_promote(version=version, actor=TESTS, reason=reason)


def set_rule(code: str, *, score: int | None = None, enabled: bool | None = None, **params) -> Rule:
    """Change a rule the way staff do, with .save(), and put it live: params given are merged in."""
    rule = Rule.objects.get(code=code)
    if score is not None:
        rule.score = score
    if enabled is not None:
        rule.enabled = enabled
    rule.params = {**rule.params, **params}
    rule.save()
    go_live()
    return rule


def set_settings(**fields) -> FraudSettings:
    settings = FraudSettings.objects.get()
    for name, value in fields.items():
        setattr(settings, name, value)
    settings.save()
    go_live()
    return settings


def list_country(country: str, level: str = CountryRisk.Level.HIGH_RISK) -> CountryRisk:
    entry, _ = CountryRisk.objects.get_or_create(country=country)
    entry.level = level
    entry.save()
    go_live()
    return entry


def list_mcc(mcc: str, level: str = MerchantCategoryRisk.Level.HIGH_RISK) -> MerchantCategoryRisk:
    entry, _ = MerchantCategoryRisk.objects.get_or_create(mcc=mcc)
    entry.level = level
    entry.save()
    go_live()
    return entry
