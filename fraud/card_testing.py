"""Card testing across cards: the rules that read failed card checks per merchant and per
BIN over short windows, the one that declines a small purchase where a run has just begun,
and the one that declines a tested card where it was tested.

A failed card check is a known card with a wrong CVV or a wrong expiry date (each card
counted once in a window: one cardholder mistyping three times is one card) or an
attempt on a card number no card has. The counts (fraud/features.py, one written-out
statement with the other cross-card windows) are of the window's whole minutes, the
attempt's own included. Every threshold and window is the rule's params (fraud/params.py); the
details name merchants, BINs and counts, never the cardholder.
"""

import datetime
from decimal import Decimal

from fraud.configuration import FraudConfig
from fraud.features import TestingWindows

MERCHANT = "merchant_card_testing"
BIN = "bin_card_testing"
TESTED = "card_tested_at_merchant"
SMALL = "merchant_card_testing_small"
DEFAULT_WINDOW_MINUTES = {MERCHANT: 60, BIN: 60, TESTED: 1440}
DEFAULT_MIN_FAILURES = 10
# merchant_card_testing_small's params as shipped (fraud 0022), for a snapshot without one.
SMALL_DEFAULTS = {"min_failures": 2, "min_failure_share": 0.5, "max_amount_usd": 5}

# Verdicts on this card at this merchant, and on the merchant's traffic, not signals
# among others: beside an active model their points count in full, not at the `model`
# rule's rule_weight. The model trains on approvals only: it never saw the declined
# attempts (wrong CVVs, unknown card numbers) that make a merchant's card testing.
FULL_WEIGHT = frozenset({TESTED, MERCHANT, SMALL})


def _minutes(config: FraudConfig, code: str) -> int:
    rule_config = config.rules.get(code)
    params = rule_config.params if rule_config else {}
    return int(params.get("window_minutes", DEFAULT_WINDOW_MINUTES[code]))


def windows(config: FraudConfig) -> TestingWindows:
    """The windows the features count in, from the rules' params (disabled rules too:
    the features are stored with every decision all the same)."""
    return TestingWindows(
        merchant=datetime.timedelta(minutes=_minutes(config, MERCHANT)),
        bin=datetime.timedelta(minutes=_minutes(config, BIN)),
        tested=datetime.timedelta(minutes=_minutes(config, TESTED)),
    )


def _span(minutes: int) -> str:
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return "hour" if hours == 1 else f"{hours} hours"


def _failure_share(failures: int, attempts: int | None, share) -> str | None:
    """With `min_failure_share` (`share`), the failed checks' share of the window's
    transactions in words ("", a comma and the share), or None below it; "" without a
    share or a count of the transactions (a decision stored before it was counted)."""
    if share is None or attempts is None:
        return ""
    attempts = _at_least(attempts, failures)
    if failures < Decimal(str(share)) * attempts:  # exact at the edge
        return None
    return f", {failures / attempts:.0%} of its {attempts} transactions (from {float(share):.0%})"


def _testing(ctx, params, code: str, where: str, failures: int, attempts: int, declines: int) -> str | None:
    """Fires from `min_failures` failed card checks that are (with `min_failure_share`) at
    least that share of the window's transactions, or from `min_declines` declines that
    are (with `min_decline_share`) at least that share of them. The shares keep a busy
    merchant's honest typos (a few in a hundred online purchases) from looking like a
    tester's run, which is most of the traffic where it happens."""
    span = _span(_minutes(ctx.config, code))
    min_failures = int(params.get("min_failures", DEFAULT_MIN_FAILURES))
    if failures >= min_failures:
        of = _failure_share(failures, attempts, params.get("min_failure_share"))
        if of is not None:
            return (
                f"{failures} failed card checks (cards with a wrong CVV or expiry date, unknown card "
                f"numbers) {where} in the last {span} (from {min_failures}){of}."
            )
    min_declines = params.get("min_declines")
    if min_declines is None or declines < int(min_declines):
        return None
    attempts = _at_least(attempts, declines)
    detail = f"{declines} declines of {attempts} transactions {where} in the last {span} (from {min_declines}"
    min_share = params.get("min_decline_share")
    if min_share is None:
        return detail + ")."
    if declines < Decimal(str(min_share)) * attempts:  # exact at the edge
        return None
    return f"{detail}, {declines / attempts:.0%} of them from {float(min_share):.0%})."


def _at_least(attempts: int, failed: int) -> int:
    """The window's transactions, never fewer than its failed checks or declines, which are
    among them. They are fewer only where the minutes' counts were pruned from under an
    attempt dated before them (`manage.py prune_minute_counts`), and the declines read from
    the rows: the share is then 100 %, never a division by nought."""
    return max(attempts, failed)


def merchant_card_testing(ctx, params):
    v = ctx.values
    return _testing(
        ctx,
        params,
        MERCHANT,
        f"at merchant {ctx.attempt.merchant_id}",
        v["merchant_testing_failures"],
        v["merchant_testing_attempts"],
        v["merchant_testing_declines"],
    )


def bin_card_testing(ctx, params):
    v = ctx.values
    return _testing(
        ctx,
        params,
        BIN,
        f"in BIN {ctx.attempt.bin_prefix}",
        v["bin_testing_failures"],
        v["bin_testing_attempts"],
        v["bin_testing_declines"],
    )


def merchant_card_testing_small(ctx, params):
    """A tester's run starts with a few made-up numbers and wrong CVVs among the first real
    cards, at amounts nobody notices: before `merchant_card_testing` has its count, a small
    purchase (at most `max_amount_usd`, at reference rates) where at least `min_failures`
    card checks failed in that rule's window and are at least `min_failure_share` of the
    merchant's transactions there. A busy merchant's two honest typos are a small share of
    its traffic; a purchase of ordinary size is not what a tester tries a card with. No
    reference rate for the currency: not compared, the rule does not fire."""
    v = ctx.values
    params = SMALL_DEFAULTS | params
    amount = v.get("amount_usd")
    failures, attempts = v["merchant_testing_failures"], v["merchant_testing_attempts"]
    min_failures = int(params["min_failures"])
    if amount is None or amount > params["max_amount_usd"] or failures < min_failures:
        return None
    of = _failure_share(failures, attempts, params["min_failure_share"])
    if of is None:
        return None
    span = _span(_minutes(ctx.config, MERCHANT))
    return (
        f"A purchase of {amount:.2f} USD (up to {params['max_amount_usd']}) at merchant "
        f"{ctx.attempt.merchant_id}, where {failures} card checks failed (cards with a wrong CVV or expiry "
        f"date, unknown card numbers) in the last {span} (from {min_failures}){of}: a card-testing run "
        "beginning."
    )


def card_tested_at_merchant(ctx, params):
    """This card failed a check here, and the merchant had at least `min_failures` failed
    card checks in the same window (with `min_failure_share`, at least that share of its
    transactions there): the tester who found the right CVV or expiry by trying is
    declined here, whatever the attempt now gives, until the window passes. A busy
    merchant's honest typos are a few in a hundred: the cardholder who mistyped and types
    again is not a tester. A decision stored before the window's transactions were counted
    has no share to check (a backtest decides it as it was decided)."""
    own, merchant = ctx.values["card_failures_at_merchant"], ctx.values["merchant_failures_long"]
    min_failures = int(params.get("min_failures", DEFAULT_MIN_FAILURES))
    if not own or merchant is None or merchant < min_failures:
        return None
    of = _failure_share(merchant, ctx.values.get("merchant_attempts_long"), params.get("min_failure_share"))
    if of is None:
        return None
    noun = "check" if own == 1 else "checks"
    return (
        f"This card failed {own} {noun} (wrong CVV or expiry date) at merchant {ctx.attempt.merchant_id}, "
        f"where {merchant} card checks failed in the last {_span(_minutes(ctx.config, TESTED))} "
        f"(from {min_failures}){of}: card testing."
    )


RULES = {
    MERCHANT: merchant_card_testing,
    BIN: bin_card_testing,
    SMALL: merchant_card_testing_small,
    TESTED: card_tested_at_merchant,
}
