"""Where the simulated world spends: a catalogue of shops in every country (made-up names,
real merchant category codes), the online services everyone uses across borders, and
the merchants fraudsters favour. The catalogue is the same in every world (seeded by the
country, not by the world), so worlds added to one database share their merchants.
"""

import math
import random
from dataclasses import dataclass
from functools import cache

from cardsystem import money
from demo.simulation.places import COUNTRIES


@dataclass(frozen=True, slots=True)
class Merchant:
    id: str
    name: str
    mcc: str
    country: str
    channel: str = "pos"
    usd: tuple[float, float] = (5, 50)  # a typical amount, from and to, in US dollars


@dataclass(frozen=True)
class Kind:
    code: str  # in the merchant ids
    mcc: str
    channel: str
    usd: tuple[float, float]
    nouns: tuple[str, ...]
    count: int  # shops of this kind in each country


KINDS = {
    "coffee": Kind("COF", "5814", "pos", (3, 12), ("Coffee", "Café", "Espresso Bar", "Tea Rooms"), 3),
    "bakery": Kind("BAK", "5462", "pos", (2, 12), ("Bakery", "Bakehouse"), 2),
    "grocery": Kind("GRO", "5411", "pos", (12, 140), ("Grocers", "Fresh Market", "Supermarket"), 3),
    "restaurant": Kind("RES", "5812", "pos", (12, 80), ("Bistro", "Kitchen", "Grill", "Noodle Bar"), 4),
    "fuel": Kind("FUE", "5541", "pos", (25, 90), ("Fuel", "Service Station"), 2),
    "pharmacy": Kind("PHA", "5912", "pos", (5, 45), ("Pharmacy",), 2),
    "transit": Kind("TRN", "4111", "pos", (2, 15), ("Transit",), 1),
    "atm": Kind("ATM", "6011", "atm", (20, 300), ("Cash Machine",), 2),
    "clothing": Kind("CLO", "5651", "pos", (25, 160), ("Outfitters", "Boutique"), 3),
    "shoes": Kind("SHO", "5661", "pos", (40, 180), ("Shoes",), 1),
    "department": Kind("DEP", "5311", "pos", (20, 250), ("Department Store", "Galleria"), 2),
    "electronics": Kind("ELX", "5732", "pos", (40, 1200), ("Electronics",), 2),
    "furniture": Kind("FUR", "5712", "pos", (150, 2500), ("Furniture",), 1),
    "jewellery": Kind("JWL", "5944", "pos", (80, 2500), ("Jewellers",), 1),
    "liquor": Kind("LIQ", "5921", "pos", (10, 120), ("Wine & Spirits",), 1),
    "hotel": Kind("HTL", "7011", "pos", (80, 400), ("Hotel",), 2),
    "online": Kind("WEB", "5399", "ecommerce", (10, 150), ("Online", "Direct"), 3),
    "books": Kind("BKS", "5942", "ecommerce", (8, 60), ("Books",), 1),
    "delivery": Kind("DLV", "5812", "ecommerce", (12, 55), ("Eats",), 1),
    "electronics_online": Kind("ELO", "5732", "ecommerce", (30, 1500), ("Tech Online",), 1),
    "gift_cards": Kind("GFT", "5947", "ecommerce", (25, 500), ("Gift Cards",), 1),
    "money_transfer": Kind("MTR", "4829", "ecommerce", (50, 600), ("Money Transfer",), 1),
}
EVERYDAY = ("coffee", "bakery", "grocery", "restaurant", "fuel", "pharmacy", "transit", "atm", "online",
            "books", "delivery")  # fmt: skip
SHOPPING = ("clothing", "shoes", "department", "electronics", "online")
BIG_TICKET = ("electronics", "furniture", "jewellery", "electronics_online")
ON_HOLIDAY = ("coffee", "restaurant", "restaurant", "grocery", "transit", "atm", "hotel", "clothing")
# Where a thief or a copied card turns a card into cash or resellable goods, in person.
CASH_OUT = ("atm", "atm", "electronics", "jewellery", "department", "liquor")

# Online services everyone uses, wherever they live.
GLOBAL_ONLINE = (
    Merchant("M-8001", "Nimbus Streaming", "4899", "NL", "ecommerce", (8, 20)),
    Merchant("M-8002", "SkyWays Airlines", "4511", "IE", "ecommerce", (80, 900)),
    Merchant("M-8003", "Harbourview Hotels", "7011", "SG", "ecommerce", (90, 400)),
    Merchant("M-8004", "Pixel App Store", "5818", "US", "ecommerce", (1, 15)),
    Merchant("M-8005", "Orbit Marketplace", "5399", "LU", "ecommerce", (10, 200)),
    Merchant("M-8006", "Fjord Games", "5816", "SE", "ecommerce", (5, 60)),
)
AIRLINE, HOTELS = GLOBAL_ONLINE[1], GLOBAL_ONLINE[2]
# Small charges nobody notices: where stolen card numbers are tested.
CARD_TESTERS = (
    Merchant("M-9001", "Helping Hands Giving", "8398", "US", "ecommerce", (1, 2)),
    Merchant("M-9002", "Open Arms Relief Fund", "8398", "GB", "ecommerce", (0.5, 2)),
    Merchant("M-9003", "Pocket Pixel Credits", "5816", "CY", "ecommerce", (1, 3)),
)
# Online shops whose goods resell quickly.
RESELLABLE_ONLINE = (
    Merchant("M-9101", "VoltCity Electronics Online", "5732", "US", "ecommerce", (300, 1500)),
    Merchant("M-9102", "GiftHub Cards", "5947", "US", "ecommerce", (100, 500)),
    Merchant("M-9103", "CoinNest Exchange", "6051", "MT", "ecommerce", (200, 1500)),
    Merchant("M-9104", "Lux Time Watches", "5944", "HK", "ecommerce", (300, 2000)),
)


@cache
def catalogue(country: str) -> dict[str, tuple[Merchant, ...]]:
    """The shops of `country` by kind: the same every time."""
    rng = random.Random(f"merchants of {country}")  # noqa: S311 -- made-up shop names, no secrets
    places = COUNTRIES[country].places
    shops = {}
    for key, kind in KINDS.items():
        shops[key] = tuple(
            Merchant(
                id=f"M-{country}-{kind.code}{number}",
                name=f"{rng.choice(places)} {rng.choice(kind.nouns)}",
                mcc=kind.mcc,
                country=country,
                channel=kind.channel,
                usd=kind.usd,
            )
            for number in range(1, kind.count + 1)
        )
    return shops


def shop(rng: random.Random, country: str, kinds: tuple[str, ...]) -> Merchant:
    """One shop in `country` of one of `kinds` (a kind repeated is likelier)."""
    return rng.choice(catalogue(country)[rng.choice(kinds)])


# --- Prices --------------------------------------------------------------------------------------


def to_minor(usd: float, currency: str, *, whole: bool = False) -> int:
    """About `usd` dollars in `currency`'s minor units; `whole`: a round sum."""
    places = money.exponent(currency)
    units = usd * money.APPROXIMATE_PER_USD.get(currency, 1)
    if whole:
        return max(1, round(units)) * 10**places
    amount = round(units * 10**places)
    if not places:  # yen prices end in zero
        amount = round(amount, -1)
    return max(amount, 1)


def price(rng: random.Random, merchant: Merchant, currency: str, scale: float = 1.0) -> int:
    """What a purchase there costs (log-uniform in the merchant's range, times `scale`), in
    `currency`'s minor units; cash machines pay out multiples of 20."""
    low, high = merchant.usd
    usd = math.exp(rng.uniform(math.log(low), math.log(high))) * scale
    if merchant.channel == "atm":
        return to_minor(20 * max(1, round(usd / 20)), currency, whole=True)
    return to_minor(usd, currency)


def usd_of(amount_minor: int, currency: str) -> float:
    return money.approximate_usd(amount_minor, currency)
