"""No card number reaches a log in clear, whatever a client sends: in a path, a query
string or a header, to Django's loggers (with DEBUG on or off) and to gunicorn's access
and error logs. Each runs in a process of its own, with the logging it is configured
with, and every line it writes is read."""

import http.client
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cardsystem.card_numbers import mask_card_numbers

ROOT = Path(__file__).resolve().parents[2]
PAN = "4111111111111111"
GROUPED = "4111 1111 1111 1111"
MASKED = "************1111"
# What the clients send: the number bare, grouped and URL-encoded, in paths, query
# strings and headers.
PATHS = [
    f"/api/v1/cards/{PAN}/",
    f"/api/v1/bins/{PAN}/?q={PAN}",
    f"/nothing/{GROUPED.replace(' ', '%20')}/?card={GROUPED.replace(' ', '+')}",
    f"/admin/cards/card/?q={PAN}",
]
HEADERS = {"User-Agent": f"shop/{PAN}", "Referer": f"https://shop.example/?card={PAN}", "X-Card": PAN}


def environment(tmp_path: Path, debug: bool) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DEBUG")}
    return env | {
        "DEBUG": "true" if debug else "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "CARD_DATA_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "testserver,127.0.0.1",
        "HTTPS_ONLY": "false",
        "LOG_DIR": str(tmp_path / "logs"),
        "LOG_LEVEL": "INFO",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }


def everything_written(output: str, tmp_path: Path) -> str:
    return output + "".join(path.read_text() for path in (tmp_path / "logs").glob("*"))


def assert_no_card_number(written: str) -> None:
    assert PAN not in written and GROUPED not in written
    assert PAN not in written.replace(" ", "").replace("%20", "").replace("+", "")
    assert MASKED in written  # the lines were written, masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"GET /api/v1/cards/{PAN}/ 404", f"GET /api/v1/cards/{MASKED}/ 404"),
        (f"?card={GROUPED.replace(' ', '+')}&x=1", f"?card={MASKED}&x=1"),
        (f"/{GROUPED.replace(' ', '%20')}/", f"/{MASKED}/"),
        ("ref 12345678901 at 2026-12-03T16:06:12+0000", "ref 12345678901 at 2026-12-03T16:06:12+0000"),
        ("id 7c9e6679-7425-40de-944b-e07fc1f90ae7", "id 7c9e6679-7425-40de-944b-e07fc1f90ae7"),
    ],
)
def test_card_numbers_are_masked_and_other_numbers_kept(text, masked):
    assert mask_card_numbers(text) == masked


DJANGO_REQUESTS = f"""
import django
from django.core.management import call_command
django.setup()
call_command("migrate", verbosity=0)
from django.test import Client
from cardsystem.audit import Actor
from cardsystem.services import api_client_create
_, key = api_client_create(name="gateway", scopes=["authorize", "manage"], actor=Actor.system("test"))
client = Client(raise_request_exception=False)
headers = {HEADERS!r}
for path in {PATHS!r}:
    client.get(path, headers=headers)
    client.get(path, headers=headers | {{"Authorization": "Bearer " + key}})
client.post("/api/v1/authorizations/", {{"card_number": "{PAN}"}}, content_type="application/json",
            headers=headers | {{"Authorization": "Bearer " + key}})
"""


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
def test_django_logs_no_card_number(tmp_path, debug):
    finished = subprocess.run(  # noqa: S603  (this interpreter, a fixed program)
        [sys.executable, "-c", DJANGO_REQUESTS],
        cwd=ROOT,
        env=environment(tmp_path, debug),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    written = everything_written(finished.stdout + finished.stderr, tmp_path)
    assert "Not Found" in written  # Django's request logger spoke
    assert_no_card_number(written)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_logs_no_card_number(tmp_path):
    port = _free_port()
    env = environment(tmp_path, debug=False)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable, "-m", "gunicorn", "cardsystem.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "1",
            "--logger-class", "cardsystem.gunicorn_logging.ScrubbingGunicornLogger",
            "--access-logfile", "-", "--error-logfile", "-", "--log-level", "debug",
            # The whole request line (with its query string), the referrer and the agent.
            "--access-logformat", '%(h)s "%(r)s" %(s)s "%(f)s" "%(a)s" %(U)s %(q)s',
        ],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        for path in PATHS:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", path, headers=HEADERS)
            connection.getresponse().read()
            connection.close()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    # The access log spoke, a line for each request, the query string in it.
    assert f'"GET /nothing/{MASKED}/?card={MASKED} HTTP/1.1" 404' in output
    assert output.count('127.0.0.1 "GET /') == len(PATHS), output[-3000:]
    assert_no_card_number(everything_written(output, tmp_path))
