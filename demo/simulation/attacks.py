"""Fraud, as it happens to an issuer's cards, each attack with its own id:

- card_testing: a bot tries small charges at one online merchant within minutes, on
  made-up numbers in one of the issuer's BINs (declined: unknown card) and on real card
  numbers of that BIN from a breach; some of those that work are cashed out hours later.
- lost_stolen: a thief spends with a lost or stolen card in person, near the cardholder's
  home, within hours, until the cardholder calls the bank.
- skimmed_terminal: a skimmer hides in a shop's terminal for some days while its usual
  customers pay there (legitimately); about a week later copies of their cards are used
  in person elsewhere: cash machines, electronics, jewellery.
- card_abroad: card details with the right CVV used from abroad, mostly online.
- cvv_guessing: one card number tried with one CVV after another.
- account_takeover: someone in the cardholder's online account buys at shops the
  cardholder never used, small at first, more and more for weeks.

Cardholders dispute what was taken when they notice (days later, weeks for a slow
account takeover, sometimes never for a small charge): see `_disputes`.
"""

import datetime
import math
import random
from collections import defaultdict
from dataclasses import replace

from cardsystem.card_numbers import luhn_check_digit
from demo.simulation.merchants import (
    CARD_TESTERS,
    CASH_OUT,
    RESELLABLE_ONLINE,
    Merchant,
    catalogue,
    price,
    shop,
    to_minor,
    usd_of,
)
from demo.simulation.places import FAR_APART, FRAUD_ABROAD, HOMES
from demo.simulation.plan import (
    ABSENT,
    DAY,
    MADE_UP,
    RIGHT,
    WRONG,
    Attempt,
    CardNotice,
    Dispute,
    Event,
    Truth,
    Window,
    hours,
    local_midnight,
    poisson,
)
from demo.simulation.population import BIN_FIELDS, HolderPlan
from demo.simulation.spending import Spending, twist

# Attacks per cardholder per day: together about 1% of all transactions.
RATES = {
    "card_testing": 1 / 7_000,
    "lost_stolen": 1 / 2_000,
    "skimmed_terminal": 1 / 10_000,
    "card_abroad": 1 / 1_200,
    "cvv_guessing": 1 / 2_500,
    "account_takeover": 1 / 5_000,
}
SCENARIOS = tuple(RATES)
REASONS = {
    "card_testing": "Cardholder does not recognise the charge (card testing).",
    "lost_stolen": "Card lost or stolen; the cardholder did not make these purchases.",
    "skimmed_terminal": "Cardholder was at home; the card was copied.",
    "card_abroad": "Cardholder has never been there; the card details were stolen.",
    "cvv_guessing": "Cardholder did not make this purchase.",
    "account_takeover": "Someone else used the cardholder's online account.",
}
ONLINE = ("online", "online", "electronics_online", "gift_cards")

Victim = tuple[int, int]  # (cardholder index, card slot)


class Attacks:
    def __init__(self, rng: random.Random, holders: list[HolderPlan], window: Window, spending: Spending):
        self.rng = rng
        self.holders = holders
        self.window = window
        self.spending = spending
        self.cards: list[Victim] = [
            (index, slot)
            for index, holder in enumerate(holders)
            for slot, card in enumerate(holder.cards)
            if card.status == "active"
        ]
        self.next_id = 1

    def plan(self, *, showcase: bool, rate: float = 1.0) -> list[Event]:
        """Each scenario's attacks, as many as chance gives (`rate` times as often as in
        life), each beginning at a random moment of the window (`showcase`: at least one of
        each, beginning in the window's first three quarters, so that their stories have
        time to unfold)."""
        planners = {
            "card_testing": self._card_testing,
            "lost_stolen": self._lost_stolen,
            "skimmed_terminal": self._skimmed_terminal,
            "card_abroad": self._card_abroad,
            "cvv_guessing": self._cvv_guessing,
            "account_takeover": self._account_takeover,
        }
        events: list[Event] = []
        if not self.cards:
            return events
        cardholder_days = len(self.holders) * self.window.days
        for scenario, planner in planners.items():
            count = poisson(self.rng, RATES[scenario] * rate * cardholder_days)
            for _ in range(max(count, 1) if showcase else count):
                at = self.window.uniform(self.rng)
                if showcase:
                    at = self.window.start + (at - self.window.start) * 0.75
                events += planner(Truth(True, scenario, self.next_id), at)
                self.next_id += 1
        return [event for event in self._disputes(events) if event.at in self.window]

    # --- The scenarios ---------------------------------------------------------------------------

    def _card_testing(self, truth: Truth, at: datetime.datetime) -> list[Event]:
        rng = self.rng
        holder, slot = rng.choice(self.cards)
        bin = self.holders[holder].cards[slot].bin
        same_bin = [card for card in self.cards if self._card(card).bin == bin]
        victims = rng.sample(same_bin, k=min(len(same_bin), rng.randint(2, 10)))
        merchant = rng.choice(CARD_TESTERS)
        tries: list[Victim | None] = [None] * rng.randint(5, 30) + victims
        rng.shuffle(tries)
        attempts: list[Event] = []
        moment = at
        for victim in tries:
            if victim is None:
                attempts.append(self._made_up(truth, moment, merchant, bin))
            else:
                cvv = rng.choices((RIGHT, ABSENT, WRONG), (5, 3, 2))[0]
                attempts.append(self._attempt(truth, moment, victim, merchant, cvv=cvv))
            moment += datetime.timedelta(seconds=rng.randint(3, 25))
        for victim in victims:  # a number that worked, used for real
            if rng.random() < 0.35:
                cash_out = moment + hours(rng, 1, 30)
                attempts.append(
                    self._attempt(truth, cash_out, victim, rng.choice(RESELLABLE_ONLINE), cvv=RIGHT, since=at)
                )
        return attempts

    def _lost_stolen(self, truth: Truth, at: datetime.datetime) -> list[Event]:
        rng = self.rng
        victim = rng.choice(self.cards)
        home = self.holders[victim[0]].country
        attempts: list[Event] = []
        moment = at
        for _ in range(rng.randint(3, 9)):
            merchant = shop(rng, home, CASH_OUT)
            attempts.append(
                self._attempt(truth, moment, victim, merchant, scale=rng.uniform(0.7, 1.5), since=at)
            )
            moment += datetime.timedelta(minutes=rng.randint(5, 50))
        status = rng.choice(("lost", "stolen"))
        reason = (
            "Cardholder reported the card lost."
            if status == "lost"
            else "Wallet stolen, says the cardholder."
        )
        attempts.append(CardNotice(at + hours(rng, 1.5, 30), *victim, status, reason, at))
        return attempts

    def _skimmed_terminal(self, truth: Truth, at: datetime.datetime) -> list[Event]:
        """`at` is when the first copy is used; the skimmer sat in the terminal from some
        days to a week or two before."""
        rng = self.rng
        country = self.holders[rng.choice(self.cards)[0]].country
        terminal = shop(rng, country, ("fuel", "grocery", "restaurant", "atm"))
        skim_end = at - hours(rng, 24 * 4, 24 * 9)
        skim_begin = skim_end - hours(rng, 24 * 2, 24 * 6)
        customers = [index for index, holder in enumerate(self.holders) if holder.country == country]
        visiting = rng.sample(customers, k=min(len(customers), rng.randint(4, 20)))
        visit_truth = Truth(False, truth.scenario, truth.attack_id)
        events: list[Event] = []
        cloned = 0
        for index in visiting:
            day = skim_begin + rng.random() * (skim_end - skim_begin)
            visit = local_midnight(day, self.holders[index].utc_offset) + hours(rng, 7, 21)
            paid = self.spending.purchase(index, self.holders[index], visit, terminal, visit_truth)
            events += paid
            victim = (index, paid[-1].slot)
            if self._card(victim).status != "active" or (cloned and rng.random() > 0.7):
                continue
            place = country if rng.random() < 0.5 else rng.choice([c for c in FAR_APART if c != country])
            moment = at + hours(rng, 0, 72) if cloned else at
            cloned += 1
            for _ in range(rng.randint(1, 4)):
                events.append(self._attempt(truth, moment, victim, shop(rng, place, CASH_OUT), since=visit))
                moment += datetime.timedelta(minutes=rng.randint(10, 90))
        return events

    def _card_abroad(self, truth: Truth, at: datetime.datetime) -> list[Event]:
        rng = self.rng
        victim = rng.choice(self.cards)
        country = rng.choice([c for c in FRAUD_ABROAD if c != self.holders[victim[0]].country])
        attempts: list[Event] = []
        moment = at
        for _ in range(rng.randint(1, 5)):
            if rng.random() < 0.75:
                merchant = shop(rng, country, ONLINE)
            else:
                merchant = shop(rng, country, ("electronics", "jewellery", "department"))
            attempts.append(self._attempt(truth, moment, victim, merchant, cvv=RIGHT, since=at))
            moment += hours(rng, 0.1, 12)
        return attempts

    def _cvv_guessing(self, truth: Truth, at: datetime.datetime) -> list[Event]:
        """Guess after guess; now and then one is right (a CVV half-known from a phishing
        page), and the card is spent at once."""
        rng = self.rng
        victim = rng.choice(self.cards)
        guesses = rng.randint(2, 7)
        found = rng.random() < 0.25
        patient = rng.random() < 0.3  # spreads the guesses over hours
        merchant = self._online_shop()
        attempts: list[Event] = []
        moment = at
        for guess in range(guesses):
            if rng.random() < 0.4:
                merchant = self._online_shop()
            cvv = RIGHT if found and guess == guesses - 1 else WRONG
            attempts.append(self._attempt(truth, moment, victim, merchant, cvv=cvv, since=at))
            moment += hours(rng, 0.2, 3) if patient else datetime.timedelta(seconds=rng.randint(5, 120))
        if found:
            for _ in range(rng.randint(1, 2)):
                moment += datetime.timedelta(minutes=rng.randint(2, 40))
                attempts.append(
                    self._attempt(truth, moment, victim, rng.choice(RESELLABLE_ONLINE), cvv=RIGHT, since=at)
                )
        return attempts

    def _account_takeover(self, truth: Truth, at: datetime.datetime) -> list[Event]:
        """Purchases at online shops new to the card, growing from a few dollars to
        hundreds over weeks, in the cardholder's waking hours."""
        rng = self.rng
        victim = rng.choice(self.cards)
        holder = self.holders[victim[0]]
        span = hours(rng, 24 * 14, 24 * 42)
        count = max(3, round(span / DAY / 7 * rng.uniform(2, 4)))
        first_usd = rng.uniform(15, 40)
        growth = rng.uniform(8, 25) ** (1 / (count - 1))
        attempts: list[Event] = []
        for number in range(count):
            day = local_midnight(at + span * (number / count), holder.utc_offset)
            moment = day + hours(rng, 8, 22) if number else at  # the takeover begins with a purchase
            merchant = self._online_shop(avoiding=holder.habits.usual)
            usd = first_usd * growth**number
            attempts.append(self._attempt(truth, moment, victim, merchant, usd=usd, cvv=RIGHT, since=at))
        return attempts

    # --- Reports -----------------------------------------------------------------------------------

    def _disputes(self, events: list[Event]) -> list[Event]:
        """Each victim notices (or not) and reports the attack's charges on the card at
        once, days after the first; charges after that are reported after a delay of
        their own. Small losses often go unnoticed; only reports due by the end of the
        window are filed."""
        rng = self.rng
        on_card: dict[tuple, list[int]] = defaultdict(list)
        for position, event in enumerate(events):
            if isinstance(event, Attempt) and event.truth.is_fraud and event.holder != MADE_UP:
                on_card[(event.truth.attack_id, event.holder, event.slot)].append(position)
        for positions in on_card.values():
            group = [events[position] for position in positions]
            scenario = group[0].truth.scenario
            lost_usd = sum(usd_of(attempt.amount_minor, attempt.currency) for attempt in group)
            if rng.random() > (0.9 if lost_usd >= 100 else 0.45):
                continue
            first = min(attempt.at for attempt in group)
            if scenario == "account_takeover":
                noticed = first + hours(rng, 24 * 10, 24 * 35)
            else:
                noticed = first + report_delay(rng)
            block = rng.random() < 0.9
            for position, attempt in zip(positions, group, strict=True):
                at = noticed if attempt.at < noticed else attempt.at + report_delay(rng)
                if at <= self.window.end:
                    events[position] = replace(attempt, dispute=Dispute(at, REASONS[scenario], block))
        return events

    # --- Helpers ------------------------------------------------------------------------------------

    def _card(self, victim: Victim):
        holder, slot = victim
        return self.holders[holder].cards[slot]

    def _attempt(
        self,
        truth: Truth,
        at: datetime.datetime,
        victim: Victim,
        merchant: Merchant,
        *,
        cvv: str = ABSENT,
        usd: float | None = None,
        scale: float = 1.0,
        since: datetime.datetime | None = None,
    ) -> Attempt:
        """A fraudulent attempt on the victim's card as it was at `since` (default `at`)."""
        currency = self._card(victim).currency
        amount = price(self.rng, merchant, currency, scale) if usd is None else to_minor(usd, currency)
        return Attempt(
            at,
            *victim,
            merchant,
            amount,
            currency,
            truth,
            cvv,
            twist(self.rng) if cvv == WRONG else 0,
            compromised_at=since or at,
        )

    def _made_up(self, truth: Truth, at: datetime.datetime, merchant: Merchant, bin: str) -> Attempt:
        """A number in the issuer's BIN with a valid check digit that no card has (declined
        as unknown: the tester learns the BIN's numbers are not all live)."""
        fields = BIN_FIELDS[bin]
        body = "".join(str(self.rng.randrange(10)) for _ in range(fields["pan_length"] - len(bin) - 1))
        pan = bin + body + luhn_check_digit(bin + body)
        currency = fields["currency"]
        amount = price(self.rng, merchant, currency)
        return Attempt(at, MADE_UP, 0, merchant, amount, currency, truth, made_up_pan=pan)

    def _online_shop(self, avoiding: tuple[Merchant, ...] = ()) -> Merchant:
        rng = self.rng
        while True:
            if rng.random() < 0.3:
                merchant = rng.choice(RESELLABLE_ONLINE)
            else:
                merchant = rng.choice(catalogue(rng.choice(HOMES).code)[rng.choice(ONLINE)])
            if merchant not in avoiding:
                return merchant


def report_delay(rng: random.Random) -> datetime.timedelta:
    """How long a cardholder takes to notice: three days at the median, a tenth within a
    day, a tenth after more than a week (a statement, not a notification)."""
    return datetime.timedelta(hours=min(24 * 30, max(2.0, rng.lognormvariate(math.log(72), 0.8))))
