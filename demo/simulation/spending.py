"""Legitimate spending: each cardholder's ordinary days at their usual shops (and now and
then a new one), trips abroad, shopping sprees, big one-off purchases, money sent home,
CVV typos, and the top-ups that pay for it all. Much of it looks like fraud to a single
rule (abroad, a first-time merchant, many purchases in an hour, at night, a wrong CVV),
which is the point."""

import datetime
import random
from dataclasses import dataclass

from demo.simulation.merchants import (
    AIRLINE,
    BIG_TICKET,
    GLOBAL_ONLINE,
    HOTELS,
    ON_HOLIDAY,
    SHOPPING,
    Merchant,
    catalogue,
    price,
    shop,
    to_minor,
)
from demo.simulation.places import COUNTRIES, TRAVEL
from demo.simulation.plan import (
    DAY,
    EVERYDAY,
    RIGHT,
    WRONG,
    Attempt,
    Event,
    TopUp,
    Truth,
    Window,
    hours,
    poisson,
)
from demo.simulation.population import HolderPlan

ON_A_TRIP = Truth(False, "travel")
SPREE = Truth(False, "spree")
BIG_PURCHASE = Truth(False, "big_purchase")
REMITTANCE = Truth(False, "remittance")
CVV_TYPO = Truth(False, "cvv_typo")
CARD_NOT_PRESENT = ("ecommerce", "moto")


@dataclass(frozen=True)
class Trip:
    begin: datetime.datetime
    end: datetime.datetime
    country: str


class Spending:
    """Plans the legitimate events of one cardholder after another, from `rng`."""

    def __init__(self, rng: random.Random, window: Window):
        self.rng = rng
        self.window = window

    def plan(self, index: int, holder: HolderPlan) -> list[Event]:
        rng, habits = self.rng, holder.habits
        trips = self._trips(holder)
        events: list[Event] = []
        for midnight in self.window.midnights(holder.utc_offset):
            weekend = (midnight + datetime.timedelta(hours=holder.utc_offset + 12)).weekday() >= 5
            for _ in range(poisson(rng, habits.per_day * (1.2 if weekend else 1.0))):
                at = midnight + self._hour(holder)
                trip = next((trip for trip in trips if trip.begin <= at < trip.end), None)
                if trip:  # the same hour of the day, where the cardholder is
                    at -= datetime.timedelta(hours=COUNTRIES[trip.country].utc_offset - holder.utc_offset)
                events += self.purchase(index, holder, at, *self._where(holder, trip))
        events += self._bookings(index, holder, trips)
        events += self._sprees(index, holder)
        events += self._big_purchases(index, holder)
        events += self._remittances(index, holder)
        events += self._top_ups(index, holder)
        return [event for event in events if event.at in self.window]

    def one_more(self, index: int, holder: HolderPlan) -> list[Attempt]:
        """One more ordinary purchase at a random moment of the window."""
        midnights = self.window.midnights(holder.utc_offset)
        at = self.rng.choice(midnights) + self._hour(holder)
        at = min(max(at, self.window.start), self.window.end)
        return self.purchase(index, holder, at, *self._where(holder, None))

    def purchase(
        self,
        index: int,
        holder: HolderPlan,
        at: datetime.datetime,
        merchant: Merchant,
        truth: Truth = EVERYDAY,
        scale: float = 1.0,
    ) -> list[Attempt]:
        """A purchase with one of the cardholder's cards. Online, the cardholder types the
        CVV (and now and then mistypes it first) unless the shop does not ask."""
        rng = self.rng
        slot = rng.choices(range(len(holder.cards)), [card.weight for card in holder.cards])[0]
        currency = holder.cards[slot].currency
        amount = price(rng, merchant, currency, holder.habits.amount_scale * scale)
        attempt = Attempt(at, index, slot, merchant, amount, currency, truth)
        if merchant.channel not in CARD_NOT_PRESENT or rng.random() < 0.07:
            return [attempt]
        attempts = []
        if rng.random() < 0.03:
            wrong = rng.choices((1, 2, 3), (85, 13, 2))[0]  # three in a row: the card is blocked
            for _ in range(wrong):
                attempts.append(
                    Attempt(at, index, slot, merchant, amount, currency, CVV_TYPO, WRONG, twist(rng))
                )
                at += datetime.timedelta(seconds=rng.randint(15, 90))
            truth = CVV_TYPO
        attempts.append(Attempt(at, index, slot, merchant, amount, currency, truth, RIGHT))
        return attempts

    def _hour(self, holder: HolderPlan) -> datetime.timedelta:
        hour = self.rng.choices(range(24), cum_weights=holder.habits.hours)[0]
        return datetime.timedelta(hours=hour + self.rng.random())

    def _where(self, holder: HolderPlan, trip: Trip | None) -> tuple[Merchant, Truth]:
        rng, habits = self.rng, holder.habits
        if trip:
            if rng.random() < 0.85:
                return shop(rng, trip.country, ON_HOLIDAY), ON_A_TRIP
            online = [m for m in habits.usual if m.channel in CARD_NOT_PRESENT] or list(GLOBAL_ONLINE)
            return rng.choice(online), EVERYDAY
        if rng.random() < habits.explore:  # somewhere new
            if rng.random() < 0.2:
                return rng.choice(GLOBAL_ONLINE), EVERYDAY
            return shop(
                rng, holder.country, ("grocery", "coffee", "restaurant", "online", "clothing")
            ), EVERYDAY
        return rng.choices(habits.usual, cum_weights=habits.usual_weights)[0], EVERYDAY

    def _trips(self, holder: HolderPlan) -> list[Trip]:
        """Trips abroad, from two weeks before the window on (the cardholder may be away
        when it begins), two days to two weeks long."""
        rng, lead = self.rng, 14 * DAY
        trips: list[Trip] = []
        for _ in range(poisson(rng, holder.habits.trips_per_year * (self.window.days + 14) / 365)):
            begin = self.window.start - lead + rng.random() * (self.window.end - self.window.start + lead)
            end = begin + hours(rng, 48, 24 * 14)
            country = rng.choice([code for code in TRAVEL if code != holder.country])
            if all(end <= trip.begin or trip.end <= begin for trip in trips):
                trips.append(Trip(begin, end, country))
        return trips

    def _bookings(self, index: int, holder: HolderPlan, trips: list[Trip]) -> list[Event]:
        """The flight and the hotel, booked online some days before leaving."""
        events: list[Event] = []
        for trip in trips:
            for merchant in (AIRLINE, HOTELS):
                if merchant is AIRLINE or self.rng.random() < 0.6:
                    at = trip.begin - hours(self.rng, 24 * 3, 24 * 45)
                    events += self.purchase(index, holder, at, merchant, ON_A_TRIP)
        return events

    def _sprees(self, index: int, holder: HolderPlan) -> list[Event]:
        """An afternoon of shopping: many purchases within hours, several at new shops."""
        rng, events = self.rng, []
        for _ in range(poisson(rng, holder.habits.sprees_per_month * self.window.days / 30)):
            at = rng.choice(self.window.midnights(holder.utc_offset)) + hours(rng, 10, 17)
            for _ in range(rng.randint(4, 12)):
                events += self.purchase(index, holder, at, shop(rng, holder.country, SHOPPING), SPREE, 1.3)
                at += datetime.timedelta(minutes=rng.randint(4, 35))
        return events

    def _big_purchases(self, index: int, holder: HolderPlan) -> list[Event]:
        """A television, a sofa, a ring: once in a few months, many times the usual amount."""
        rng, events = self.rng, []
        for _ in range(poisson(rng, self.window.days / 100)):
            at = rng.choice(self.window.midnights(holder.utc_offset)) + hours(rng, 9, 21)
            merchant = shop(rng, holder.country, BIG_TICKET)
            events += self.purchase(index, holder, at, merchant, BIG_PURCHASE, 1.5)
        return events

    def _remittances(self, index: int, holder: HolderPlan) -> list[Event]:
        """Money sent to family every month (a high-risk category, used honestly)."""
        if not holder.habits.remits:
            return []
        rng, events = self.rng, []
        service = catalogue(holder.country)["money_transfer"][0]
        at = self.window.start + rng.random() * 30 * DAY
        while at <= self.window.end:
            events += self.purchase(index, holder, at, service, REMITTANCE)
            at += hours(self.rng, 24 * 28, 24 * 32)
        return events

    def _top_ups(self, index: int, holder: HolderPlan) -> list[Event]:
        """Pay day: about what the card is used for in a period, more or less."""
        rng, habits, events = self.rng, holder.habits, []
        period = habits.pay_every_days * DAY
        for slot, card in enumerate(holder.cards):
            if card.status != "active":
                continue
            at = self.window.start + rng.random() * period
            usd = habits.daily_usd * habits.pay_every_days * card.weight * habits.income_ratio
            while at <= self.window.end:
                amount = to_minor(max(10.0, usd * rng.uniform(0.9, 1.1)), card.currency)
                events.append(
                    TopUp(at, index, slot, amount, "Salary" if slot == 0 else "Transfer from savings")
                )
                at += period
        return events


def twist(rng: random.Random) -> int:
    """A wrong CVV, as a change to the right one: digit (tens) off by (units) 1 to 9."""
    return rng.randrange(4) * 10 + rng.randint(1, 9)
