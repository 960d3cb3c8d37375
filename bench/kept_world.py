"""A closer look at an evaluation world kept by `fraud_quality.py --keep DIR`, from its
database and ground truth alone (no Django, nothing replayed):

    .venv/bin/python bench/kept_world.py DIR                       # its figures, and what-ifs
    .venv/bin/python bench/kept_world.py DIR --attacks card_abroad  # each attack's first attempts

The figures are fraud_quality.py's (`world_figures`): per scenario the attacks stopped
(scored at the decline threshold, or answered 1A: the PIN asked for, which a thief cannot
type) before their third transaction, the false declines of clean legitimate transactions
on cards no attack had touched yet (a 1A is none: left out of them), the clean ones
stepped up (answered 1A), average precision. The what-ifs add a candidate rule's
80 points to each decision's stored score where the candidate's condition holds on the
stored facts and values, or (a step-up candidate) answer 1A there where the score does
not decline: the traffic is not replayed (a decline does not change later
histories), so they estimate, and a full run measures. Tuning worlds only: looking at an
evaluation world's attacks makes it a tuning world.
"""

import argparse
import datetime
import json
import sqlite3
from collections import defaultdict
from pathlib import Path

from sklearn.metrics import average_precision_score

COLUMNS = (
    "id, risk_score, risk_factors, risk_features, card_id, transaction_time, merchant_id, merchant_country, "
    "amount_minor, currency, entry_mode, cardholder_verification, three_ds, cvv_result, expiry_result, "
    "status, channel, mcc, response_code"
)
POINTS = 80
HOUR = datetime.timedelta(hours=1)
CASH_OUT = {"5311", "5732", "5921", "5944"}  # department, electronics, liquor, jewellery (0020)
STEP_UP = "1A"  # verification required: a soft decline, the PIN asked for


def _abroad(r):
    home = r["v"].get("home_country")
    return home is not None and r["merchant_country"] != home


def _new_merchant(r):
    return bool(r["v"].get("first_merchant"))


def _device(r):
    return r["v"].get("device_approvals_30d")


def _others(r):
    return (r["v"].get("card_device_approvals_30d") or 0) - (_device(r) or 0)


def _failures(r):
    return r["v"].get("merchant_testing_failures") or 0


def _cash_out_again(r, categories=CASH_OUT):
    """fraud 0020's unverified_cash_out_again from the card's scored attempts of the hour
    before (`hour_before`, for worlds kept before its values were stored)."""
    if r["channel"] not in ("pos", "atm") or r["cardholder_verification"] not in ("no_cvm", "signature"):
        return False
    before = r["hour_before"]
    unverified = {p["mcc"] for p in before if p["channel"] in ("pos", "atm") and p["cardholder_verification"]
                  in ("no_cvm", "signature", "pin_failed")}  # fmt: skip
    verified = any(p["cardholder_verification"] in ("pin_verified", "consumer_device") for p in before)
    return r["mcc"] in categories and bool(unverified & categories) and not verified


# The candidates measured for migration fraud 0018 (bench/README.md), as conditions on the
# decision's stored facts and values: each adds POINTS unless the rule fired already.
CANDIDATES = {
    "keyed in person, new merchant abroad": lambda r: (
        r["channel"] in ("pos", "atm") and r["entry_mode"] == "keyed" and _new_merchant(r) and _abroad(r)
    ),
    "3-D Secure failed, new merchant abroad, device never used": lambda r: (
        r["three_ds"] == "failed" and _new_merchant(r) and _device(r) == 0 and _abroad(r)
    ),
    "3-D Secure failed, new merchant abroad, device used at most once": lambda r: (
        r["three_ds"] == "failed"
        and _new_merchant(r)
        and _device(r) is not None
        and _device(r) <= 1
        and _abroad(r)
    ),
    "3-D Secure failed, new merchant, device used at most once, others known": lambda r: (
        r["three_ds"] == "failed"
        and _new_merchant(r)
        and _device(r) is not None
        and _device(r) <= 1
        and _others(r) >= 1
        and "new_device_3ds_failed" not in r["f"]
    ),
    "merchant card testing from 3 failed checks": lambda r: 3 <= _failures(r) < 5,
    "merchant card testing from 2 failed checks": lambda r: 2 <= _failures(r) < 5,
    # Measured for migration fraud 0020 (bench/README.md, lost or stolen cards).
    "unverified at cash-out categories again, no verified cardholder in the hour": lambda r: (
        _cash_out_again(r) and "unverified_cash_out_again" not in r["f"]
    ),
    "the same without liquor stores": lambda r: (
        _cash_out_again(r, CASH_OUT - {"5921"}) and "unverified_cash_out_again" not in r["f"]
    ),
}
# Measured for migrations fraud 0022 and 0023 (bench/README.md: card testing's first
# cards, a lost or stolen card's first purchase).
CANDIDATES["2 failed checks at half the merchant's window, on a purchase up to 5 USD"] = lambda r: (
    _failures(r) >= 2
    and _failures(r) >= 0.5 * (r["v"].get("merchant_testing_attempts") or 0)
    and (amount := r["v"].get("amount_usd")) is not None
    and amount <= 5
    and "merchant_card_testing" not in r["f"]
    and "merchant_card_testing_small" not in r["f"]
)


def _unverified_cash_out_new_category(r, *, verified_hour: bool = True) -> bool:
    """fraud 0023's unverified_cash_out_new_category on the stored values (with
    `verified_hour` False, without its condition on the hour's verified cardholder)."""
    return (
        r["channel"] in ("pos", "atm")
        and r["cardholder_verification"] in ("no_cvm", "signature")
        and r["mcc"] in CASH_OUT
        and bool(r["v"].get("first_mcc"))
        and (not verified_hour or r["v"].get("card_verified_cvm_1h") == 0)
    )


STEP_UP_CANDIDATES = {
    "step-up: unverified at a cash-out category new to the card": lambda r: _unverified_cash_out_new_category(
        r, verified_hour=False
    ),
    "step-up: the same, no verified cardholder in the hour": _unverified_cash_out_new_category,
}
ADOPTED = (  # in migration fraud 0018
    "keyed in person, new merchant abroad",
    "3-D Secure failed, new merchant abroad, device never used",
    "3-D Secure failed, new merchant, device used at most once, others known",
    "merchant card testing from 3 failed checks",
)


def load(directory: Path) -> list[dict]:
    """The scored decisions in time order, each with its truth, stored values and factors,
    whether it was stepped up (1A), and whether it is a clean legitimate one
    (fraud_quality.py's false-decline base, before the 1A are left out of it)."""
    truth = json.loads((directory / "truth.json").read_text())
    order = {t[0].replace("-", ""): (position, t) for position, t in enumerate(truth)}
    db = sqlite3.connect(directory / "worlds.sqlite3")
    names = [name.strip() for name in COLUMNS.split(",")]
    rows = []
    for values in db.execute(f"SELECT {COLUMNS} FROM transactions_transaction WHERE risk_score IS NOT NULL"):  # noqa: S608
        r = dict(zip(names, values, strict=True))
        if r["id"] not in order:
            continue
        position, (_id, fraud, scenario, attack) = order[r["id"]]
        r.update(order=position, fraud=fraud, scenario=scenario, attack=attack)
        r["v"] = json.loads(r["risk_features"] or "{}")
        r["f"] = {f["code"]: f["score"] for f in json.loads(r["risk_factors"])}
        r["stepped_up"] = r["response_code"] == STEP_UP
        rows.append(r)
    rows.sort(key=lambda r: r["order"])
    by_card = defaultdict(list)
    for r in rows:  # the card's scored attempts of the hour before each one
        r["at"] = datetime.datetime.fromisoformat(r["transaction_time"])
        earlier = by_card[r["card_id"]]
        r["hour_before"] = [p for p in earlier[-50:] if p["at"] < r["at"] and r["at"] - p["at"] <= HOUR]
        earlier.append(r)
    touched = {}
    for r in rows:
        if r["attack"] is not None:
            touched.setdefault(r["card_id"], r["transaction_time"])
    for r in rows:
        r["clean"] = (
            not r["fraud"]
            and "mismatch" not in (r["cvv_result"], r["expiry_result"])
            and r["cardholder_verification"] != "pin_failed"  # declined as 55, as fraud_quality.py
            and (r["card_id"] not in touched or r["transaction_time"] < touched[r["card_id"]])
        )
    return rows


def figures(rows: list[dict], decline: int, extra=lambda r: 0, step=lambda r: False) -> str:
    """`extra`: a candidate's points on a decision; `step`: a candidate step-up's condition,
    which answers 1A where the score does not decline (a stop on an attack, no false
    decline, a clean purchase stepped up)."""
    scores = [min(100, r["risk_score"] + extra(r)) for r in rows]
    stepped_up = [
        r["stepped_up"] or (score < decline and step(r)) for r, score in zip(rows, scores, strict=True)
    ]
    attacks = defaultdict(lambda: defaultdict(list))  # scenario -> attack -> stopped, per attempt
    for r, score, asked in zip(rows, scores, stepped_up, strict=True):
        if r["fraud"]:
            attacks[r["scenario"]][r["attack"]].append(score >= decline or asked)
    kinds = " ".join(
        f"{kind}={sum(any(g[:2]) for g in by.values())}/{len(by)}" for kind, by in sorted(attacks.items())
    )
    clean = [(score, asked) for r, score, asked in zip(rows, scores, stepped_up, strict=True) if r["clean"]]
    stepped = sum(asked for _, asked in clean)
    base = [score for score, asked in clean if not asked]  # a 1A is no decline
    fired = sum(1 for r in rows if r["clean"] and (extra(r) or step(r)))
    ap = average_precision_score([r["fraud"] for r in rows], scores)
    declined = sum(score >= decline for score in base)
    return (
        f"AP {ap:.3f}, false declines {declined} of {len(base)}, stepped up {stepped} of {len(clean)}, "
        f"fired on {fired} clean; before 3rd: {kinds}"
    )


def show_attacks(rows: list[dict], kinds: set[str], decline: int) -> None:
    attacks = defaultdict(list)
    for r in rows:
        if r["fraud"] and r["scenario"] in kinds:
            attacks[(r["scenario"], r["attack"])].append(r)
    keys = (
        "first_merchant",
        "first_country",
        "home_country",
        "card_approved_count_30d",
        "device_approvals_30d",
    )
    keys += ("card_device_approvals_30d", "amount_usd", "merchant_testing_failures", "card_count_1h")
    for (kind, attack), group in sorted(attacks.items()):
        stopped = any(r["risk_score"] >= decline or r["stepped_up"] for r in group[:2])
        print(f"{kind} {attack}: {len(group)} scored, stopped before the 3rd: {stopped}")
        for r in group[:3]:
            factors = ",".join(f"{code}:{score}" for code, score in r["f"].items())
            values = " ".join(f"{key}={r['v'].get(key)}" for key in keys)
            print(
                f"  {r['transaction_time'][:16]} {r['risk_score']} {r['status']} {r['response_code']} "
                f"{r['channel']} "
                f"{r['merchant_id']}/{r['merchant_country']} {r['entry_mode']} "
                f"{r['cardholder_verification']} "
                f"3ds={r['three_ds']} [{factors}] {values}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--attacks", help="comma-separated scenarios: print each attack's first attempts")
    args = parser.parse_args()
    rows = load(args.directory)
    db = sqlite3.connect(args.directory / "worlds.sqlite3")
    decline = db.execute("SELECT decline_threshold FROM fraud_fraudsettings").fetchone()[0]
    if args.attacks:
        show_attacks(rows, set(args.attacks.split(",")), decline)
        return
    print(f"as decided: {figures(rows, decline)}")
    for name, condition in CANDIDATES.items():
        print(f"{name}: {figures(rows, decline, lambda r, c=condition: POINTS if c(r) else 0)}")
    for name, condition in STEP_UP_CANDIDATES.items():
        print(f"{name}: {figures(rows, decline, step=condition)}")
    adopted = [CANDIDATES[name] for name in ADOPTED]
    print(f"the four of 0018: {figures(rows, decline, lambda r: POINTS * sum(c(r) for c in adopted))}")


if __name__ == "__main__":
    main()
