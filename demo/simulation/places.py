"""The countries of the simulated world: where cardholders live, travel, and where
fraudsters spend. Each has a time zone (a fixed UTC offset: close enough for the time of
day people shop) and a few place names for its merchants."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Country:
    code: str
    utc_offset: float  # hours
    places: tuple[str, ...]
    locale: str = ""  # Faker's, for the names of cardholders living there
    weight: int = 0  # how common a home country it is (0: nobody lives there)


_ALL = [
    Country("US", -5, ("Hudson", "Liberty", "Cedar Hill", "Route 66", "Bay Street", "Lakeside"), "en_US", 30),
    Country("GB", 0, ("Thames", "Camden", "Northern Line", "Harbour & Hill", "Kings Cross", "Mersey"),
            "en_GB", 12),
    Country("DE", 1, ("Rheinufer", "Sonnenschein", "Elbufer", "Nordstern", "Lindenhof", "Isartal"),
            "de_DE", 10),
    Country("JP", 9, ("Sakura", "Kaze", "Momiji", "Yamato", "Hikari", "Minato"), "ja_JP", 8),
    Country("CN", 8, ("Jade Dragon", "Pearl River", "Lotus", "Golden Phoenix", "Silk Road", "Bamboo Grove"),
            "zh_CN", 8),
    Country("FR", 1, ("Saint-Honoré", "du Coin", "des Arts", "Montmartre", "Bellecour", "du Marais"),
            "fr_FR", 6),
    Country("ES", 1, ("La Plaza", "del Sol", "Triana", "Gràcia", "La Concha", "Malasaña"), "es_ES", 5),
    Country("IT", 1, ("Centrale", "da Gino", "Trastevere", "Navigli", "Ponte Vecchio", "Vomero"), "it_IT", 5),
    Country("BR", -3, ("Ipanema", "Paulista", "Copacabana", "Pelourinho", "Savassi", "Leblon"), "pt_BR", 5),
    Country("IN", 5.5, ("Chai Point", "Bazaar", "Marine Drive", "Lotus Court", "Connaught", "Koramangala"),
            "en_IN", 5),
    Country("MX", -6, ("El Güero", "La Esquina", "Coyoacán", "Reforma", "Zócalo", "Polanco"), "es_MX", 4),
    Country("CA", -5, ("Maple Leaf", "Northern", "Rideau", "Gastown", "Yorkville", "Old Port"), "en_CA", 4),
    Country("AU", 10, ("Bondi", "Southern Cross", "Fitzroy", "Manly", "Southbank", "Fremantle"), "en_AU", 3),
    Country("NL", 1, ("Grachten", "Tulp", "Jordaan", "Vondel", "De Pijp", "Oude Haven"), "nl_NL", 3),
    # Places people travel to.
    Country("TH", 7, ("Siam", "Chao Phraya", "Patong", "Nimman")),
    Country("PT", 0, ("Alfama", "Ribeira", "Chiado", "Algarve")),
    Country("GR", 2, ("Plaka", "Oia", "Acropolis", "Monastiraki")),
    Country("TR", 3, ("Grand Bazaar", "Galata", "Moda", "Bosphorus")),
    Country("AE", 4, ("Marina", "Deira", "Creekside", "Palm")),
    Country("SG", 8, ("Marina Bay", "Orchard", "Clarke Quay", "Tiong Bahru")),
    # Places stolen card details are often used from.
    Country("RU", 3, ("Nevsky", "Arbat", "Tverskaya")),
    Country("NG", 1, ("Lekki", "Ikeja", "Victoria Island")),
    Country("VN", 7, ("Ben Thanh", "Hoan Kiem", "Dong Khoi")),
    Country("ID", 7, ("Kuta", "Menteng", "Senayan")),
    Country("RO", 2, ("Lipscani", "Dorobanți", "Cotroceni")),
    Country("UA", 2, ("Podil", "Khreshchatyk", "Arcadia")),
    Country("PH", 8, ("Makati", "Binondo", "Malate")),
]  # fmt: skip

COUNTRIES: dict[str, Country] = {country.code: country for country in _ALL}
HOMES: list[Country] = [country for country in _ALL if country.weight]
TRAVEL = [country.code for country in _ALL if country.weight] + ["TH", "PT", "GR", "TR", "AE", "SG"]
FRAUD_ABROAD = ["RU", "NG", "VN", "ID", "RO", "UA", "PH", "BR", "TR"]
# Far enough from one another that nobody travels between them in an hour.
FAR_APART = ["US", "GB", "JP", "BR", "AU", "IN", "TH", "MX"]
EURO = ("DE", "FR", "ES", "IT", "NL", "PT", "GR")
REMITTING = ("IN", "MX", "BR", "CN")  # homes of cardholders who send money to family abroad
