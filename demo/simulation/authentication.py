"""How each planned authorization was read and its holder verified: entry mode, cardholder
verification, 3-D Secure and the shopper's device (transactions/authentication_facts.py),
as a terminal, a wallet or a web shop would send them.

Honest life carries every signal a thief does, now and then: a chip that fails and a
terminal that falls back to the magnetic stripe (FALLBACK), a mistyped PIN (the purchase
then goes through with the right one, a few seconds later: an extra attempt), a new
phone or a work computer (NEW_DEVICE), a one-time password typed wrong (3-D Secure
failed), shops that never ask for 3-D Secure. Fraud, as it happens:

- a lost or stolen card is tapped without verification under the contactless limit;
  above it, and at a cash machine, the thief does not know the PIN (pin_failed) or signs;
- a skimmed card is a copy of its stripe: read by magnetic stripe, its PIN known only
  when the skimmer filmed it;
- card details bought or phished (card testing, card abroad, CVV guessing, account
  takeover) are typed online from the fraudster's own devices, new to the card, where
  3-D Secure fails (the one-time password goes to the cardholder) or is not asked for.

When the issuer asks for verification (a step-up, answered 1A: "insert the card and type
the PIN") on an in-person attempt without it (no cardholder verification, or a signature),
each such attempt carries what the person at the terminal then does (`Attempt.step_up`,
played by the replay only after a 1A), STEP_UP_PAUSE seconds later, same card, merchant
and amount:

- the cardholder inserts the card and types the PIN (chip, pin_verified; by the stripe
  when the chip had failed), now and then mistyped first (PIN_TYPO) as elsewhere; when
  neither chip nor stripe could be read (keyed by the shop), they pay another way;
- a skimmer's copy is a stripe: with the PIN the camera filmed, swiped with it; without,
  as a thief;
- a thief who holds a lost or stolen card does not know the PIN: THIEF_GUESSES_PIN of
  them type a guess (pin_failed, declined 55), the rest walk away, as most do rather than
  draw the cashier's attention to a card that is not theirs;
- card details typed in by a complicit shop have no card to insert: nothing follows.

Drawn from a generator of its own, seeded from the world's seed: the rest of the plan is
what it was before these facts existed, and the same seed gives the same facts. The
step-up reactions come from yet another, so the facts stay what they were before them.
"""

import datetime
import random
from dataclasses import replace

from demo.simulation.merchants import usd_of
from demo.simulation.plan import EVERYDAY, Attempt, Event, Truth
from transactions.authentication_facts import CardholderVerification as Cvm
from transactions.authentication_facts import EntryMode, ThreeDS

CONTACTLESS_LIMIT_USD = 100  # above it a contactless purchase asks for the PIN (or the wallet's)
FALLBACK = 0.004  # honest chip reads that fall back to the magnetic stripe
PIN_TYPO = 0.015  # honest PIN entries mistyped first
NEW_DEVICE = 0.025  # honest online purchases from a device never used before
KEYED = 0.002  # honest in-person purchases keyed by hand: neither chip nor stripe could be read
PIN_TYPO_TRUTH = Truth(False, "pin_typo")
ONLINE = ("ecommerce", "moto")
UNVERIFIED = (Cvm.NO_CVM, Cvm.SIGNATURE)  # in person, what a step-up (1A) can be asked of
STEP_UP_PAUSE = (20, 60)  # seconds from the answer 1A to the card inserted and the PIN typed
THIEF_GUESSES_PIN = 0.3  # thieves asked for the PIN who type a guess; the rest walk away


class _Authenticator:
    def __init__(self, seed: int, *, typos: bool):
        self.rng = random.Random(f"authentication of world {seed}")  # noqa: S311 -- a simulation
        # Keyed entries from a generator of their own: the other facts stay what they were.
        self.keyed = random.Random(f"keyed entries of world {seed}")  # noqa: S311 -- a simulation
        # What follows a step-up, from a third: the facts above stay what they were.
        self.step_ups = random.Random(f"step-up reactions of world {seed}")  # noqa: S311 -- a simulation
        self.seed = seed
        self.typos = typos
        self.devices: dict[int, list[str]] = {}  # cardholder -> their devices
        self.attacks: dict[int, dict] = {}  # attack id -> what the fraudster keeps using

    def _device(self, label: str) -> str:
        return f"sim-{self.seed}-{label}-{self.rng.getrandbits(40):010x}"

    # --- Honest ---------------------------------------------------------------------------------

    def honest(self, attempt: Attempt) -> list[Attempt]:
        channel = attempt.merchant.channel
        if channel in ONLINE:
            return [self._honest_online(attempt)]
        read = self._honest_in_person(attempt, channel)
        if channel != "atm" and self.keyed.random() < KEYED:  # the shop types the number, the holder signs
            return [replace(read[-1], entry_mode=EntryMode.KEYED, verification=Cvm.SIGNATURE)]
        return read

    def _honest_in_person(self, attempt: Attempt, channel: str) -> list[Attempt]:
        rng = self.rng
        usd = usd_of(attempt.amount_minor, attempt.currency) or 0.0
        if rng.random() < FALLBACK:  # the chip failed: the stripe, and the PIN or a signature
            cvm = Cvm.PIN_VERIFIED if channel == "atm" or rng.random() < 0.5 else Cvm.SIGNATURE
            return self._with_pin_typo(attempt, EntryMode.MAGSTRIPE, cvm)
        if channel == "atm":
            return self._with_pin_typo(attempt, EntryMode.CHIP, Cvm.PIN_VERIFIED)
        if usd <= CONTACTLESS_LIMIT_USD and rng.random() < 0.75:
            cvm = Cvm.CONSUMER_DEVICE if rng.random() < 0.15 else Cvm.NO_CVM
            return [replace(attempt, entry_mode=EntryMode.CONTACTLESS, verification=cvm)]
        if rng.random() < 0.1:  # a phone wallet verifies on the phone, whatever the amount
            return [replace(attempt, entry_mode=EntryMode.CONTACTLESS, verification=Cvm.CONSUMER_DEVICE)]
        cvm = Cvm.SIGNATURE if rng.random() < 0.1 else Cvm.PIN_VERIFIED
        return self._with_pin_typo(attempt, EntryMode.CHIP, cvm)

    def _with_pin_typo(self, attempt: Attempt, entry_mode: str, cvm: str) -> list[Attempt]:
        done = replace(attempt, entry_mode=entry_mode, verification=cvm)
        if cvm != Cvm.PIN_VERIFIED or self.rng.random() >= PIN_TYPO or not self.typos:
            return [done]
        typo = replace(
            done,
            at=attempt.at - datetime.timedelta(seconds=self.rng.randint(8, 40)),
            truth=PIN_TYPO_TRUTH if attempt.truth == EVERYDAY else attempt.truth,
            verification=Cvm.PIN_FAILED,
            dispute=None,
        )
        return [typo, done]

    def _honest_online(self, attempt: Attempt) -> Attempt:
        rng = self.rng
        if attempt.merchant.channel == "moto":
            return replace(attempt, entry_mode=EntryMode.KEYED, verification=Cvm.NO_CVM)
        devices = self.devices.setdefault(attempt.holder, [])
        if not devices:
            devices += [self._device(f"h{attempt.holder}") for _ in range(rng.choice((1, 1, 2, 3)))]
        if rng.random() < NEW_DEVICE:
            device = self._device(f"h{attempt.holder}")
            if rng.random() < 0.5:  # a new phone, from now on the one most used
                devices.insert(0, device)
        else:  # mostly the one most used, now and then another of theirs
            device = devices[0] if rng.random() < 0.85 else rng.choice(devices)
        results = (ThreeDS.AUTHENTICATED, ThreeDS.NOT_PERFORMED, ThreeDS.ATTEMPTED, ThreeDS.FAILED)
        three_ds = rng.choices(results, (56, 38, 4.5, 1.5))[0]
        entry = EntryMode.CREDENTIAL_ON_FILE if rng.random() < 0.3 else EntryMode.ECOMMERCE
        return replace(attempt, entry_mode=entry, verification=Cvm.NO_CVM, three_ds=three_ds, device=device)

    # --- Fraud ----------------------------------------------------------------------------------

    def fraud(self, attempt: Attempt) -> Attempt:
        scenario, rng = attempt.truth.scenario, self.rng
        attack = self.attacks.setdefault(attempt.truth.attack_id, {})
        channel = attempt.merchant.channel
        if scenario == "skimmed_terminal":
            # A copy of the stripe; the PIN only where the skimmer's camera caught it.
            knows_pin = attack.setdefault("pin", {}).setdefault(
                (attempt.holder, attempt.slot), rng.random() < 0.4
            )
            if channel == "atm":
                cvm = Cvm.PIN_VERIFIED if knows_pin else Cvm.PIN_FAILED
            else:
                cvm = (
                    Cvm.PIN_VERIFIED if knows_pin else rng.choice((Cvm.SIGNATURE, Cvm.SIGNATURE, Cvm.NO_CVM))
                )
            return replace(attempt, entry_mode=EntryMode.MAGSTRIPE, verification=cvm)
        if scenario == "lost_stolen" and channel not in ONLINE:
            usd = usd_of(attempt.amount_minor, attempt.currency) or 0.0
            if channel != "atm" and usd <= CONTACTLESS_LIMIT_USD:
                return replace(attempt, entry_mode=EntryMode.CONTACTLESS, verification=Cvm.NO_CVM)
            cvm = Cvm.SIGNATURE if channel != "atm" and rng.random() < 0.25 else Cvm.PIN_FAILED
            return replace(attempt, entry_mode=EntryMode.CHIP, verification=cvm)
        if channel not in ONLINE:  # card details in person: typed in by a complicit shop
            return replace(attempt, entry_mode=EntryMode.KEYED, verification=Cvm.SIGNATURE)
        # Online from the fraudster's own devices: one per attack, a fresh one now and then.
        if "device" not in attack or rng.random() < 0.5:
            attack["device"] = self._device(f"a{attempt.truth.attack_id}")
        weights = {
            "account_takeover": (45, 45, 10),
            "card_abroad": (35, 55, 10),
            "cvv_guessing": (30, 70, 0),
            "card_testing": (10, 90, 0),
        }.get(scenario, (40, 60, 0))
        three_ds = rng.choices((ThreeDS.FAILED, ThreeDS.NOT_PERFORMED, ThreeDS.ATTEMPTED), weights)[0]
        entry = (
            EntryMode.CREDENTIAL_ON_FILE
            if scenario == "account_takeover" and rng.random() < 0.5
            else EntryMode.ECOMMERCE
        )
        return replace(
            attempt, entry_mode=entry, verification=Cvm.NO_CVM, three_ds=three_ds, device=attack["device"]
        )

    # --- Asked for the PIN (answer 1A) ---------------------------------------------------------

    def step_up(self, attempt: Attempt) -> Attempt:
        """The attempt with what its person does if answered 1A; unchanged where no step-up
        can be asked (online, or the cardholder verified or failed already)."""
        if attempt.merchant.channel in ONLINE or attempt.verification not in UNVERIFIED:
            return attempt
        rng = self.step_ups  # the same four draws for every such attempt, whoever it is
        pause, guesses, typo, typo_pause = (
            rng.randint(*STEP_UP_PAUSE),
            rng.random(),
            rng.random(),
            rng.randint(8, 40),
        )
        at = attempt.at + datetime.timedelta(seconds=pause)
        truth = attempt.truth
        if truth.is_fraud and truth.scenario == "skimmed_terminal":
            knows_pin = (
                self.attacks.get(truth.attack_id, {}).get("pin", {}).get((attempt.holder, attempt.slot))
            )
            if knows_pin:
                return replace(
                    attempt, step_up=(self._retry(attempt, at, EntryMode.MAGSTRIPE, Cvm.PIN_VERIFIED),)
                )
        if truth.is_fraud:
            if truth.scenario not in ("lost_stolen", "skimmed_terminal") or guesses >= THIEF_GUESSES_PIN:
                return attempt  # walks away, or no card to insert
            stripe = attempt.entry_mode == EntryMode.MAGSTRIPE  # a skimmer's copy has no chip
            entry_mode = EntryMode.MAGSTRIPE if stripe else EntryMode.CHIP
            failed = replace(self._retry(attempt, at, entry_mode, Cvm.PIN_FAILED), dispute=None)
            return replace(attempt, step_up=(failed,))
        if attempt.entry_mode == EntryMode.KEYED:  # the card cannot be read: paid another way
            return attempt
        entry_mode = EntryMode.MAGSTRIPE if attempt.entry_mode == EntryMode.MAGSTRIPE else EntryMode.CHIP
        done = self._retry(attempt, at + datetime.timedelta(seconds=typo_pause), entry_mode, Cvm.PIN_VERIFIED)
        if not self.typos or typo >= PIN_TYPO:
            return replace(attempt, step_up=(replace(done, at=at),))
        mistyped = replace(
            done,
            at=at,
            truth=PIN_TYPO_TRUTH if truth == EVERYDAY else truth,
            verification=Cvm.PIN_FAILED,
            dispute=None,
        )
        return replace(attempt, step_up=(mistyped, done))

    @staticmethod
    def _retry(attempt: Attempt, at: datetime.datetime, entry_mode: str, cvm: str) -> Attempt:
        return replace(attempt, at=at, entry_mode=entry_mode, verification=cvm, step_up=())


def authenticate(seed: int, events: list[Event], *, typos: bool = True) -> list[Event]:
    """The events, in time order, each attempt with its authentication facts; with
    `typos`, an honest PIN typo now and then as an attempt of its own, seconds before the
    purchase the right PIN then makes (without, the plan keeps its number of attempts).
    Each in-person attempt without verification carries its step-up reaction."""
    authenticator = _Authenticator(seed, typos=typos)
    done: list[Event] = []
    for event in sorted(events, key=lambda e: e.at):
        if not isinstance(event, Attempt):
            done.append(event)
        elif event.truth.is_fraud:
            done.append(authenticator.fraud(event))
        else:
            done += authenticator.honest(event)
    done.sort(key=lambda e: e.at)
    return [authenticator.step_up(e) if isinstance(e, Attempt) else e for e in done]
