"""The cardholders of a simulated world, their cards and their habits, drawn from one
seeded generator. Data only: the replay creates them through the services."""

import datetime
import math
import random
from dataclasses import dataclass

from faker import Faker

from demo.simulation.merchants import GLOBAL_ONLINE, Merchant, catalogue, to_minor
from demo.simulation.places import COUNTRIES, EURO, HOMES, REMITTING

# The issuer's BINs: one per network, spread over countries and currencies (a zero-decimal
# JPY, and 6- and 8-digit BINs with 15-, 16- and 19-digit PANs); each agrees with bins.networks.
BINS = [
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
BIN_FIELDS = {fields["bin"]: fields for fields in BINS}
LIMITS_USD = ({"per_transaction": 250, "daily": 500, "monthly": 2000},
              {"per_transaction": 500, "daily": 1000, "monthly": 5000},
              {"per_transaction": 1000, "daily": 2500, "monthly": 10000},
              {"daily": 300})  # fmt: skip
TOP_UP_REFERENCES = ("Salary", "Bank transfer", "Cash deposit", "Transfer from savings", "Refund", "Gift")
# What people buy often, and how much of their spending goes there.
USUAL_KINDS = {"grocery": 5, "coffee": 3, "bakery": 1.5, "restaurant": 2, "fuel": 1.5, "pharmacy": 0.7,
               "transit": 2, "atm": 0.8, "online": 1.2, "books": 0.3, "delivery": 1}  # fmt: skip


@dataclass(frozen=True)
class CardPlan:
    bin: str
    currency: str
    expiry_month: int
    expiry_year: int
    limits: tuple[tuple[str, int], ...]  # (name, minor units); empty: none
    top_ups: tuple[tuple[int, str], ...]  # at issue: (minor units, reference)
    status: str  # "active", or "blocked" / "lost" since before the world began
    weight: float  # the card's share of its cardholder's spending


@dataclass(frozen=True)
class Habits:
    per_day: float  # purchases on an ordinary day
    amount_scale: float  # spends more or less than most at the same shops
    hours: tuple[float, ...]  # cumulative weights of the 24 local hours
    usual: tuple[Merchant, ...]
    usual_weights: tuple[float, ...]  # cumulative
    explore: float  # chance that a purchase is at a shop never used before
    trips_per_year: float
    sprees_per_month: float
    pay_every_days: int
    income_ratio: float  # income over spending: below 1, the cards run dry now and then
    remits: bool  # sends money to family abroad every month
    daily_usd: float  # about what an ordinary day costs


@dataclass(frozen=True)
class HolderPlan:
    name: str
    date_of_birth: datetime.date
    country: str
    email: str
    cards: tuple[CardPlan, ...]
    habits: Habits

    @property
    def utc_offset(self) -> float:
        return COUNTRIES[self.country].utc_offset


def plan_population(rng: random.Random, count: int, today: datetime.date) -> list[HolderPlan]:
    fake = Faker(sorted({country.locale for country in HOMES}))
    return [_holder(rng, fake, today) for _ in range(count)]


def _holder(rng: random.Random, fake: Faker, today: datetime.date) -> HolderPlan:
    home = rng.choices(HOMES, weights=[country.weight for country in HOMES])[0]
    local = fake[home.locale]
    # Seeded per cardholder from the one generator: reproducible, and locales that share
    # name lists (en_US, en_CA, en_AU) do not repeat each other's people.
    local.seed_instance(rng.getrandbits(64))
    name, email = local.name(), local.email() if rng.random() < 0.9 else ""
    habits = _habits(rng, home.code)
    usd_bins = [fields for fields in BINS if fields["currency"] == "USD"]
    home_bins = [
        fields
        for fields in BINS
        if fields["country"] == home.code or (fields["currency"] == "EUR" and home.code in EURO)
    ] or usd_bins
    first = rng.choice(home_bins)
    cards = [_card(rng, first, habits, today, weight=1.0, second=False)]
    if rng.random() < 0.3:
        other = rng.choice([fields for fields in usd_bins if fields is not first])
        cards.append(_card(rng, other, habits, today, weight=rng.uniform(0.1, 0.4), second=True))
    return HolderPlan(name, _birthday(rng, today), home.code, email, tuple(cards), habits)


def _birthday(rng: random.Random, today: datetime.date) -> datetime.date:
    """Mostly working-age adults, a few just 18 or 19 and a few up to 90."""
    roll = rng.random()
    if roll < 0.03:
        age = rng.randint(18, 19)
    elif roll < 0.06:
        age = rng.randint(86, 90)
    else:
        age = round(rng.triangular(20, 80, 35))
    # The latest birthday for that age is today, `age` years ago; the earliest, a year before.
    try:
        latest = today.replace(year=today.year - age)
    except ValueError:  # 29 February
        latest = today.replace(year=today.year - age, day=28)
    return latest - datetime.timedelta(days=rng.randint(0, 364))


def _habits(rng: random.Random, country: str) -> Habits:
    shops = catalogue(country)
    usual, weights = [], []
    for kind, share in USUAL_KINDS.items():
        if rng.random() < 0.8:  # not everyone drives, takes the metro or drinks coffee
            for merchant in rng.sample(shops[kind], k=rng.randint(1, len(shops[kind]))):
                usual.append(merchant)
                weights.append(share * rng.lognormvariate(0, 0.6))
    usual.append(GLOBAL_ONLINE[0])  # a streaming subscription, or an app store
    weights.append(0.3)
    online = rng.lognormvariate(0, 0.7)  # some live online, some never buy there
    weights = [w * (online if m.channel == "ecommerce" else 1) for m, w in zip(usual, weights, strict=True)]
    total = sum(weights)
    scale = rng.lognormvariate(0, 0.35)
    per_day = min(6.0, rng.lognormvariate(math.log(1.2), 0.55))
    typical = sum(w * math.sqrt(m.usd[0] * m.usd[1]) for m, w in zip(usual, weights, strict=True)) / total
    return Habits(
        per_day=per_day,
        amount_scale=scale,
        hours=_hours(rng),
        usual=tuple(usual),
        usual_weights=_cumulative(weights),
        explore=rng.uniform(0.03, 0.15),
        trips_per_year=rng.choice((0, 0, 1, 2, 3, 5)) * rng.uniform(0.5, 1.5),
        sprees_per_month=rng.choice((0, 0, 0, 0.2, 0.5, 1.0)),
        pay_every_days=rng.choice((7, 14, 14, 30, 30, 30)),
        income_ratio=rng.uniform(0.6, 0.95) if rng.random() < 0.1 else rng.uniform(1.1, 1.8),
        remits=country in REMITTING and rng.random() < 0.25,
        daily_usd=per_day * typical * scale * 1.4,  # with the sprees, trips and one-offs
    )


def _hours(rng: random.Random) -> tuple[float, ...]:
    """When in the local day this cardholder buys: a morning, a lunch and an evening
    peak, shifted for late risers; night owls shop past midnight too."""
    shift = rng.choice((-1, 0, 0, 1, 2))
    night_owl = rng.random() < 0.12
    weights = []
    for hour in range(24):
        h = (hour - shift) % 24
        weight = 0.02 + 0.6 * _bump(h, 8.5, 1.2) + 1.0 * _bump(h, 12.5, 1.5) + 1.2 * _bump(h, 18.5, 2.0)
        if night_owl:
            weight += 0.7 * _bump((h + 12) % 24, 12 + 0.5, 2.2)  # around half past midnight
        weights.append(weight)
    return _cumulative(weights)


def _bump(x: float, centre: float, width: float) -> float:
    return math.exp(-(((x - centre) / width) ** 2) / 2)


def _cumulative(weights: list[float]) -> tuple[float, ...]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return tuple(out)


def _card(
    rng: random.Random, fields: dict, habits: Habits, today: datetime.date, *, weight: float, second: bool
) -> CardPlan:
    currency = fields["currency"]
    limits = ()
    if rng.random() < 0.25:
        limits = tuple(
            (name, to_minor(usd, currency, whole=True)) for name, usd in rng.choice(LIMITS_USD).items()
        )
    # Enough for one to two pay periods, in one to three top-ups; a spare card may be empty.
    period_usd = habits.daily_usd * habits.pay_every_days * weight * rng.uniform(1.0, 2.0)
    top_ups = ()
    if not second or rng.random() > 0.15:
        parts = rng.randint(1, 3)
        top_ups = tuple(
            (to_minor(max(20.0, period_usd / parts), currency), rng.choice(TOP_UP_REFERENCES))
            for _ in range(parts)
        )
    status = "active"
    if second:  # an old card still in the wallet, blocked or lost before the world began
        roll = rng.random()
        status = "blocked" if roll < 0.06 else "lost" if roll < 0.12 else "active"
    return CardPlan(
        bin=fields["bin"],
        currency=currency,
        expiry_month=rng.randint(1, 12),
        expiry_year=today.year + rng.randint(2, 5),
        limits=limits,
        top_ups=top_ups,
        status=status,
        weight=weight if status == "active" else 0.02,
    )
