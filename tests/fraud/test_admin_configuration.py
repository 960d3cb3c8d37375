"""The fraud engine's working copy in the back office: settings, rules and the country
and merchant-category risk lists, each change audited, none deciding before it is saved
as a version and promoted (`go_live`; the version pages: test_admin_versions.py)."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cardsystem.audit import Actor
from cardsystem.models import AuditLog
from fraud import scoring
from fraud.models import CountryRisk, FraudSettings, MerchantCategoryRisk, Rule
from fraud.params import SCHEMAS, validate_rule_params
from fraud.services import fraud_config_delete, fraud_config_save
from tests.admin_pages import change_url
from tests.authorizing import authorize, decide
from tests.fraud.configuration import go_live

pytestmark = pytest.mark.django_db

CONFIG_CHANGED = AuditLog.Action.FRAUD_CONFIG_CHANGED
RULES = reverse("admin:fraud_rule_changelist")
COUNTRIES = reverse("admin:fraud_countryrisk_changelist")
MCCS = reverse("admin:fraud_merchantcategoryrisk_changelist")


def config_audit():
    return AuditLog.objects.filter(action=CONFIG_CHANGED)


def page_errors(response):
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


# --- Settings --------------------------------------------------------------------------------------


def test_settings_list_opens_the_single_row_which_cannot_be_added_or_deleted(admin_client):
    row = FraudSettings.objects.get()
    response = admin_client.get(reverse("admin:fraud_fraudsettings_changelist"))
    assert response.status_code == 302 and response["Location"] == change_url(row)
    assert admin_client.get(change_url(row)).status_code == 200
    assert admin_client.get(reverse("admin:fraud_fraudsettings_add")).status_code == 403
    assert admin_client.get(reverse("admin:fraud_fraudsettings_delete", args=[row.pk])).status_code == 403


def test_saves_thresholds_with_an_audit_row_of_before_and_after(admin_client, staff_user):
    row = FraudSettings.objects.get()
    data = {"review_threshold": "40", "decline_threshold": "70", "cvv_failure_limit": "4"}
    assert admin_client.post(change_url(row), data).status_code == 302
    row.refresh_from_db()
    assert (row.review_threshold, row.decline_threshold, row.cvv_failure_limit) == (40, 70, 4)
    audit = config_audit().get()
    assert audit.actor_user == staff_user and audit.details["model"] == "fraud.fraudsettings"
    assert (
        audit.details["before"]["review_threshold"] == 50 and audit.details["after"]["review_threshold"] == 40
    )


def test_rejects_a_review_threshold_above_the_decline_threshold_and_writes_nothing(admin_client):
    row = FraudSettings.objects.get()
    data = {"review_threshold": "90", "decline_threshold": "80", "cvv_failure_limit": "3"}
    errors = page_errors(admin_client.post(change_url(row), data))
    assert "above the decline threshold" in errors["review_threshold"][0]
    row.refresh_from_db()
    assert (row.review_threshold, row.decline_threshold) == (50, 80)
    assert not config_audit().exists()


def test_thresholds_apply_to_the_first_authorization_after_promotion(admin_client, authorize_api, rich_card):
    # abroad: 10
    assert decide(authorize_api, rich_card, format="json", merchant_country="FR")["flagged"] is False
    row = FraudSettings.objects.get()
    data = {"review_threshold": "10", "decline_threshold": "80", "cvv_failure_limit": "3"}
    assert admin_client.post(change_url(row), data).status_code == 302
    assert decide(authorize_api, rich_card, format="json", merchant_country="FR")["flagged"] is False
    go_live()
    assert decide(authorize_api, rich_card, format="json", merchant_country="FR")["flagged"] is True


# --- Rules -----------------------------------------------------------------------------------------


def test_every_engine_rule_has_a_params_schema_and_the_defaults_pass_it():
    assert set(SCHEMAS) == set(scoring.RULES) | {"model"}  # the model's weight is a rule row too
    assert set(Rule.objects.values_list("code", flat=True)) == set(SCHEMAS)
    for rule in Rule.objects.all():
        assert validate_rule_params(rule.code, rule.params) == {}, rule.code


def test_rule_list_shows_codes_points_and_thresholds(admin_client):
    html = admin_client.get(RULES).content.decode()
    assert "amount_large" in html and "Large amount" in html
    overrides = sorted(Rule.objects.get(code="amount_large").params["per_currency"].items())
    shown = ", ".join(f"{code} {amount}" for code, amount in overrides[:4])
    more = f" and {len(overrides) - 4} more" if len(overrides) > 4 else ""
    assert f"per_currency: {shown}{more}; threshold=1000" in html
    assert "min_history=5; multiple=5" in html


def test_rules_cannot_be_added_or_deleted(admin_client):
    rule = Rule.objects.get(code="amount_large")
    assert admin_client.get(reverse("admin:fraud_rule_add")).status_code == 403
    assert admin_client.get(reverse("admin:fraud_rule_delete", args=[rule.pk])).status_code == 403
    form = admin_client.get(change_url(rule)).context["adminform"].form
    assert set(form.fields) == {"enabled", "score", "params"}


def rule_data(rule, params, **fields) -> dict:
    text = params if isinstance(params, str) else json.dumps(params)
    return {"enabled": "on", "score": str(rule.score), "params": text, **fields}


LARGE = {"threshold": "1000"}
VELOCITY = {"per_minute": 3, "per_hour": 10, "per_day": 30}


@pytest.mark.parametrize(
    ("code", "params", "key"),
    [
        ("amount_large", {"threshold": "1e3"}, "threshold"),
        ("amount_large", {"threshold": 1000}, "threshold"),
        ("amount_large", {"threshold": "-5"}, "threshold"),
        ("amount_large", {"threshold": "0"}, "threshold"),
        ("amount_large", {}, "threshold"),
        ("amount_large", {**LARGE, "per_currency": {"JPY": "150000.5"}}, "per_currency.JPY"),
        ("amount_large", {**LARGE, "per_currency": {"USD": "10.005"}}, "per_currency.USD"),
        ("amount_large", {**LARGE, "per_currency": {"XYZ": "10"}}, "per_currency.XYZ"),
        ("amount_large", {**LARGE, "per_currency": {"usd": "10"}}, "per_currency.usd"),
        ("amount_large", {**LARGE, "per_currency": {"EUR": 900}}, "per_currency.EUR"),
        ("amount_large", {**LARGE, "per_currency": ["JPY"]}, "per_currency"),
        ("amount_large", {**LARGE, "treshold": "5"}, "treshold"),
        ("velocity_count", {**VELOCITY, "per_minute": 0}, "per_minute"),
        ("velocity_count", {**VELOCITY, "per_minute": "3"}, "per_minute"),
        ("velocity_count", {**VELOCITY, "per_minute": 2.5}, "per_minute"),
        ("velocity_count", {**VELOCITY, "per_minute": True}, "per_minute"),
        ("velocity_count", {"per_minute": 3, "per_hour": 10}, "per_day"),
        ("velocity_count", {**VELOCITY, "per_week": 50}, "per_week"),
        ("amount_unusual", {"multiple": -1, "min_history": 5}, "multiple"),
        ("amount_unusual", {"multiple": "5", "min_history": 5}, "multiple"),
        ("cardholder_age", {"young_below": 80, "old_from": 75, "amount_fraction": 0.5}, "old_from"),
        ("impossible_travel", {"max_speed_kmh": 900, "min_distance_km": None}, "min_distance_km"),
        ("cvv_mismatch", {"points": 5}, "points"),
        ("reported_merchant", ["window_days"], None),
        ("model", {"rule_weight": 1.5}, "rule_weight"),
        ("model", {"rule_weight": 0}, "rule_weight"),
        ("model", {"rule_weight": "0.3"}, "rule_weight"),
    ],
)
def test_rejects_params_the_engine_cannot_use_and_writes_nothing(admin_client, code, params, key):
    rule = Rule.objects.get(code=code)
    stored = rule.params
    errors = page_errors(admin_client.post(change_url(rule), rule_data(rule, params)))
    assert "params" in errors
    if key:
        assert any(message.startswith(f"{key}: ") for message in errors["params"]), errors["params"]
    rule.refresh_from_db()
    assert rule.params == stored
    assert not config_audit().exists()


def test_rejects_params_that_are_not_json(admin_client):
    rule = Rule.objects.get(code="amount_large")
    errors = page_errors(admin_client.post(change_url(rule), rule_data(rule, '{"threshold": "1000"')))
    assert errors["params"] == ["Enter a valid JSON."]
    assert not config_audit().exists()


def test_rejects_points_above_one_hundred(admin_client):
    rule = Rule.objects.get(code="cvv_mismatch")
    assert "score" in page_errors(admin_client.post(change_url(rule), rule_data(rule, {}, score="101")))
    assert not config_audit().exists()


def test_saving_a_rule_is_audited_and_applies_once_promoted(
    admin_client, staff_user, authorize_api, rich_card
):
    first = decide(authorize_api, rich_card, format="json")  # loads and caches the configuration
    assert "amount_large" not in [f["code"] for f in first["risk_factors"]]
    rule = Rule.objects.get(code="amount_large")
    params = {**rule.params, "threshold": "40"}
    assert admin_client.post(change_url(rule), rule_data(rule, params, score="35")).status_code == 302

    audit = config_audit().get()
    assert (audit.actor_user, audit.target_id, audit.details["model"]) == (
        staff_user,
        str(rule.pk),
        "fraud.rule",
    )
    assert audit.details["before"]["params"]["threshold"] == "1000"
    assert (audit.details["after"]["params"]["threshold"], audit.details["after"]["score"]) == ("40", 35)
    assert "amount_large" not in [
        f["code"] for f in decide(authorize_api, rich_card, format="json")["risk_factors"]
    ]
    go_live()
    factors = {f["code"]: f["score"] for f in decide(authorize_api, rich_card, format="json")["risk_factors"]}
    assert factors["amount_large"] == 35


def test_switching_a_rule_off_applies_once_promoted(admin_client, authorize_api, rich_card):
    assert "foreign_country" in [
        f["code"]
        for f in decide(authorize_api, rich_card, format="json", merchant_country="FR")["risk_factors"]
    ]
    rule = Rule.objects.get(code="foreign_country")
    data = rule_data(rule, {})
    del data["enabled"]
    assert admin_client.post(change_url(rule), data).status_code == 302
    assert not Rule.objects.get(code="foreign_country").enabled
    go_live()
    body = decide(authorize_api, rich_card, format="json", merchant_country="FR")
    assert "foreign_country" not in [f["code"] for f in body["risk_factors"]]


def test_the_service_refuses_what_the_forms_refuse(staff_user):
    actor = Actor.for_user(staff_user)
    rule = Rule.objects.get(code="velocity_count")
    rule.params = {**rule.params, "per_minute": -1}
    with pytest.raises(ValidationError) as error:
        fraud_config_save(obj=rule, actor=actor)
    assert "per_minute: Must be above 0." in error.value.message_dict["params"]
    settings_row = FraudSettings.objects.get()
    settings_row.review_threshold = 90
    with pytest.raises(ValidationError):
        fraud_config_save(obj=settings_row, actor=actor)
    with pytest.raises(ValidationError):
        fraud_config_delete(obj=Rule.objects.get(code="cvv_mismatch"), actor=actor)
    assert Rule.objects.get(code="velocity_count").params["per_minute"] == 3
    assert FraudSettings.objects.get().review_threshold == 50 and Rule.objects.count() == len(SCHEMAS)
    assert not config_audit().exists()


# --- Risk lists ----------------------------------------------------------------------------------------


def test_adds_a_blocked_country_with_an_audit_row_and_the_next_authorization_is_refused(
    admin_client, authorize_api, rich_card
):
    assert decide(authorize_api, rich_card, format="json", merchant_country="RU")["response_code"] == "00"
    response = admin_client.post(
        reverse("admin:fraud_countryrisk_add"), {"country": "RU", "level": "blocked", "note": "sanctions"}
    )
    assert response.status_code == 302
    audit = config_audit().get()
    assert audit.details["before"] is None and audit.details["after"]["country"] == "RU"
    assert decide(authorize_api, rich_card, format="json", merchant_country="RU")["response_code"] == "00"
    go_live()
    assert decide(authorize_api, rich_card, format="json", merchant_country="RU")["response_code"] == "57"


def test_bulk_delete_of_risk_list_entries_is_audited_and_applies_once_promoted(
    admin_client, authorize_api, rich_card
):
    assert decide(authorize_api, rich_card, format="json", merchant_country="KP")["response_code"] == "57"
    entries = CountryRisk.objects.filter(country__in=["KP", "IR"])
    data = {"action": "delete_selected", "_selected_action": [e.pk for e in entries], "post": "yes"}
    assert admin_client.post(COUNTRIES, data).status_code == 302
    assert not CountryRisk.objects.filter(country__in=["KP", "IR"]).exists()
    deleted = config_audit().order_by("id")
    assert sorted(a.details["before"]["country"] for a in deleted) == ["IR", "KP"]
    assert all(a.details["after"] is None for a in deleted)
    assert decide(authorize_api, rich_card, format="json", merchant_country="KP")["response_code"] == "57"
    go_live()
    assert decide(authorize_api, rich_card, format="json", merchant_country="KP")["response_code"] == "00"


def test_deleting_one_mcc_from_its_page_is_audited_and_applies_once_promoted(
    admin_client, high_risk_country, rich_card
):
    entry = MerchantCategoryRisk.objects.get(mcc="7995")
    assert "high_risk_mcc" in [f["code"] for f in authorize(rich_card, mcc="7995").risk_factors]
    url = reverse("admin:fraud_merchantcategoryrisk_delete", args=[entry.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    audit = config_audit().get()
    assert (audit.details["model"], audit.details["before"]["mcc"]) == ("fraud.merchantcategoryrisk", "7995")
    assert "high_risk_mcc" in [f["code"] for f in authorize(rich_card, mcc="7995").risk_factors]
    go_live()
    assert "high_risk_mcc" not in [f["code"] for f in authorize(rich_card, mcc="7995").risk_factors]


def test_changing_a_risk_list_entry_records_before_and_after(admin_client):
    entry = MerchantCategoryRisk.objects.get(mcc="4829")
    data = {"mcc": "4829", "level": "blocked", "note": "Money transfer, blocked"}
    assert admin_client.post(change_url(entry), data).status_code == 302
    details = config_audit().get().details
    assert (details["before"]["level"], details["after"]["level"]) == ("high_risk", "blocked")


def test_rejects_a_malformed_mcc_and_writes_nothing(admin_client):
    response = admin_client.post(
        reverse("admin:fraud_merchantcategoryrisk_add"), {"mcc": "79X5", "level": "blocked"}
    )
    assert "mcc" in page_errors(response)
    assert not MerchantCategoryRisk.objects.filter(mcc="79X5").exists() and not config_audit().exists()


@pytest.mark.parametrize(
    ("url", "query", "expected"),
    [
        (COUNTRIES, {"level__exact": "blocked"}, ["IR", "KP"]),
        (COUNTRIES, {"q": "KP"}, ["KP"]),
        (MCCS, {"q": "gambling"}, ["7995"]),
        (MCCS, {"level__exact": "blocked"}, []),
    ],
)
def test_risk_lists_search_and_filter(admin_client, url, query, expected):
    rows = admin_client.get(url, query).context["cl"].result_list
    assert sorted(str(getattr(r, "mcc", None) or r.country.code) for r in rows) == expected
