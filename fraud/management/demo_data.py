"""Believable demo data for a local trial, written through the same services as real data.

BINs, cardholders, cards with balances, limits and a few blocked or lost cards, then a
day of transactions (fraud/management/demo_day.py). Deterministic for a seed: the same
BINs, cardholders, cards, expiries, limits, balances, statuses and the same day of
authorizations (relative to the moment of seeding) every time. Only the card numbers
differ between runs, since the issuing service draws them from `secrets`, as it must.

It lives in the fraud app because the day goes through `transactions` (and the fraud
engine): the cards app may not import either.
"""

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from faker import Faker

from bins.models import Bin
from bins.services import bin_create
from cards.models import Card, Cardholder
from cards.services import card_change_status, card_issue, card_top_up, cardholder_create
from cardsystem import money
from cardsystem.audit import Actor
from fraud.management.demo_day import DemoCard, DemoDay
from fraud.management.demo_merchants import PER_USD
from fraud.models import FraudAlert
from transactions.models import Transaction

# One BIN per network, spread over countries and currencies (a zero-decimal JPY, and
# 6- and 8-digit BINs with 15-, 16- and 19-digit PANs); each agrees with bins.networks.
DEMO_BINS = [
    {"bin": "453201", "network": "visa", "issuer_name": "Liberty National Bank", "card_type": "debit",
     "country": "US", "currency": "USD", "pan_length": 16},
    {"bin": "22213400", "network": "mastercard", "issuer_name": "Thames & Harbour Bank",
     "card_type": "credit", "country": "GB", "currency": "GBP", "pan_length": 16},
    {"bin": "374245", "network": "amex", "issuer_name": "Meridian Charge Company", "card_type": "credit",
     "country": "US", "currency": "USD", "pan_length": 15},
    {"bin": "356912", "network": "jcb", "issuer_name": "Sakura Shinkin Bank", "card_type": "credit",
     "country": "JP", "currency": "JPY", "pan_length": 16},
    {"bin": "621700", "network": "unionpay", "issuer_name": "Jade River Commercial Bank",
     "card_type": "debit", "country": "CN", "currency": "CNY", "pan_length": 19},
    {"bin": "601157", "network": "discover", "issuer_name": "Prairie Savings Bank", "card_type": "credit",
     "country": "US", "currency": "USD", "pan_length": 16},
    {"bin": "45871290", "network": "visa", "issuer_name": "Rheinufer Sparkasse", "card_type": "prepaid",
     "country": "DE", "currency": "EUR", "pan_length": 16},
]  # fmt: skip

# Home countries of the cardholders, with the Faker locale that writes their names,
# and how common each is.
COUNTRIES = {
    "US": ("en_US", 30),
    "GB": ("en_GB", 12),
    "DE": ("de_DE", 10),
    "JP": ("ja_JP", 8),
    "CN": ("zh_CN", 8),
    "FR": ("fr_FR", 6),
    "ES": ("es_ES", 5),
    "IT": ("it_IT", 5),
    "BR": ("pt_BR", 5),
    "IN": ("en_IN", 5),
    "MX": ("es_MX", 4),
    "CA": ("en_CA", 4),
    "AU": ("en_AU", 3),
    "NL": ("nl_NL", 3),
}

TOP_UPS_USD = (20, 50, 100, 150, 250, 500, 1000, 2500)
TOP_UP_REFERENCES = ("Salary", "Bank transfer", "Cash deposit", "Transfer from savings", "Refund", "Gift")
LIMITS_USD = ({"per_transaction": 250, "daily": 500, "monthly": 2000},
              {"per_transaction": 500, "daily": 1000, "monthly": 5000},
              {"per_transaction": 1000, "daily": 2500, "monthly": 10000},
              {"daily": 300})  # fmt: skip


class DatabaseNotEmpty(Exception):
    """The database holds data that is not the demo's; nothing was written."""


@dataclass(frozen=True)
class DemoSummary:
    bins: int
    cardholders: int
    cards: int
    top_ups: int
    blocked: int
    lost: int
    transactions: dict[str, int]  # by reason ("approved", "insufficient_funds", ...)
    flagged: int
    alerts: int
    blocked_by_engine: int
    fraud_reports: int


def seed_demo_data(
    *,
    cardholders: int,
    transactions: int,
    seed: int,
    actor: Actor,
    progress: Callable[[], object] = lambda: None,
) -> DemoSummary | None:
    """Fill an empty database with demo BINs, cardholders, cards with balances and a day
    of `transactions` authorizations, all or nothing. Returns None, writing nothing, when
    the demo data is already there; raises DatabaseNotEmpty when other data is.
    `progress` is called once per cardholder and once per authorization."""
    with transaction.atomic():
        if Bin.objects.filter(bin__in=[fields["bin"] for fields in DEMO_BINS]).exists():
            return None
        if (
            Bin.objects.exists()
            or Cardholder.objects.exists()
            or Card.objects.exists()
            or Transaction.objects.exists()
        ):
            raise DatabaseNotEmpty(
                "The database already holds BINs, cardholders, cards or transactions; demo data goes "
                "only into an empty one. Nothing was written."
            )
        world = _DemoWorld(seed=seed, actor=actor)
        bins = [bin_create(actor=actor, **fields) for fields in DEMO_BINS]
        for _ in range(cardholders):
            world.add_cardholder(bins)
            progress()
        day = DemoDay(cards=world.issued, rng=world.rng, actor=actor, now=timezone.now())
        reports = day.play(transactions, progress)
        by_reason = dict(
            Transaction.objects.values_list("reason").annotate(n=Count("pk")).order_by("-n", "reason")
        )
        flagged = Transaction.objects.filter(flagged=True).count()
        alerts = FraudAlert.objects.count()
        blocked_now = Card.objects.filter(status=Card.Status.BLOCKED).count()
    return DemoSummary(
        bins=len(bins),
        cardholders=cardholders,
        cards=world.cards,
        top_ups=world.top_ups,
        blocked=world.blocked,
        lost=world.lost,
        transactions=by_reason,
        flagged=flagged,
        alerts=alerts,
        blocked_by_engine=blocked_now - world.blocked,
        fraud_reports=reports,
    )


class _DemoWorld:
    """The random choices behind the demo data, drawn from one seeded generator."""

    def __init__(self, *, seed: int, actor: Actor):
        self.rng = random.Random(seed)  # noqa: S311 -- demo data, reproducible by design; no secrets
        self.fake = Faker([locale for locale, _ in COUNTRIES.values()])
        self.actor = actor
        self.today = timezone.localdate()
        self.cards = self.top_ups = self.blocked = self.lost = 0
        self.issued: list[DemoCard] = []  # with their numbers and CVVs, in memory only

    def add_cardholder(self, bins: list[Bin]) -> None:
        rng = self.rng
        country = rng.choices(list(COUNTRIES), weights=[weight for _, weight in COUNTRIES.values()])[0]
        fake = self.fake[COUNTRIES[country][0]]
        # Seeded per cardholder from the one generator: reproducible, and locales that
        # share name lists (en_US, en_CA, en_AU) do not repeat each other's people.
        fake.seed_instance(rng.getrandbits(64))
        holder = cardholder_create(
            name=fake.name(),
            date_of_birth=self._birthday(),
            country=country,
            email=fake.email() if rng.random() < 0.9 else "",
            actor=self.actor,
        )
        usd_bins = [bin for bin in bins if bin.currency == "USD"]
        home_bins = [bin for bin in bins if bin.country == country] or usd_bins
        first = rng.choice(home_bins)
        self._add_card(holder, first, country)
        if rng.random() < 0.3:
            self._add_card(holder, rng.choice([bin for bin in usd_bins if bin != first]), country)

    def _birthday(self) -> datetime.date:
        """Mostly working-age adults, a few just 18 or 19 and a few up to 90."""
        roll = self.rng.random()
        if roll < 0.03:
            age = self.rng.randint(18, 19)
        elif roll < 0.06:
            age = self.rng.randint(86, 90)
        else:
            age = round(self.rng.triangular(20, 80, 35))
        # The latest birthday for that age is today, `age` years ago; the earliest, a year before.
        try:
            latest = self.today.replace(year=self.today.year - age)
        except ValueError:  # 29 February
            latest = self.today.replace(year=self.today.year - age, day=28)
        return latest - datetime.timedelta(days=self.rng.randint(0, 364))

    def _add_card(self, holder: Cardholder, bin: Bin, country: str) -> None:
        rng = self.rng
        limits = None
        if rng.random() < 0.25:
            limits = {name: self._minor(usd, bin.currency) for name, usd in rng.choice(LIMITS_USD).items()}
        issued = card_issue(
            bin=bin,
            cardholder=holder,
            expiry_month=rng.randint(1, 12),
            expiry_year=self.today.year + rng.randint(1, 4),
            limits=limits,
            actor=self.actor,
        )
        card = issued.card
        self.issued.append(DemoCard(issued=issued, country=country))
        self.cards += 1
        top_ups = 0 if rng.random() < 0.1 else rng.randint(1, 3)
        for _ in range(top_ups):
            amount = self._minor(rng.choice(TOP_UPS_USD), bin.currency, cents=True)
            card_top_up(
                card=card, amount_minor=amount, actor=self.actor, reference=rng.choice(TOP_UP_REFERENCES)
            )
            self.top_ups += 1
        roll = rng.random()
        if roll < 0.04:
            reason = "Blocked after suspicious activity, pending a call with the cardholder"
            card_change_status(card=card, status=Card.Status.BLOCKED, reason=reason, actor=self.actor)
            self.blocked += 1
        elif roll < 0.07:
            reason = "Cardholder reported the card lost"
            card_change_status(card=card, status=Card.Status.LOST, reason=reason, actor=self.actor)
            self.lost += 1

    def _minor(self, usd: int, currency: str, *, cents: bool = False) -> int:
        """About `usd` dollars in `currency`, in minor units (whole yen for JPY); with `cents`,
        odd minor digits as real top-ups have."""
        places = money.exponent(currency)
        amount = round(usd * PER_USD[currency]) * 10**places
        if cents and places:
            amount += self.rng.randint(0, 10**places - 1)
        return amount
