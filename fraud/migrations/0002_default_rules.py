"""The first rule set's defaults: staff tune them in the admin from here on.

The data is written out here (not imported from app code) so that this migration
means the same thing forever.
"""

from django.db import migrations

# About 1,000 US dollars in currencies where 1,000 major units is far less; staff
# keep these current in the admin (there is no exchange-rate feed).
PER_CURRENCY_LARGE = {
    "ARS": "1000000", "BRL": "5000", "CLP": "900000", "CNY": "7000", "COP": "4000000", "CZK": "23000",
    "DKK": "7000", "EGP": "48000", "HKD": "7800", "HUF": "350000", "IDR": "15000000", "INR": "80000",
    "ISK": "140000", "JPY": "150000", "KES": "130000", "KRW": "1300000", "MXN": "18000", "NGN": "1500000",
    "NOK": "10000", "PHP": "55000", "PKR": "280000", "PLN": "4000", "RUB": "90000", "SEK": "10000",
    "THB": "35000", "TRY": "30000", "TWD": "32000", "UAH": "41000", "VND": "25000000", "ZAR": "18000",
}  # fmt: skip

RULES = [
    ("cvv_mismatch", "Wrong CVV", "The CVV given does not match the card.", 30, {}),
    ("cvv_absent_ecommerce", "No CVV online", "An e-commerce purchase without a CVV.", 15, {}),
    (
        "amount_large",
        "Large amount",
        "The amount is at or above a threshold (decimal string in major units; per-currency overrides).",
        20,
        {"threshold": "1000", "per_currency": PER_CURRENCY_LARGE},
    ),
    (
        "amount_unusual",
        "Unusual amount for the card",
        "The amount is `multiple` times the card's 30-day average, given `min_history` approvals.",
        25,
        {"multiple": 5, "min_history": 5},
    ),
    (
        "velocity_count",
        "Many transactions",
        "More transactions on the card than allowed per minute, hour or 24 hours.",
        25,
        {"per_minute": 3, "per_hour": 10, "per_day": 30},
    ),
    (
        "velocity_amount",
        "Much spending",
        "Approved spending in the last hour or 24 hours above a multiple of the large amount.",
        20,
        {"hour_multiple": 2, "day_multiple": 5},
    ),
    (
        "large_amount_velocity",
        "Large amount during a burst",
        "An amount of at least `amount_fraction` of the large amount with `per_hour` transactions in the hour.",
        20,
        {"amount_fraction": 0.5, "per_hour": 3},
    ),
    (
        "cardholder_age",
        "Very young or very old cardholder",
        "A cardholder younger than `young_below` or from `old_from` spending at least `amount_fraction` of the "
        "large amount.",
        15,
        {"young_below": 21, "old_from": 75, "amount_fraction": 0.5},
    ),
    ("foreign_country", "Abroad", "The merchant is outside the cardholder's home country.", 10, {}),
    ("high_risk_country", "High-risk country", "The merchant's country is on the high-risk list.", 30, {}),
    (
        "impossible_travel",
        "Impossible travel",
        "The card was used in another country too far away for the time since.",
        40,
        {"max_speed_kmh": 1200, "min_distance_km": 500},
    ),
    ("high_risk_mcc", "High-risk merchant category", "The MCC is on the high-risk list.", 20, {}),
    (
        "reported_merchant",
        "Merchant with reported fraud",
        "At least `min_cards` cards had confirmed fraud at this merchant in `window_days` days (reports known "
        "at decision time).",
        35,
        {"window_days": 90, "min_cards": 2},
    ),
]

HIGH_RISK_MCCS = [
    ("4829", "Money transfer"),
    ("6051", "Quasi-cash, crypto"),
    ("7995", "Gambling"),
    ("5967", "Direct marketing, inbound teleservices"),
    ("5993", "Cigar stores"),
]
BLOCKED_COUNTRIES = [("KP", "Sanctioned"), ("IR", "Sanctioned")]


def create_defaults(apps, schema_editor):
    apps.get_model("fraud", "FraudSettings").objects.get_or_create(pk=1)
    Rule = apps.get_model("fraud", "Rule")
    for code, name, description, score, params in RULES:
        Rule.objects.get_or_create(
            code=code, defaults={"name": name, "description": description, "score": score, "params": params}
        )
    MerchantCategoryRisk = apps.get_model("fraud", "MerchantCategoryRisk")
    for mcc, note in HIGH_RISK_MCCS:
        MerchantCategoryRisk.objects.get_or_create(mcc=mcc, defaults={"level": "high_risk", "note": note})
    CountryRisk = apps.get_model("fraud", "CountryRisk")
    for country, note in BLOCKED_COUNTRIES:
        CountryRisk.objects.get_or_create(country=country, defaults={"level": "blocked", "note": note})


class Migration(migrations.Migration):
    dependencies = [("fraud", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
