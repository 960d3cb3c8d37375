"""How long an exact backtest takes on a million stored decisions.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> .venv/bin/python bench/backtest.py [--rows 1000000]

Migrates the database named by DATABASE_URL (a throwaway SQLite file when it names
none: bench/databases.py), then (once: a database that already holds
the rows is reused) bulk-inserts `--rows` synthetic decisions in the stored format, not
through the API: known cards, facts mixed over channels, countries, MCCs and CVV results,
every catalogue feature and rule input with plausible values, a recorded score and code,
fraud reports on 0.5% of them. Then times `fraud.backtest.backtest` of the live version
over all of them, and of a draft with a lower decline threshold, and prints decisions,
changed, seconds and rows/s with the load average it started with.
"""

import argparse
import datetime
import os
import random
import time

from databases import django_in_process

django_in_process("bench-backtest-")

from dataclasses import replace  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from bins.services import bin_create  # noqa: E402
from cards.models import Card  # noqa: E402
from cards.services import card_issue_bulk  # noqa: E402
from cardsystem.audit import Actor  # noqa: E402
from fraud import catalogue  # noqa: E402
from fraud.backtest import backtest, version_to_backtest  # noqa: E402
from fraud.configuration import version_config  # noqa: E402
from fraud.versions import config_version_create  # noqa: E402
from transactions.models import FraudReport, Transaction  # noqa: E402

MERCHANT = "BENCH-BT-"
START = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
BATCH = 5000
ACTOR = Actor.system("bench/backtest.py")


def features(rng: random.Random, channel: str, cvv: str, at: datetime.datetime) -> dict:
    values = {}
    for feature in catalogue.FEATURES:
        if feature.unit == "flag":
            values[feature.name] = rng.random() < 0.2
        elif feature.unit and rng.random() < 0.05:  # nothing to compare with (counts never)
            values[feature.name] = None
        elif feature.unit in ("usd", "km", "km/h", "hours"):
            values[feature.name] = round(rng.lognormvariate(3, 1.2), 2)
        elif feature.unit in ("share", "times", "sd"):
            values[feature.name] = round(rng.random() * 3, 3)
        else:
            values[feature.name] = rng.randint(0, 12)
    values["cardholder_age"] = rng.randint(18, 90)
    values["merchant_failures_long"] = None
    count = rng.randint(0, 60)
    values.update(
        card_count_1m=rng.choice([0, 0, 0, 1, 4]),
        card_approved_count_30d=count,
        card_approved_minor_30d=count * rng.randint(500, 9000),
        card_approved_minor_1h=rng.choice([0, 0, 5000, 250_000]),
        card_approved_minor_24h=rng.choice([0, 20_000, 600_000]),
        previous_present_time=(at - datetime.timedelta(minutes=rng.randint(5, 5000))).isoformat(),
        previous_present_country=rng.choice(["US", "GB", "JP", "BR"]),
        merchant_recent_count=rng.randint(0, 200),
        merchant_recent_fraud=rng.choice([0, 0, 0, 3]),
        home_country="US",
        card_check_streak=rng.choice([0, 1, 2]) if cvv == "mismatch" else None,
        card_check_streak_expiries=0 if cvv == "mismatch" else None,
    )
    return values


def fill(rows: int, seed: int) -> None:
    have = Transaction.objects.filter(merchant_id__startswith=MERCHANT).count()
    if have >= rows:
        print(f"reusing {have:,} stored decisions")
        return
    rng = random.Random(seed)
    with transaction.atomic():
        bin_row = bin_create(
            actor=ACTOR, bin="499977", network="visa", issuer_name="Bench Bank", card_type="debit",
            country="US", currency="USD", pan_length=16,
        )  # fmt: skip
        card_issue_bulk(bin=bin_row, count=200, actor=ACTOR, on_issued=lambda issued: None)
    cards = list(Card.objects.filter(bin=bin_row).values_list("pk", "masked_pan"))
    started = time.perf_counter()
    for first in range(have, rows, BATCH):
        batch, reports = [], []
        for i in range(first, min(first + BATCH, rows)):
            at = START + datetime.timedelta(seconds=3 * i)
            card, masked = rng.choice(cards)
            channel = rng.choice(["pos", "ecommerce", "ecommerce", "atm"])
            cvv = rng.choices(["match", "mismatch", "absent", "unchecked"], [85, 3, 7, 5])[0]
            score = rng.choice([0, 0, 5, 10, 20, 35, 50, 70, 90])
            code = "N7" if cvv == "mismatch" else "59" if score >= 70 else "00"
            batch.append(
                Transaction(
                    card_id=card,
                    masked_pan=masked,
                    bin_prefix="499977",
                    amount_minor=rng.randint(100, 300_000),
                    currency="USD",
                    merchant_id=f"{MERCHANT}{rng.randint(1, 5000)}",
                    mcc=rng.choice(["5411", "5812", "5999", "7995", "4829"]),
                    merchant_country=rng.choice(["US", "US", "US", "GB", "NG", "BR"]),
                    channel=channel,
                    transaction_time=at,
                    status="approved" if code == "00" else "declined",
                    response_code=code,
                    reason="approved",
                    cvv_result=cvv,
                    risk_score=score,
                    risk_level="low",
                    risk_factors=[{"code": "amount_large", "score": 30, "detail": ""}] if score >= 30 else [],
                    risk_features=features(rng, channel, cvv, at),
                    risk_config_version=1,
                )
            )
        with transaction.atomic():
            Transaction.objects.bulk_create(batch)
            reports = [t for t in batch if rng.random() < 0.005]
            FraudReport.objects.bulk_create(
                FraudReport(
                    transaction=t, reason="bench", reported_at=t.transaction_time, merchant_id=t.merchant_id
                )
                for t in reports
            )
        if (first // BATCH) % 20 == 0:
            print(f"  {first + len(batch):,} rows in {time.perf_counter() - started:.0f} s", flush=True)


def timed(version, label: str, until: datetime.datetime) -> None:
    started = time.perf_counter()
    report = backtest(version=version, since=START, until=until)
    elapsed = time.perf_counter() - started
    print(
        f"{label}: {report.decisions:,} decisions re-decided, {report.changed:,} changed, "
        f"{elapsed:.1f} s, {report.decisions / elapsed:,.0f} rows/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    call_command("migrate", verbosity=0)
    fill(args.rows, args.seed)
    until = START + datetime.timedelta(seconds=3 * args.rows)
    live = version_to_backtest(None)
    timed(live, f"live version {live.number}", until)
    config = replace(version_config(live), decline_threshold=40, version=None)
    draft = config_version_create(actor=ACTOR, reason="bench: a lower decline threshold", config=config)
    timed(draft, f"draft version {draft.number} (decline from 40)", until)


if __name__ == "__main__":
    main()
