"""Rules on how the card was read and its holder verified: the signals that tell a thief's
first purchases from the cardholder's when the amounts and shops look ordinary.

The facts come with the authorization (transactions/authentication_facts.py: entry mode,
cardholder verification, 3-D Secure result, a device's keyed hash), the history of them
from the card's own 30 days (fraud/features.py `authentication_history`), stored with
every decision so that a backtest re-decides these rules exactly. An unknown fact ("",
a request that did not send it) never fires a rule.

Each honest cardholder now and then shows one of these signals alone: a chip that fails
and a terminal that falls back to the magnetic stripe, a mistyped PIN, a new phone, a
one-time password typed wrong. So one signal alone is worth review-level points at most
(`magstripe_new_merchant`, `pin_failed_new_merchant`, `no_cvm_burst`,
`three_ds_failed_new_merchant`, `new_device_unauthenticated_abroad`); only the
combinations with compounding evidence carry decline-level points:

- `magstripe_again`: a chip card read by its stripe after another stripe read within
  hours (a cloned card on its round; the holder's chip fails at one terminal, not at each);
- `magstripe_abroad`: a chip card read by its stripe at a new merchant in a country where
  the card was never used;
- `pin_failure_then_unverified`: after a PIN failure that no verified PIN followed, a
  purchase without a verified PIN (a found or stolen card whose thief does not know the
  PIN and turns to contactless or signature);
- `new_device_3ds_failed`: 3-D Secure failed at a new merchant from a device the card
  bought from at most `max_device_approvals` times (a fraudster keeps the device of an
  approved first purchase), on a card that does buy from other devices of its own (an
  account taken over: the shopper cannot answer the cardholder's challenge);
- `new_device_3ds_failed_abroad`: 3-D Secure failed at a new merchant outside the
  cardholder's home country from a device the card never bought from, whatever devices the
  card is used from (stolen details typed abroad; a card that never bought online would
  otherwise never meet the rule above);
- `keyed_in_person_abroad`: the card number keyed in by hand at a card-present terminal
  of a merchant new to the card, outside the cardholder's home country (details without
  the card, typed in by a complicit shop; the holder's card is read by its chip, its
  stripe or a tap, keyed only where both fail).
- `unverified_cash_out_again`: a tap without verification or a signature at a shop of a
  listed category (`mccs`: where a card turns into cash or goods that resell, by default
  department stores, electronics, liquor and jewellery) after another in-person attempt
  without a verified cardholder at a listed category in the hour, with no PIN or
  device verification on the card in that hour (a found or stolen card whose thief does
  not know the PIN; the cardholder on a shopping afternoon gives the PIN now and then,
  above the contactless limit). A step-up rule (STEP_UP): when it fires the answer is not a
  fraud decline but 1A, verification required (the cardholder inserts the card and types
  the PIN; the thief cannot), and its points (0 as shipped) add nothing to the score.
- `unverified_cash_out_new_category`: the same purchase at a listed category the card has
  never bought in (no purchase there that was not declined, in person or online, however
  long ago), with no PIN or device verification on the card in the hour: the thief's
  first purchase, which the rule above lets through. A step-up too: the cardholder's first
  purchase in such a category asks for the PIN once, as a new card's first purchase does
  at many issuers.

`new_device_unauthenticated_abroad` (a new device at a new merchant abroad without
3-D Secure, on a card bought from known devices) is compounding too, but honest shoppers
meet it often enough (a new phone, a foreign shop that never asks) that it stays a signal.

The model does not read these facts (fraud/catalogue.py): beside it, these rules count in
full, on every card (FULL_WEIGHT).
"""

from transactions.authentication_facts import CardholderVerification, EntryMode, ThreeDS
from transactions.queries import CARD_PRESENT

MAGSTRIPE_NEW_MERCHANT = "magstripe_new_merchant"
MAGSTRIPE_AGAIN = "magstripe_again"
MAGSTRIPE_ABROAD = "magstripe_abroad"
PIN_FAILED_NEW_MERCHANT = "pin_failed_new_merchant"
PIN_FAILURE_THEN_UNVERIFIED = "pin_failure_then_unverified"
NO_CVM_BURST = "no_cvm_burst"
THREE_DS_FAILED_NEW_MERCHANT = "three_ds_failed_new_merchant"
NEW_DEVICE_3DS_FAILED = "new_device_3ds_failed"
NEW_DEVICE_UNAUTHENTICATED_ABROAD = "new_device_unauthenticated_abroad"
NEW_DEVICE_3DS_FAILED_ABROAD = "new_device_3ds_failed_abroad"
KEYED_IN_PERSON_ABROAD = "keyed_in_person_abroad"
UNVERIFIED_CASH_OUT_AGAIN = "unverified_cash_out_again"
UNVERIFIED_CASH_OUT_NEW_CATEGORY = "unverified_cash_out_new_category"

# Not verified: a PIN that failed, a signature nobody checks, or none at all.
UNVERIFIED = frozenset(
    {CardholderVerification.PIN_FAILED, CardholderVerification.SIGNATURE, CardholderVerification.NO_CVM}
)
UNAUTHENTICATED = frozenset({ThreeDS.FAILED, ThreeDS.NOT_PERFORMED})
# A purchase that goes through without a verified cardholder. A failed PIN is declined
# before risk counts (55): scoring it would count a decline the PIN check makes anyway.
UNVERIFIED_PURCHASE = frozenset({CardholderVerification.SIGNATURE, CardholderVerification.NO_CVM})


def _new_merchant(ctx) -> bool:
    return bool(ctx.values.get("first_merchant"))


def _abroad(ctx) -> str | None:
    """The cardholder's home country when the merchant is outside it, else None."""
    home = ctx.values.get("home_country")
    return home if home is not None and ctx.attempt.merchant_country != home else None


def _chip_card_by_stripe(ctx, params, *, new_merchant: bool = True) -> int | None:
    """The card's chip or contactless reads in 30 days when this is a stripe read of it
    (with `new_merchant`, at a merchant new to the card) and the card has at least
    `min_chip_reads` of them (a chip card: its stripe is the fallback, or a copy)."""
    if ctx.attempt.entry_mode != EntryMode.MAGSTRIPE or (new_merchant and not _new_merchant(ctx)):
        return None
    reads = ctx.values.get("card_chip_reads_30d") or 0
    return reads if reads >= int(params.get("min_chip_reads", 1)) else None


def magstripe_new_merchant(ctx, params):
    reads = _chip_card_by_stripe(ctx, params)
    if reads is None:
        return None
    return (
        f"Magnetic-stripe read at merchant {ctx.attempt.merchant_id}, new to this card, "
        f"which was read by chip or contactless {reads} times in 30 days."
    )


def magstripe_again(ctx, params):
    """Wherever it is: a copy is used where the cardholder shops too (the cash machine
    round the corner)."""
    if _chip_card_by_stripe(ctx, params, new_merchant=False) is None:
        return None
    before = ctx.values.get("card_magstripe_24h") or 0
    if before < int(params.get("min_previous", 1)):
        return None
    return (
        f"Magnetic-stripe read of a chip card at merchant {ctx.attempt.merchant_id} after {before} other "
        "stripe reads in the last 24 hours."
    )


def magstripe_abroad(ctx, params):
    """In a country where the card was never used: a traveller's chip that fails does so
    mostly after the trip's first purchases there, by chip."""
    home = _abroad(ctx)
    if home is None or not ctx.values.get("first_country") or _chip_card_by_stripe(ctx, params) is None:
        return None
    return (
        f"Magnetic-stripe read of a chip card at merchant {ctx.attempt.merchant_id} in "
        f"{ctx.attempt.merchant_country}, new to it, the card's first use there (cardholder lives in {home})."
    )


def pin_failed_new_merchant(ctx, params):
    if ctx.attempt.cardholder_verification != CardholderVerification.PIN_FAILED or not _new_merchant(ctx):
        return None
    return f"PIN failed at merchant {ctx.attempt.merchant_id}, new to this card."


def pin_failure_then_unverified(ctx, params):
    """Wherever it is: the thief of a card tries the PIN at the cardholder's own cash
    machine too; the cardholder who mistyped it gets it right next (and proves it)."""
    v = ctx.values
    if ctx.attempt.cardholder_verification not in UNVERIFIED or not v.get("pin_failure_unverified"):
        return None
    return (
        f"No verified PIN at merchant {ctx.attempt.merchant_id} after {v.get('card_wrong_pins_24h') or 0} "
        "PIN failures in the last 24 hours with no PIN verified since."
    )


def no_cvm_burst(ctx, params):
    a = ctx.attempt
    if (
        a.entry_mode != EntryMode.CONTACTLESS
        or a.cardholder_verification != CardholderVerification.NO_CVM
        or not _new_merchant(ctx)
    ):
        return None
    taps, at_least = ctx.values.get("card_no_cvm_contactless_1h") or 0, int(params.get("min_previous", 2))
    if taps < at_least:
        return None
    return (
        f"Contactless without verification at merchant {a.merchant_id}, new to this card, after {taps} "
        f"others in the last hour (from {at_least})."
    )


def three_ds_failed_new_merchant(ctx, params):
    if ctx.attempt.three_ds != ThreeDS.FAILED or not _new_merchant(ctx):
        return None
    return f"3-D Secure failed at merchant {ctx.attempt.merchant_id}, new to this card."


def _new_device(ctx) -> bool:
    """A device given that no approval of the card's 30 days came from."""
    return ctx.values.get("device_approvals_30d") == 0


def _known_devices(ctx, params) -> int | None:
    """The card's approvals from identified devices in 30 days, if at least
    `min_known_device_approvals`: a card used online from devices of its own."""
    known = ctx.values.get("card_device_approvals_30d") or 0
    return known if known >= int(params.get("min_known_device_approvals", 1)) else None


def new_device_3ds_failed(ctx, params):
    """From a device the card bought from at most `max_device_approvals` times (default
    0), on a card with at least `min_known_device_approvals` approvals from its other
    devices."""
    own = ctx.values.get("device_approvals_30d")
    if (
        ctx.attempt.three_ds != ThreeDS.FAILED
        or not _new_merchant(ctx)
        or own is None
        or own > int(params.get("max_device_approvals", 0))
    ):
        return None
    others = (ctx.values.get("card_device_approvals_30d") or 0) - own
    if others < int(params.get("min_known_device_approvals", 1)):
        return None
    device = (
        "a device this card never bought from" if not own else f"a device this card bought from {own} times"
    )
    return f"3-D Secure failed at merchant {ctx.attempt.merchant_id}, new to this card, from {device}."


def new_device_3ds_failed_abroad(ctx, params):
    home = _abroad(ctx)
    if (
        home is None
        or ctx.attempt.three_ds != ThreeDS.FAILED
        or not _new_merchant(ctx)
        or not _new_device(ctx)
    ):
        return None
    return (
        f"3-D Secure failed at merchant {ctx.attempt.merchant_id} in {ctx.attempt.merchant_country}, new to "
        f"this card (cardholder lives in {home}), from a device this card never bought from."
    )


def keyed_in_person_abroad(ctx, params):
    a = ctx.attempt
    home = _abroad(ctx)
    if (
        home is None
        or a.entry_mode != EntryMode.KEYED
        or a.channel not in CARD_PRESENT
        or not _new_merchant(ctx)
    ):
        return None
    return (
        f"Card number keyed in by hand at a card-present terminal of merchant {a.merchant_id} in "
        f"{a.merchant_country}, new to this card (cardholder lives in {home})."
    )


def _unverified_cash_out(ctx, params) -> set[str] | None:
    """The rule's categories when this is an in-person purchase without a verified
    cardholder at one of them and the card had no verified one in the hour (a value a
    decision stored before it was read lacks: then None, as when it does not hold)."""
    a = ctx.attempt
    categories = set(params.get("mccs") or ())
    if (
        a.channel not in CARD_PRESENT
        or a.cardholder_verification not in UNVERIFIED_PURCHASE
        or a.mcc not in categories
        or ctx.values.get("card_verified_cvm_1h") != 0
    ):
        return None
    return categories


def unverified_cash_out_again(ctx, params):
    """Reads the hour's categories of in-person attempts without a verified cardholder and
    the hour's verified ones (fraud/features.py); a decision stored before they were has
    neither, and the rule does not fire on it."""
    a, v = ctx.attempt, ctx.values
    categories = _unverified_cash_out(ctx, params)
    if categories is None:
        return None
    before = sorted(set((v.get("card_unverified_present_mccs_1h") or "").split(",")) & categories)
    if not before:
        return None
    return (
        f"No verified cardholder at merchant {a.merchant_id} (category {a.mcc}) after in-person attempts "
        f"without one in the last hour in categories {', '.join(before)}, and no PIN or device "
        "verification on this card in that hour."
    )


def unverified_cash_out_new_category(ctx, params):
    """A category the card never bought in: `first_mcc`, over the card's whole past."""
    a = ctx.attempt
    if _unverified_cash_out(ctx, params) is None or not ctx.values.get("first_mcc"):
        return None
    return (
        f"No verified cardholder at merchant {a.merchant_id}, in a category this card never bought in "
        f"({a.mcc}), and no PIN or device verification on this card in the last hour."
    )


def new_device_unauthenticated_abroad(ctx, params):
    home = _abroad(ctx)
    if (
        home is None
        or ctx.attempt.three_ds not in UNAUTHENTICATED
        or not _new_merchant(ctx)
        or not _new_device(ctx)
    ):
        return None
    known = _known_devices(ctx, params)
    if known is None:
        return None
    return (
        f"No 3-D Secure at merchant {ctx.attempt.merchant_id} in {ctx.attempt.merchant_country}, new to this "
        f"card (cardholder lives in {home}), from a device it never bought from (its {known} approvals "
        "from known devices in 30 days)."
    )


RULES = {
    MAGSTRIPE_NEW_MERCHANT: magstripe_new_merchant,
    MAGSTRIPE_AGAIN: magstripe_again,
    MAGSTRIPE_ABROAD: magstripe_abroad,
    PIN_FAILED_NEW_MERCHANT: pin_failed_new_merchant,
    PIN_FAILURE_THEN_UNVERIFIED: pin_failure_then_unverified,
    NO_CVM_BURST: no_cvm_burst,
    THREE_DS_FAILED_NEW_MERCHANT: three_ds_failed_new_merchant,
    NEW_DEVICE_3DS_FAILED: new_device_3ds_failed,
    NEW_DEVICE_UNAUTHENTICATED_ABROAD: new_device_unauthenticated_abroad,
    NEW_DEVICE_3DS_FAILED_ABROAD: new_device_3ds_failed_abroad,
    KEYED_IN_PERSON_ABROAD: keyed_in_person_abroad,
    UNVERIFIED_CASH_OUT_AGAIN: unverified_cash_out_again,
    UNVERIFIED_CASH_OUT_NEW_CATEGORY: unverified_cash_out_new_category,
}
# The model never read these facts: beside it their points count in full.
FULL_WEIGHT = frozenset(RULES)
# Rules whose firing asks for the cardholder's verification (decided 1A, a soft decline)
# rather than adding to a fraud decline: each fires only on an in-person attempt whose
# cardholder was not verified, the only kind a PIN can still verify.
STEP_UP = frozenset({UNVERIFIED_CASH_OUT_AGAIN, UNVERIFIED_CASH_OUT_NEW_CATEGORY})
