"""What the staff second factor costs: an admin page for a session verified by a TOTP
device (STAFF_MFA_REQUIRED on) against the same page for a password-only session, and
one code check at login (a TOTP code, a recovery code).

    .venv/bin/python bench/second_factor.py [--requests 300] [--checks 300]

Works on a fresh SQLite file in a temporary directory (migrated first, removed after).
Prints milliseconds per request or check (the median of five runs), the queries of one
request, and the load average it started with.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
TEMP = tempfile.TemporaryDirectory(prefix="bench-mfa-")
os.environ["DATABASE_URL"] = f"sqlite:///{TEMP.name}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["LOG_DIR"] = TEMP.name

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django_otp import DEVICE_ID_SESSION_KEY, verify_token  # noqa: E402
from django_otp.oath import totp  # noqa: E402

from cardsystem.audit import Actor  # noqa: E402
from cardsystem.mfa import confirmed_totp_device, enrolment_device, mfa_enrol  # noqa: E402
from cardsystem.models import RecoveryCodeDevice  # noqa: E402

PAGE = "/admin/cardsystem/auditlog/"


def per_call_ms(function, calls: int) -> float:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        runs.append((time.perf_counter() - start) / calls * 1e3)
    return statistics.median(runs)


def session(user, device=None) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    if device is not None:
        stored = client.session
        stored[DEVICE_ID_SESSION_KEY] = device.persistent_id
        stored.save()
    return client


def page_row(label: str, client: Client, requests: int) -> tuple[str, float, int]:
    if client.get(PAGE).status_code != 200:
        raise SystemExit(f"{label}: the page did not open")
    queries = []
    with connection.execute_wrapper(lambda execute, sql, *rest: queries.append(sql) or execute(sql, *rest)):
        client.get(PAGE)
    return label, per_call_ms(lambda: client.get(PAGE), requests), len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--checks", type=int, default=300)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}; median of 5 runs")
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", is_staff=True, is_superuser=True)
    device = enrolment_device(user=user)
    code = f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"
    mfa_enrol(user=user, code=code, actor=Actor.system("bench"))
    device = confirmed_totp_device(user)
    recovery = RecoveryCodeDevice.objects.get(user=user)

    with override_settings(STAFF_MFA_REQUIRED=False):
        rows = [page_row("admin page, password only (MFA off)", session(user), args.requests)]
    with override_settings(STAFF_MFA_REQUIRED=True):
        rows.append(page_row("admin page, session verified by TOTP", session(user, device), args.requests))
    print(f"{'':42} {'ms/request':>10} {'queries':>8}")
    for label, ms, queries in rows:
        print(f"{label:42} {ms:10.2f} {queries:8d}")
    print(f"ratio verified / password only: {rows[1][1] / rows[0][1]:.2f}")

    # A check's cost, without django-otp's wait between failures (a wrong code costs what
    # a right one does: the same HMACs, or the same hash lookup, and a row update).
    with override_settings(OTP_TOTP_THROTTLE_FACTOR=0, OTP_STATIC_THROTTLE_FACTOR=0):
        totp_ms = per_call_ms(lambda: verify_token(user, device.persistent_id, "000000"), args.checks)
        recovery_ms = per_call_ms(
            lambda: verify_token(user, recovery.persistent_id, "AAAAAAAAAAAAAAAA"), args.checks
        )
    print(f"{'TOTP code check (django-otp verify_token)':42} {totp_ms:10.2f} ms")
    print(f"{'recovery code check':42} {recovery_ms:10.2f} ms")


if __name__ == "__main__":
    try:
        main()
    finally:
        connection.close()
        TEMP.cleanup()
