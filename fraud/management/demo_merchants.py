"""Where the demo cardholders spend, and what things cost: the merchants of the demo day
(fraud/management/demo_day.py), at home in each cardholder country, abroad online, and
where the fraud happens. Made-up names; real merchant category codes (MCC)."""

from dataclasses import dataclass

# Roughly what one US dollar buys, so that amounts look alike in every currency.
PER_USD = {"USD": 1, "GBP": 0.8, "EUR": 0.9, "JPY": 150, "CNY": 7}


@dataclass(frozen=True)
class Merchant:
    id: str
    name: str
    mcc: str
    country: str
    channel: str = "pos"
    usd: tuple[float, float] = (5, 50)  # a typical amount, in US dollars


def _by_country(rows) -> dict[str, list[Merchant]]:
    grouped: dict[str, list[Merchant]] = {}
    for id, name, mcc, country, channel, low, high in rows:
        grouped.setdefault(country, []).append(Merchant(id, name, mcc, country, channel, (low, high)))
    return grouped


# Where the cardholders of each home country shop: a café, a grocer, often one more
# local shop, an online shop and a cash machine. (id, name, MCC, country, channel,
# typical amount from and to, in US dollars)
HOME_MERCHANTS = _by_country([
    ("M-1001", "Corner Coffee", "5814", "US", "pos", 3, 12),
    ("M-1002", "Hudson Grocers", "5411", "US", "pos", 15, 140),
    ("M-1003", "Route 66 Fuel", "5541", "US", "pos", 25, 80),
    ("M-1004", "Paperleaf Books", "5942", "US", "ecommerce", 10, 60),
    ("M-1005", "Liberty National ATM", "6011", "US", "atm", 20, 200),
    ("M-2001", "Thames Tea Rooms", "5814", "GB", "pos", 3, 10),
    ("M-2002", "Camden Fresh Market", "5411", "GB", "pos", 10, 110),
    ("M-2003", "Northern Line Travel", "4111", "GB", "pos", 3, 15),
    ("M-2004", "Harbour & Hill Outfitters", "5651", "GB", "ecommerce", 25, 150),
    ("M-2005", "Thames & Harbour Cash", "6011", "GB", "atm", 20, 200),
    ("M-3001", "Bäckerei Sonnenschein", "5462", "DE", "pos", 3, 12),
    ("M-3002", "Rheinmarkt", "5411", "DE", "pos", 10, 120),
    ("M-3003", "Autohof Tankstelle Nord", "5541", "DE", "pos", 30, 90),
    ("M-3004", "Elbufer Versand", "5732", "DE", "ecommerce", 20, 300),
    ("M-4001", "Sakura Konbini", "5499", "JP", "pos", 3, 20),
    ("M-4002", "Ramen Ichiban", "5812", "JP", "pos", 8, 25),
    ("M-4003", "Kaze Rail Tickets", "4112", "JP", "pos", 10, 120),
    ("M-4004", "Momiji Online", "5311", "JP", "ecommerce", 15, 200),
    ("M-5001", "Jade Dragon Teahouse", "5814", "CN", "pos", 3, 15),
    ("M-5002", "Pearl River Supermarket", "5411", "CN", "pos", 10, 100),
    ("M-5003", "Lotus Pharmacy", "5912", "CN", "pos", 5, 40),
    ("M-5004", "Silk Road Mall Online", "5311", "CN", "ecommerce", 10, 200),
    ("M-6001", "Boulangerie du Coin", "5462", "FR", "pos", 2, 10),
    ("M-6002", "Marché Saint-Honoré", "5411", "FR", "pos", 10, 110),
    ("M-6003", "Bistro des Arts", "5812", "FR", "pos", 15, 70),
    ("M-7001", "Café La Plaza", "5814", "ES", "pos", 2, 10),
    ("M-7002", "Mercado del Sol", "5411", "ES", "pos", 10, 100),
    ("M-7101", "Caffè Centrale", "5814", "IT", "pos", 2, 8),
    ("M-7102", "Trattoria da Gino", "5812", "IT", "pos", 20, 80),
    ("M-7201", "Padaria Ipanema", "5462", "BR", "pos", 2, 10),
    ("M-7202", "Supermercado Paulista", "5411", "BR", "pos", 10, 90),
    ("M-7301", "Chai Point Express", "5814", "IN", "pos", 1, 5),
    ("M-7302", "Bazaar Fresh", "5411", "IN", "pos", 5, 60),
    ("M-7401", "Tacos El Güero", "5812", "MX", "pos", 3, 15),
    ("M-7402", "Abarrotes La Esquina", "5411", "MX", "pos", 5, 60),
    ("M-7501", "Maple Leaf Coffee", "5814", "CA", "pos", 3, 10),
    ("M-7502", "Northern Grocers", "5411", "CA", "pos", 15, 130),
    ("M-7601", "Bondi Beans", "5814", "AU", "pos", 3, 10),
    ("M-7602", "Southern Cross Foods", "5411", "AU", "pos", 15, 130),
    ("M-7701", "Grachten Koffie", "5814", "NL", "pos", 3, 10),
    ("M-7702", "Tulpmarkt", "5411", "NL", "pos", 10, 100),
])  # fmt: skip
# Shops abroad that sell online to everyone.
CROSS_BORDER = [
    Merchant("M-8001", "Nimbus Streaming", "4899", "NL", "ecommerce", (8, 20)),
    Merchant("M-8002", "SkyWays Airlines", "4511", "IE", "ecommerce", (80, 600)),
    Merchant("M-8003", "Harbourview Hotels", "7011", "SG", "ecommerce", (90, 400)),
    Merchant("M-8004", "Pixel App Store", "5818", "US", "ecommerce", (1, 15)),
]
# Where fraud happens.
CARD_TESTER = Merchant("M-9001", "Helping Hands Giving", "8398", "US", "ecommerce", (1, 1))
CASH_OUT = Merchant("M-9002", "VoltCity Electronics Online", "5732", "US", "ecommerce", (600, 1200))
STOLEN_CARD_SPREE = [  # abroad, one after the other: (merchant template, minutes after arriving, USD)
    (("ATM", "Airport Cash Machine", "6011", "atm"), 0, 200),
    (("ELX", "Grand Bazaar Electronics", "5732", "pos"), 12, 1200),
    (("MTR", "QuickSend Money Transfer", "4829", "pos"), 25, 3000),
    (("JWL", "Golden Sands Jewellers", "5944", "pos"), 31, 2500),
    (("ELX", "Grand Bazaar Electronics", "5732", "pos"), 40, 1500),
]
CLONED_CARD_SHOPS = [  # where a copied card is spent, in person, far from home: (id suffix, name, MCC)
    ("DFE", "Duty Free Electronics", "5732"),
    ("WCH", "Crown Watches & Jewellery", "5944"),
    ("DEP", "Grand Avenue Department Store", "5311"),
]
# Far enough from one another that nobody travels between them in an hour.
FAR_COUNTRIES = ["US", "GB", "JP", "BR", "AU", "IN"]
