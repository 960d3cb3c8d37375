"""System checks for configuration that must never fall back silently."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from cardsystem.keys import CardDataError, validate_key
from cardsystem.passwords import key_is_guessable
from cardsystem.rates import parse_rate

MIN_METRICS_TOKEN_LENGTH = 32


@register(Tags.security, deploy=False)
def check_card_data_key(app_configs, **kwargs):
    errors = []
    for name, material in [("CARD_DATA_KEY", settings.CARD_DATA_KEY)] + [
        ("CARD_DATA_OLD_KEYS", old) for old in settings.CARD_DATA_OLD_KEYS
    ]:
        try:
            validate_key(material)
        except CardDataError:
            errors.append(
                Error(
                    f"{name} missing or malformed.",
                    hint="Set it to a random string of at least 32 characters, for example the output "
                    "of: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
                    id="cardsystem.E001",
                )
            )
    return errors


@register(Tags.security, deploy=False)
def check_secret_key(app_configs, **kwargs):
    if not _secret_key():
        return [
            Error(
                "SECRET_KEY missing.",
                hint="With DEBUG=false, set SECRET_KEY to a long random string.",
                id="cardsystem.E002",
            )
        ]
    return []


@register(Tags.security, deploy=False)
def check_keys_are_not_guessable(app_configs, **kwargs):
    """With DEBUG off, a key a person could guess (a word, thirty-two identical characters)
    refuses to start, as a missing one does; a local trial keeps its development keys."""
    if settings.DEBUG:
        return []
    keys = [("SECRET_KEY", _secret_key()), ("CARD_DATA_KEY", settings.CARD_DATA_KEY)] + [
        ("CARD_DATA_OLD_KEYS", old) for old in settings.CARD_DATA_OLD_KEYS
    ]
    return [
        Error(
            f"{name} is too easy to guess.",
            hint="Use a long random string, for example the output of: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'",
            id="cardsystem.E003",
        )
        for name, material in keys
        if material and key_is_guessable(material)
    ]


@register(Tags.security, deploy=False)
def check_rate_limit_settings(app_configs, **kwargs):
    """The failed-authentication rate, and the proxy count every client address depends on."""
    errors = []
    try:
        parse_rate(settings.API_AUTH_FAILURE_RATE)
    except ValueError as error:
        errors.append(Error(f"API_AUTH_FAILURE_RATE is malformed: {error}", id="cardsystem.E004"))
    if settings.TRUSTED_PROXY_COUNT < 0:
        errors.append(
            Error(
                "TRUSTED_PROXY_COUNT cannot be negative.",
                hint="Set it to the number of proxies in front that append to X-Forwarded-For (0: none).",
                id="cardsystem.E005",
            )
        )
    return errors


@register(Tags.security, deploy=False)
def check_metrics_token(app_configs, **kwargs):
    """A metrics token short enough to guess opens the traffic and fraud figures."""
    if not settings.METRICS_TOKEN or len(settings.METRICS_TOKEN) >= MIN_METRICS_TOKEN_LENGTH:
        return []
    return [
        Error(
            f"METRICS_TOKEN is shorter than {MIN_METRICS_TOKEN_LENGTH} characters.",
            hint="python -c 'import secrets; print(secrets.token_urlsafe(32))', or leave it empty "
            "(then only this machine's loopback reads /metrics).",
            id="cardsystem.E006",
        )
    ]


@register(Tags.security, deploy=True)
def check_staff_second_factor(app_configs, **kwargs):
    """Production without the staff second factor is a finding (PCI DSS 8.4.2)."""
    if settings.DEBUG or settings.STAFF_MFA_REQUIRED:
        return []
    return [
        Warning(
            "STAFF_MFA_REQUIRED is off: staff reach the back office with a password alone.",
            hint="Unset it (true by default with DEBUG=false) or set it to true.",
            id="cardsystem.W001",
        )
    ]


def _secret_key() -> str:
    """SECRET_KEY, or "" when it is missing (Django refuses to read an empty one)."""
    try:
        return settings.SECRET_KEY
    except ImproperlyConfigured:
        return ""


def fail_fast() -> None:
    """Refuse to start a server process when the checks above fail (gunicorn runs no checks)."""
    problems = [
        *check_card_data_key(None),
        *check_secret_key(None),
        *check_keys_are_not_guessable(None),
        *check_rate_limit_settings(None),
        *check_metrics_token(None),
    ]
    if problems:
        raise ImproperlyConfigured("; ".join(f"{p.id} {p.msg} {p.hint}" for p in problems))
