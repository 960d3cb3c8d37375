import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cardsystem.checks import check_card_data_key, check_keys_are_not_guessable, check_secret_key, fail_fast

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "CARD_DATA_KEY")}
    return subprocess.run(  # noqa: S603 (fixed arguments)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_card_data_key_is_a_system_check_error(settings):
    settings.CARD_DATA_KEY = ""
    assert [e.id for e in check_card_data_key(None)] == ["cardsystem.E001"]


def test_a_short_old_key_is_a_system_check_error(settings):
    settings.CARD_DATA_OLD_KEYS = ["short"]
    assert [e.id for e in check_card_data_key(None)] == ["cardsystem.E001"]


def test_a_missing_secret_key_is_a_system_check_error(settings):
    settings.SECRET_KEY = ""
    assert [e.id for e in check_secret_key(None)] == ["cardsystem.E002"]


def test_server_processes_refuse_to_start_without_keys(settings):
    settings.CARD_DATA_KEY = ""
    with pytest.raises(ImproperlyConfigured, match=r"cardsystem\.E001"):
        fail_fast()


def test_production_without_keys_fails_at_start_up_with_a_clear_message():
    result = _manage("check", DEBUG="false", ALLOWED_HOSTS="cards.example")
    assert result.returncode != 0
    assert "cardsystem.E001" in result.stderr and "cardsystem.E002" in result.stderr


def test_production_settings_pass_the_deploy_checks_without_warnings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        ALLOWED_HOSTS="cards.example",
        SECRET_KEY="x" * 20 + "a-long-random-production-secret-key-value-0123456789",
        CARD_DATA_KEY="a-production-card-data-key-of-enough-length-0123",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_development_defaults_run_with_no_environment_at_all():
    result = _manage("check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["SECRET_KEY", "CARD_DATA_KEY"])
@pytest.mark.parametrize("weak", ["a" * 64, "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop"])
def test_production_refuses_to_start_with_a_key_that_is_easy_to_guess(settings, name, weak):
    settings.DEBUG = False
    setattr(settings, name, weak)
    assert [e.id for e in check_keys_are_not_guessable(None)] == ["cardsystem.E003"]
    with pytest.raises(ImproperlyConfigured, match=rf"cardsystem\.E003 {name} is too easy to guess"):
        fail_fast()


def test_a_guessable_old_card_data_key_is_refused_too(settings):
    settings.DEBUG = False
    settings.CARD_DATA_OLD_KEYS = ["b" * 40]
    assert [e.id for e in check_keys_are_not_guessable(None)] == ["cardsystem.E003"]


def test_generated_keys_pass_and_a_local_trial_keeps_its_development_keys(settings):
    settings.DEBUG = False
    settings.SECRET_KEY, settings.CARD_DATA_KEY = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    assert check_keys_are_not_guessable(None) == []
    settings.DEBUG = True
    settings.CARD_DATA_KEY = "a" * 32
    assert check_keys_are_not_guessable(None) == []


def test_production_with_a_guessable_key_fails_at_start_up():
    result = _manage(
        "check",
        DEBUG="false",
        ALLOWED_HOSTS="cards.example",
        SECRET_KEY=secrets.token_urlsafe(48),
        CARD_DATA_KEY="x" * 32,
    )
    assert result.returncode != 0 and "cardsystem.E003" in result.stderr
