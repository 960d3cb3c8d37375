"""A day of demo transactions: ordinary spending, a few CVV typos and some fraud.

The whole day is planned first from the seeded generator (which card pays where, when
and how much), then played back in time order through `authorization_decide`, the
service behind the API, so every decision, risk score, alert and ledger entry is the
engine's own. Fraud the cardholders dispute is then reported through
`fraud_report_create`, hours after the transaction, while the day plays on: later
decisions see those reports as the engine would have.

Times are relative to the moment of seeding (the last 24 hours), so the same seed gives
the same day whenever it runs; only card numbers differ, as the issuing service draws
them from `secrets`. (Limit windows are UTC calendar days, so a decision near a limit
can still depend on the time of day of the run.)
"""

import datetime
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from cards import pan as card_data
from cards.models import Card
from cards.services import IssuedCard
from cardsystem import money
from cardsystem.audit import Actor
from fraud.management.demo_merchants import (
    CARD_TESTER,
    CASH_OUT,
    CLONED_CARD_SHOPS,
    CROSS_BORDER,
    FAR_COUNTRIES,
    HOME_MERCHANTS,
    PER_USD,
    STOLEN_CARD_SPREE,
    Merchant,
)
from transactions.models import Transaction
from transactions.services import AuthorizationRequest, authorization_decide, fraud_report_create

DAY = datetime.timedelta(hours=24)
# Below this many transactions the day is ordinary spending only.
FRAUD_MINIMUM = 100


@dataclass(frozen=True)
class DemoCard:
    issued: IssuedCard
    country: str  # the cardholder's home country

    @property
    def card(self) -> Card:
        return self.issued.card

    @property
    def balance_usd(self) -> float:
        """The balance at the start of the day, in about US dollars."""
        currency = self.card.currency
        return self.card.balance_minor / 10 ** money.exponent(currency) / PER_USD[currency]


@dataclass(frozen=True)
class Attempt:
    at: datetime.datetime
    card: DemoCard | None  # None: a made-up number
    merchant: Merchant
    amount_minor: int
    cvv: str | None
    pan: str = ""  # a made-up number, for card testing
    currency: str = ""
    report: tuple[datetime.timedelta, str] | None = None  # disputed after, with the reason, if approved


@dataclass(frozen=True)
class Report:
    at: datetime.datetime
    transaction: Transaction
    reason: str


class DemoDay:
    """Plans the day from `rng` and plays it through the services."""

    def __init__(self, *, cards: list[DemoCard], rng: random.Random, actor: Actor, now: datetime.datetime):
        self.cards = cards
        self.rng = rng
        self.actor = actor
        self.now = now
        self.start = now - DAY
        self.latest = now - datetime.timedelta(minutes=2)

    # --- Playing ----------------------------------------------------------------------------

    def play(self, count: int, progress: Callable[[], object]) -> int:
        """Plan `count` authorizations and decide them in time order, filing the fraud
        reports among them when their time comes. Returns the number of reports."""
        queue = [(attempt.at, n, attempt) for n, attempt in enumerate(self.plan(count))]
        heapq.heapify(queue)
        reports = 0
        sequence = len(queue)
        while queue:
            _, _, event = heapq.heappop(queue)
            if isinstance(event, Report):
                fraud_report_create(
                    transaction=event.transaction, reason=event.reason, actor=self.actor, reported_at=event.at
                )
                reports += 1
                continue
            decided = authorization_decide(request=self._request(event))
            progress()
            if event.report and decided.status == Transaction.Status.APPROVED:
                delay, reason = event.report
                reported_at = min(event.at + delay, self.now - datetime.timedelta(minutes=1))
                sequence += 1
                heapq.heappush(queue, (reported_at, sequence, Report(reported_at, decided, reason)))
        return reports

    def _request(self, attempt: Attempt) -> AuthorizationRequest:
        card = attempt.card.card if attempt.card else None
        return AuthorizationRequest(
            card_number=attempt.card.issued.pan if attempt.card else attempt.pan,
            expiry_month=card.expiry_month if card else attempt.at.month,
            expiry_year=card.expiry_year if card else attempt.at.year + 2,
            cvv=attempt.cvv,
            amount_minor=attempt.amount_minor,
            currency=card.currency if card else attempt.currency,
            merchant_id=attempt.merchant.id,
            merchant_name=attempt.merchant.name,
            mcc=attempt.merchant.mcc,
            merchant_country=attempt.merchant.country,
            channel=attempt.merchant.channel,
            transaction_time=attempt.at,
        )

    # --- Planning -----------------------------------------------------------------------------

    def plan(self, count: int) -> list[Attempt]:
        fraud, victims = self._plan_fraud() if count >= FRAUD_MINIMUM else ([], set())
        # The stolen and the cloned cards' own day is part of their story.
        ordinary = self._plan_ordinary(count - len(fraud), exclude=victims)
        return sorted(fraud + ordinary, key=lambda attempt: attempt.at)

    def _plan_ordinary(self, count: int, exclude: set[int]) -> list[Attempt]:
        rng = self.rng
        cards = [card for card in self.cards if id(card) not in exclude]
        if not cards:
            return []
        # Some cards are busy, most are used a few times; empty or blocked cards seldom.
        weights = [
            rng.lognormvariate(0, 0.7)
            * (1 if card.card.status == Card.Status.ACTIVE else 0.1)
            * (1 if card.card.balance_minor else 0.1)
            for card in cards
        ]
        left = {id(card): card.card.balance_minor for card in cards}
        # A few cardholders are abroad today: they pay there, in person.
        travelling = {
            id(card): rng.choice([c for c in HOME_MERCHANTS if c != card.country])
            for card in cards
            if rng.random() < 0.03
        }
        attempts = []
        while len(attempts) < count:
            card = rng.choices(cards, weights)[0]
            at = self._time(rng.uniform(0, 1))
            merchant = self._ordinary_merchant(card, travelling.get(id(card)))
            amount = self._amount(merchant, card.card.currency)
            if amount > left[id(card)] and rng.random() < 0.85:
                continue  # most people know when a card will not cover it, and take another
            left[id(card)] -= amount
            cvv = None
            if merchant.channel == "ecommerce":
                cvv = card.issued.cvv if rng.random() < 0.93 else None
                if cvv and rng.random() < 0.04 and len(attempts) + 2 <= count:
                    # A typo, then the right CVV a little later.
                    attempts.append(Attempt(at, card, merchant, amount, self._wrong_cvv(cvv)))
                    at = min(at + datetime.timedelta(seconds=rng.randint(15, 120)), self.latest)
            attempts.append(Attempt(at, card, merchant, amount, cvv))
        return attempts

    def _ordinary_merchant(self, card: DemoCard, abroad: str | None) -> Merchant:
        rng = self.rng
        home = HOME_MERCHANTS.get(card.country) or HOME_MERCHANTS["US"]
        if abroad:
            here = [m for m in HOME_MERCHANTS[abroad] if m.channel != "ecommerce"]
            online = [m for m in home if m.channel == "ecommerce"]
            return rng.choice(online) if online and rng.random() < 0.15 else rng.choice(here)
        roll = rng.random()
        if roll < 0.03:
            return rng.choice(CROSS_BORDER)
        online = [m for m in home if m.channel == "ecommerce"]
        if roll < 0.15 and online:
            return online[0]
        cash = [m for m in home if m.channel == "atm"]
        if roll < 0.2 and cash:
            return cash[0]
        return rng.choice([m for m in home if m.channel == "pos"])

    def _plan_fraud(self) -> tuple[list[Attempt], set[int]]:
        """Card testing at one merchant (twice: later the merchant's reported fraud counts),
        a stolen card emptied abroad, and cloned cards used far from home."""
        rng = self.rng
        usable = [
            card
            for card in self.cards
            if card.card.status == Card.Status.ACTIVE and card.card.balance_minor > 0
        ]
        no_limits = [card for card in usable if card.card.limit_daily_minor is None]
        stolen = max(no_limits or usable, key=lambda card: card.balance_usd, default=None)
        others = [card for card in usable if card is not stolen]
        rng.shuffle(others)
        cloned, tested, tested_later = others[:2], others[2:5], others[5:7]
        attempts = []
        if stolen:
            attempts += self._stolen_card(stolen)
        for card in cloned:
            attempts += self._cloned_card(card)
        testing = self.start + datetime.timedelta(hours=rng.uniform(2, 5))
        attempts += self._card_testing(tested, testing, made_up=8)
        attempts += self._card_testing(tested_later, testing + datetime.timedelta(hours=rng.uniform(7, 9)))
        return attempts, {id(card) for card in [stolen, *cloned] if card}

    def _card_testing(self, cards: list[DemoCard], at: datetime.datetime, made_up: int = 0) -> list[Attempt]:
        """Stolen card numbers tried for 1.00 within minutes: made-up numbers in the issuer's
        BINs, then real ones, guessing the CVV (three wrong in a row block the card)."""
        rng = self.rng
        burst = []
        for _ in range(made_up):
            bin = rng.choice([card.card.bin for card in self.cards])
            pan = self._made_up_pan(bin.bin, bin.pan_length)
            burst.append(
                Attempt(at, None, CARD_TESTER, self._minor(1, bin.currency), None, pan, bin.currency)
            )
        reason = "Cardholder does not recognise a small charge from Helping Hands Giving (card testing)."
        for number, card in enumerate(cards):
            one = self._minor(1, card.card.currency)
            if made_up:  # the first wave guesses the CVV; the first card runs out of guesses
                wrong = 3 if number == 0 else rng.randint(0, 2)
                burst += [
                    Attempt(at, card, CARD_TESTER, one, self._wrong_cvv(card.issued.cvv))
                    for _ in range(wrong)
                ]
                burst.append(
                    Attempt(at, card, CARD_TESTER, one, card.issued.cvv, report=(self._hours(3, 6), reason))
                )
            else:  # the second wave tries without a CVV
                burst += [Attempt(at, card, CARD_TESTER, one, None) for _ in range(2)]
        # Seconds apart, in the order the script ran them.
        attempts, moment = [], at
        for attempt in burst:
            moment += datetime.timedelta(seconds=rng.randint(4, 25))
            attempts.append(replace(attempt, at=min(moment, self.latest)))
        if made_up and len(cards) > 1:
            # A number that worked is used for real soon after, for what the card can pay.
            card = max(cards[1:], key=lambda card: card.balance_usd)
            cash_out = moment + datetime.timedelta(minutes=rng.randint(30, 90))
            amount = min(self._amount(CASH_OUT, card.card.currency), card.card.balance_minor * 9 // 10)
            attempts.append(
                Attempt(
                    cash_out,
                    card,
                    CASH_OUT,
                    max(amount, 1),
                    card.issued.cvv,
                    report=(self._hours(4, 8), "Cardholder did not order from VoltCity Electronics Online."),
                )
            )
        return attempts

    def _stolen_card(self, card: DemoCard) -> list[Attempt]:
        """Used at home, then a few hours later emptied far abroad."""
        rng = self.rng
        abroad_at = self.now - self._hours(5, 8)
        home = [m for m in HOME_MERCHANTS.get(card.country, HOME_MERCHANTS["US"]) if m.channel == "pos"]
        attempts = [
            Attempt(
                abroad_at - self._hours(2.5, 4),
                card,
                home[0],
                self._amount(home[0], card.card.currency),
                None,
            ),
            Attempt(
                abroad_at - self._hours(1, 2), card, home[1], self._amount(home[1], card.card.currency), None
            ),
        ]
        country = rng.choice([c for c in ("BR", "TH", "ZA", "VN", "ID") if c != card.country])
        reason = "Card stolen; the cardholder disputes the spending abroad."
        for (code, name, mcc, channel), minutes, usd in STOLEN_CARD_SPREE:
            merchant = Merchant(f"M-{country}-{code}", name, mcc, country, channel)
            attempts.append(
                Attempt(
                    abroad_at + datetime.timedelta(minutes=minutes, seconds=rng.randint(0, 50)),
                    card,
                    merchant,
                    self._minor(usd, card.card.currency),
                    None,
                    report=(self._hours(2, 4), reason),
                )
            )
        return attempts

    def _cloned_card(self, card: DemoCard) -> list[Attempt]:
        """A copy of the card used in person far away while the cardholder shops at home."""
        rng = self.rng
        at = self.now - self._hours(10, 20)
        home = [m for m in HOME_MERCHANTS.get(card.country, HOME_MERCHANTS["US"]) if m.channel == "pos"]
        country = rng.choice([c for c in FAR_COUNTRIES if c != card.country])
        away = [Merchant(f"M-{country}-{code}", name, mcc, country) for code, name, mcc in CLONED_CARD_SHOPS]
        currency = card.card.currency
        reason = "Cardholder was at home; the card was copied."
        attempts = [Attempt(at, card, home[0], self._amount(home[0], currency), None)]
        for minutes in (rng.randint(25, 50), rng.randint(60, 80)):
            merchant = rng.choice(away)
            attempts.append(
                Attempt(
                    at + datetime.timedelta(minutes=minutes),
                    card,
                    merchant,
                    self._minor(rng.choice((150, 250, 400)), currency),
                    None,
                    report=(self._hours(3, 8), reason),
                )
            )
        merchant = rng.choice(home)
        attempts.append(
            Attempt(at + self._hours(1.5, 2), card, merchant, self._amount(merchant, currency), None)
        )
        return attempts

    # --- Numbers -----------------------------------------------------------------------------------

    def _time(self, fraction: float) -> datetime.datetime:
        return min(self.start + fraction * DAY, self.latest)

    def _hours(self, low: float, high: float) -> datetime.timedelta:
        return datetime.timedelta(hours=self.rng.uniform(low, high))

    def _amount(self, merchant: Merchant, currency: str) -> int:
        """A price in the merchant's range (log-uniform), in `currency`'s minor units; cash
        machines pay out round sums."""
        low, high = merchant.usd
        usd = math.exp(self.rng.uniform(math.log(low), math.log(high)))
        if merchant.channel == "atm":
            return self._minor(20 * max(1, round(usd / 20)), currency)
        places = money.exponent(currency)
        amount = round(usd * PER_USD[currency] * 10**places)
        if not places:  # yen prices end in zero
            amount = round(amount, -1)
        return max(amount, 1)

    def _minor(self, usd: float, currency: str) -> int:
        """About `usd` dollars in `currency`, a round sum, in minor units."""
        places = money.exponent(currency)
        return max(1, round(usd * PER_USD[currency])) * 10**places

    def _wrong_cvv(self, cvv: str) -> str:
        position = self.rng.randrange(len(cvv))
        digit = (int(cvv[position]) + self.rng.randint(1, 9)) % 10
        return cvv[:position] + str(digit) + cvv[position + 1 :]

    def _made_up_pan(self, prefix: str, length: int) -> str:
        body = "".join(str(self.rng.randrange(10)) for _ in range(length - len(prefix) - 1))
        return prefix + body + card_data.luhn_check_digit(prefix + body)
