"""The plan's vocabulary: its events, their ground truth, and the world's window of time.

A plan is data only (no database, no card numbers): a card is named by its cardholder's
index in the world and a slot (the cardholder's first or second card), and the replay
(demo/simulation/replay.py) finds the card that slot holds at the time.
"""

import datetime
import math
import random
from dataclasses import dataclass, field

from demo.simulation.merchants import Merchant

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)

# How an attempt gives the CVV: the card's own, a wrong one, or none (card present,
# or a merchant that does not ask).
RIGHT, WRONG, ABSENT = "right", "wrong", "absent"
MADE_UP = -1  # the "cardholder" of a made-up card number


@dataclass(frozen=True, slots=True)
class Truth:
    """What really happened: fraud or not, in which story, and which attack (the events
    of one attack share its id; so do the legitimate visits that let a terminal's
    skimmer copy the cards)."""

    is_fraud: bool
    scenario: str
    attack_id: int | None = None


EVERYDAY = Truth(False, "everyday")


@dataclass(frozen=True, slots=True)
class Dispute:
    """The cardholder reports the transaction as fraud at `at`, if it was approved. With
    `block`, the bank then blocks the card and issues a replacement."""

    at: datetime.datetime
    reason: str
    block: bool = True


@dataclass(frozen=True, slots=True)
class Attempt:
    """One authorization request. `compromised_at`: for fraud, the card as it was when its
    details were taken (a replacement issued since is not the card the fraudster holds)."""

    at: datetime.datetime
    holder: int  # index in World.holders, or MADE_UP
    slot: int
    merchant: Merchant
    amount_minor: int
    currency: str
    truth: Truth = EVERYDAY
    cvv: str = ABSENT
    cvv_twist: int = 0  # WRONG: which digit is off, and by how much
    compromised_at: datetime.datetime | None = None
    dispute: Dispute | None = None
    made_up_pan: str = field(default="", repr=False)
    # How it was read and verified (demo/simulation/authentication.py); "" unknown.
    entry_mode: str = ""
    verification: str = ""
    three_ds: str = ""
    device: str = ""  # the device's identifier, as a shop would send it
    # If the issuer answers it 1A (verification required): the attempts the person at the
    # terminal then makes, in order; none, they walk away (demo/simulation/authentication.py).
    step_up: tuple["Attempt", ...] = ()


@dataclass(frozen=True, slots=True)
class TopUp:
    at: datetime.datetime
    holder: int
    slot: int
    amount_minor: int
    reference: str


@dataclass(frozen=True, slots=True)
class CardNotice:
    """The cardholder tells the bank the card (as it was at `compromised_at`) is lost or
    stolen: the bank changes its status and issues a replacement."""

    at: datetime.datetime
    holder: int
    slot: int
    status: str  # "lost" or "stolen"
    reason: str
    compromised_at: datetime.datetime


Event = Attempt | TopUp | CardNotice


@dataclass(frozen=True)
class Window:
    """The world's time: from `start` (inclusive) to `end` (inclusive)."""

    start: datetime.datetime
    end: datetime.datetime

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY

    def __contains__(self, at: datetime.datetime) -> bool:
        return self.start <= at <= self.end

    def midnights(self, utc_offset: float) -> list[datetime.datetime]:
        """The instants (UTC) of every local midnight, at `utc_offset` hours, of the days
        the window touches."""
        first = local_midnight(self.start, utc_offset)
        count = math.ceil((self.end - first) / DAY)
        return [first + n * DAY for n in range(count)]

    def uniform(self, rng: random.Random) -> datetime.datetime:
        return self.start + rng.random() * (self.end - self.start)


def local_midnight(at: datetime.datetime, utc_offset: float) -> datetime.datetime:
    """The instant (UTC) of the local midnight that begins `at`'s day at `utc_offset` hours."""
    shift = datetime.timedelta(hours=utc_offset)
    return (at + shift).replace(hour=0, minute=0, second=0, microsecond=0) - shift


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method for small means, a rounded normal for large ones)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def hours(rng: random.Random, low: float, high: float) -> datetime.timedelta:
    return datetime.timedelta(hours=rng.uniform(low, high))
