"""What the rules and the model look at, read point in time: only transactions up to the
attempt's `transaction_time` and fraud reports filed before it count. Across cards the
windows are whole minutes: the attempt's minute counts whole, as far as it is stored.

Two written-out SQL statements per decision (three after a wrong CVV or expiry date),
each over a bounded window of an index: the card's last 30 days by (card,
transaction_time); the merchant's and the BIN's last hour and card-testing windows from
their per-minute counts (transactions.models.MinuteCount) and their declines, capped in
rows; the merchant's latest transactions by (merchant_id, transaction_time), capped too;
the merchant's fraud reports by their own index; index seeks for "first time at this
merchant, country, category, channel". Never a scan of a card's whole history, nor of a
busy merchant's.
Built through the ORM the same statements cost far more Python than their SQL takes,
so they are written out, in transactions/queries.py and cross_card_queries.py;
this module says what their values mean.

`behaviour()` gives every feature of fraud/catalogue.py, stored with the decision.
"""

import datetime
import math
from dataclasses import dataclass

from django.db.models import Q

from cards.models import Card
from cardsystem import money
from fraud.geography import distance_km
from fraud.home_time import home_time, home_utc_offset_minutes
from transactions import cross_card_queries, queries
from transactions.models import Transaction
from transactions.queries import CARD_PRESENT, DAY, HOUR
from transactions.signals import AuthorizationAttempt

NIGHT_ENDS = 6  # night is from midnight to 6 am, at the cardholder's home

# Only where the card itself was (CARD_PRESENT): an online merchant's country says
# nothing about where the cardholder is.
CVV_CHECKED = [Transaction.CvvResult.MATCH, Transaction.CvvResult.MISMATCH]


@dataclass(frozen=True)
class CardHistory:
    """The card's history up to the attempt, the attempt itself not included (it is not
    recorded yet). Counts are of every attempt (declines say something too); amounts
    (minor units of the card's currency) are of approvals only. `previous_present_*`
    is the latest card-present transaction of the last 30 days."""

    count_1m: int
    count_10m: int
    count_1h: int
    count_24h: int
    count_7d: int
    count_30d: int
    approved_amount_10m: int
    approved_amount_1h: int
    approved_amount_24h: int
    approved_amount_7d: int
    approved_amount_30d: int
    approved_count_30d: int
    approved_square_sum_30d: float
    approved_at_night_30d: int
    declines_24h: int
    declines_cvv_24h: int
    declines_funds_24h: int
    declines_limit_24h: int
    failures_at_merchant: int  # wrong CVVs or expiry dates here, in the tested-card window
    seen_merchant: bool
    seen_country: bool
    seen_mcc: bool
    seen_channel: bool
    previous_time: datetime.datetime | None
    previous_present_time: datetime.datetime | None
    previous_present_country: str | None
    # How the card was read and its holder verified (transactions/authentication_facts.py):
    # every attempt counted, approvals only for the devices.
    magstripe_24h: int = 0
    chip_reads_30d: int = 0
    pin_failures_24h: int = 0
    no_cvm_contactless_1h: int = 0
    device_approvals_30d: int = 0  # with the attempt's device; 0 when it gives none
    approvals_with_device_30d: int = 0  # with any device given
    last_pin_failure_24h: datetime.datetime | None = None
    last_pin_verified_24h: datetime.datetime | None = None
    verified_cvm_1h: int = 0  # attempts with the cardholder verified: a PIN, or on the shopper's device
    # The categories (MCCs, distinct, sorted, comma-joined) of the hour's card-present
    # attempts without a verified cardholder: PIN failed, signature or none.
    unverified_present_mccs_1h: str = ""

    @property
    def pin_failure_unverified(self) -> bool | None:
        """Whether the card's latest PIN failure of the 24 hours came after its latest
        verified PIN there (the holder who mistyped and then got it right proved it);
        None without a PIN failure in the 24 hours."""
        if self.last_pin_failure_24h is None:
            return None
        verified = self.last_pin_verified_24h
        return verified is None or verified < self.last_pin_failure_24h

    @property
    def average_amount_30d(self) -> float | None:
        if not self.approved_count_30d:
            return None
        return self.approved_amount_30d / self.approved_count_30d

    @property
    def deviation_30d(self) -> float | None:
        """The standard deviation of the 30-day approvals (population), in minor units."""
        mean = self.average_amount_30d
        if mean is None:
            return None
        return math.sqrt(max(self.approved_square_sum_30d / self.approved_count_30d - mean * mean, 0.0))


@dataclass(frozen=True)
class TestingWindows:
    """The card-testing rules' windows (fraud/card_testing.py reads them from the rules):
    the merchant's and the BIN's failed card checks, and how long a card that failed one
    at a merchant under card testing stays suspect there."""

    merchant: datetime.timedelta = HOUR
    bin: datetime.timedelta = HOUR
    tested: datetime.timedelta = DAY


DEFAULT_WINDOWS = TestingWindows()  # the card-testing rules' own defaults


def card_history(
    card: Card, attempt: AuthorizationAttempt, windows: TestingWindows = DEFAULT_WINDOWS
) -> CardHistory:
    """Windows end at the attempt's time inclusive and start at `time - window`
    inclusive. A transaction recorded earlier with the same time is part of the
    history: acquirers often send whole seconds, and a burst within one second must
    still count. A transaction with a later time (recorded first, by store-and-forward)
    never counts."""
    return CardHistory(**queries.card_history_row(**_card_history_arguments(card, attempt, windows)))


def _card_history_arguments(card: Card, attempt: AuthorizationAttempt, windows: TestingWindows) -> dict:
    at = attempt.transaction_time
    return {
        "card_id": card.pk,
        "at": at,
        "merchant_id": attempt.merchant_id,
        "merchant_country": attempt.merchant_country,
        "mcc": attempt.mcc,
        "channel": attempt.channel,
        # Today's offset: across a change to or from summer time, an hour of the 30 days
        # is judged an hour off.
        "utc_offset_minutes": home_utc_offset_minutes(card, at),
        "night_ends_minute": NIGHT_ENDS * 60,
        "tested_window": windows.tested,
        "device_hash": attempt.device_hash,
    }


@dataclass(frozen=True)
class CrossCardActivity:
    """Across all cards: the merchant's and the BIN's last hour and card-testing windows
    (card testing spread over many cards: failed card checks are distinct cards with a
    wrong CVV or expiry date plus attempts on unknown card numbers) and the merchant's
    recent confirmed fraud, counting only reports filed strictly before the attempt (a
    compromised terminal)."""

    merchant_count_1h: int
    merchant_cvv_mismatch_1h: int
    merchant_declines_1h: int
    merchant_testing_attempts: int  # in the merchant window of TestingWindows
    merchant_testing_failures: int
    merchant_testing_declines: int
    merchant_failures_long: int | None  # failed card checks in the tested-card window, if read
    merchant_attempts_long: int | None  # transactions in the tested-card window, if read
    bin_count_1h: int
    bin_cvv_mismatch_1h: int
    bin_declines_1h: int
    bin_testing_attempts: int  # in the BIN window
    bin_testing_failures: int
    bin_testing_declines: int
    # Its latest transactions in the fraud window, at most cross_card_queries.MERCHANT_SAMPLE;
    # read only where it has reported fraud (else 0: the share is nought anyway).
    merchant_recent_count: int
    merchant_recent_fraud: int  # of those, the ones reported as fraud
    merchant_fraud_cards_90d: int  # cards with reported fraud there in the whole window

    @property
    def merchant_fraud_share_90d(self) -> float:
        if not self.merchant_recent_count:
            return 0.0
        return self.merchant_recent_fraud / self.merchant_recent_count


def cross_card_activity(
    attempt: AuthorizationAttempt,
    fraud_window: datetime.timedelta,
    windows: TestingWindows = DEFAULT_WINDOWS,
    *,
    tested_here: bool = False,
) -> CrossCardActivity:
    """The windows are the attempt's minute and the whole minutes before it
    (cross_card_queries.window_bounds); the `fraud_window` (90 days by default) ends
    strictly before the attempt's time. Unknown-card attempts
    count at the merchant and in the BIN (card testing tries made-up numbers) but are
    not cards with fraud. The merchant's failed card checks over the tested-card window
    are read only when the card itself failed one there (`tested_here`), else None:
    the longer window is the statement's dearest part and says nothing about other cards."""
    arguments = _cross_card_arguments(attempt, fraud_window, windows, tested_here=tested_here)
    return CrossCardActivity(**cross_card_queries.cross_card_row(**arguments))


def _cross_card_arguments(
    attempt: AuthorizationAttempt,
    fraud_window: datetime.timedelta,
    windows: TestingWindows,
    *,
    tested_here: bool,
) -> dict:
    return {
        "merchant_id": attempt.merchant_id,
        "bin_prefix": attempt.bin_prefix,
        "at": attempt.transaction_time,
        "fraud_window": fraud_window,
        "merchant_window": windows.merchant,
        "bin_window": windows.bin,
        "tested_window": windows.tested if tested_here else None,
    }


def card_and_cross_card(
    card: Card,
    attempt: AuthorizationAttempt,
    fraud_window: datetime.timedelta,
    windows: TestingWindows,
    also: tuple[str, ...] = (),
) -> tuple[CardHistory, CrossCardActivity, tuple]:
    """card_history and cross_card_activity (without the tested-card window) read by one
    statement: what a decision needs first, in one round trip, with the values of the
    scalar subqueries `also` (transactions/cross_card_queries.py)."""
    history, cross, extra = cross_card_queries.card_and_cross_card_rows(
        history=_card_history_arguments(card, attempt, windows),
        cross=_cross_card_arguments(attempt, fraud_window, windows, tested_here=False),
        also=also,
    )
    return CardHistory(**history), CrossCardActivity(**cross), extra


def card_check_failures_in_a_row(card: Card, look_back: int) -> tuple[int, int]:
    """Failed card checks (a wrong CVV or a wrong expiry date) among the card's latest
    checks, up to the first right CVV: how many, and how many of them wrong expiry
    dates. A right expiry without a CVV neither counts nor breaks the run.

    In the order the attempts arrived (`created_at`), not by `transaction_time`: the
    time is the acquirer's to set, and an attacker who sent every guess with the same or
    an earlier time would otherwise never be counted. Only since the card's last status
    change: unblocking starts the count afresh."""
    checked = Transaction.objects.filter(
        Q(cvv_result__in=CVV_CHECKED) | Q(expiry_result=Transaction.ExpiryResult.MISMATCH), card=card
    )
    if card.status_changed_at:
        checked = checked.filter(created_at__gt=card.status_changed_at)
    results = checked.order_by("-created_at").values_list("cvv_result", "expiry_result")[:look_back]
    streak = expiry = 0
    for cvv, expiry_result in results:
        if expiry_result == Transaction.ExpiryResult.MISMATCH:
            expiry += 1
        elif cvv != Transaction.CvvResult.MISMATCH:
            break
        streak += 1
    return streak, expiry


# --- Every feature, for storage and the model ---------------------------------------------------


def behaviour(
    attempt: AuthorizationAttempt,
    card: CardHistory,
    cross: CrossCardActivity,
    *,
    high_risk_country: bool,
    high_risk_mcc: bool,
) -> dict:
    """The features of fraud/catalogue.py, by name: numbers, booleans, None where there
    is nothing to compare with. Amounts in approximate US dollars."""
    currency = attempt.currency

    def usd(minor: float) -> float | None:
        dollars = money.approximate_usd(minor, currency)
        return round(dollars, 2) if dollars is not None else None  # no rate: not compared

    amount = attempt.amount_minor
    mean, deviation = card.average_amount_30d, card.deviation_30d
    holder = attempt.card.cardholder
    here = attempt.merchant_country
    since_last = _hours(attempt.transaction_time, card.previous_time)
    km_from_last = kmh_from_last = None
    if attempt.channel in CARD_PRESENT and card.previous_present_country:
        km_from_last = distance_km(card.previous_present_country, here)
        if km_from_last is not None:
            km_from_last = round(km_from_last)
            # At least a minute: two countries in the same second would divide by zero.
            hours = max(_hours(attempt.transaction_time, card.previous_present_time), 1 / 60)
            kmh_from_last = round(km_from_last / hours)
    km_from_home = distance_km(holder.country.code, here) if holder else None
    return {
        "amount_usd": usd(amount),
        "card_present": attempt.channel in CARD_PRESENT,
        "ecommerce": attempt.channel == Transaction.Channel.ECOMMERCE,
        "cvv_absent": attempt.cvv_result == Transaction.CvvResult.ABSENT,
        "cvv_mismatch": attempt.cvv_result == Transaction.CvvResult.MISMATCH,
        "expiry_mismatch": attempt.expiry_result == Transaction.ExpiryResult.MISMATCH,
        "high_risk_country": high_risk_country,
        "high_risk_mcc": high_risk_mcc,
        "night": home_time(attempt.card, attempt.transaction_time).hour < NIGHT_ENDS,
        "card_count_10m": card.count_10m,
        "card_count_1h": card.count_1h,
        "card_count_24h": card.count_24h,
        "card_count_7d": card.count_7d,
        "card_count_30d": card.count_30d,
        "card_spend_10m_usd": usd(card.approved_amount_10m),
        "card_spend_1h_usd": usd(card.approved_amount_1h),
        "card_spend_24h_usd": usd(card.approved_amount_24h),
        "card_spend_7d_usd": usd(card.approved_amount_7d),
        "card_spend_30d_usd": usd(card.approved_amount_30d),
        "amount_to_mean": round(amount / mean, 3) if mean else None,
        # A card that always spends the same has no spread: any other amount is far out,
        # by at least one mean's worth.
        "amount_zscore": round((amount - mean) / max(deviation, mean * 0.1), 3) if mean else None,
        "first_merchant": not card.seen_merchant,
        "first_country": not card.seen_country,
        "first_mcc": not card.seen_mcc,
        "first_channel": not card.seen_channel,
        "hours_since_last": round(since_last, 3) if since_last is not None else None,
        "km_from_last": km_from_last,
        "kmh_from_last": kmh_from_last,
        "night_share_30d": (
            round(card.approved_at_night_30d / card.approved_count_30d, 3)
            if card.approved_count_30d
            else None
        ),
        "declines_24h": card.declines_24h,
        "declines_cvv_24h": card.declines_cvv_24h,
        "declines_funds_24h": card.declines_funds_24h,
        "declines_limit_24h": card.declines_limit_24h,
        "card_failures_at_merchant": card.failures_at_merchant,
        "merchant_count_1h": cross.merchant_count_1h,
        "merchant_cvv_mismatch_1h": cross.merchant_cvv_mismatch_1h,
        "merchant_declines_1h": cross.merchant_declines_1h,
        "merchant_testing_attempts": cross.merchant_testing_attempts,
        "merchant_testing_failures": cross.merchant_testing_failures,
        "merchant_testing_declines": cross.merchant_testing_declines,
        "merchant_failures_long": cross.merchant_failures_long,
        "merchant_attempts_long": cross.merchant_attempts_long,
        "merchant_fraud_cards_90d": cross.merchant_fraud_cards_90d,
        "merchant_fraud_share_90d": round(cross.merchant_fraud_share_90d, 4),
        "bin_count_1h": cross.bin_count_1h,
        "bin_cvv_mismatch_1h": cross.bin_cvv_mismatch_1h,
        "bin_declines_1h": cross.bin_declines_1h,
        "bin_testing_attempts": cross.bin_testing_attempts,
        "bin_testing_failures": cross.bin_testing_failures,
        "bin_testing_declines": cross.bin_testing_declines,
        "cardholder_age": holder.age_on(attempt.transaction_time.date()) if holder else None,
        "foreign": bool(holder) and here != holder.country.code,
        "km_from_home": round(km_from_home) if km_from_home is not None else None,
        **authentication_history(attempt, card),
    }


def authentication_history(attempt: AuthorizationAttempt, card: CardHistory) -> dict:
    """How the card was read and its holder verified before this attempt
    (fraud/authentication.py's rules read them): counts, and None where the attempt gives
    nothing to compare (no device)."""
    return {
        "card_magstripe_24h": card.magstripe_24h,
        "card_chip_reads_30d": card.chip_reads_30d,
        "card_wrong_pins_24h": card.pin_failures_24h,
        "pin_failure_unverified": card.pin_failure_unverified,
        "card_no_cvm_contactless_1h": card.no_cvm_contactless_1h,
        "device_approvals_30d": card.device_approvals_30d if attempt.device_hash else None,
        "card_device_approvals_30d": card.approvals_with_device_30d,
    }


def _hours(at: datetime.datetime, before: datetime.datetime | None) -> float | None:
    return (at - before) / HOUR if before is not None else None
