"""The fraud back office: settings, rules and risk lists (audited, applied to the next
authorization) and the alert queue (one-click decisions through alert_decide)."""

import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cards.models import Card
from cardsystem.audit import Actor
from cardsystem.models import AuditLog
from fraud import scoring
from fraud.models import CountryRisk, FraudAlert, FraudSettings, MerchantCategoryRisk, Rule
from fraud.params import SCHEMAS, validate_rule_params
from fraud.services import fraud_config_delete, fraud_config_save
from tests.authorizing import api_body, authorize
from tests.factories import CardFactory, UserFactory

pytestmark = pytest.mark.django_db

CONFIG_CHANGED = AuditLog.Action.FRAUD_CONFIG_CHANGED
ALERTS = reverse("admin:fraud_fraudalert_changelist")
RULES = reverse("admin:fraud_rule_changelist")
COUNTRIES = reverse("admin:fraud_countryrisk_changelist")
MCCS = reverse("admin:fraud_merchantcategoryrisk_changelist")


def api_decide(api, card, **changes) -> dict:
    response = api.post("/api/v1/authorizations/", api_body(card, **changes), format="json")
    assert response.status_code == 201, response.content[:300]
    return response.json()


@pytest.fixture
def rich_card(db):
    return CardFactory(balance_minor=100_000_000)


@pytest.fixture
def high_risk_country(db):
    """Nigeria on the high-risk list: NG (30) + gambling MCC 7995 (20) + abroad (10) = 60,
    above the review threshold (50), under the decline threshold (80)."""
    CountryRisk.objects.create(country="NG", level=CountryRisk.Level.HIGH_RISK)
    scoring.forget_config()


def flagged(card=None, **changes) -> FraudAlert:
    """An authorization the engine flags, and the alert it opened: on a card of its own
    unless one is given (a card's velocity would add points)."""
    card = card or CardFactory(balance_minor=100_000_000)
    txn = authorize(
        card, **{"merchant_country": "NG", "mcc": "7995", "merchant_name": "Lucky Bets", **changes}
    )
    assert txn.flagged, txn.risk_factors
    return FraudAlert.objects.get(transaction=txn)


def config_audit():
    return AuditLog.objects.filter(action=CONFIG_CHANGED)


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


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


def test_thresholds_apply_to_the_next_authorization(admin_client, authorize_api, rich_card):
    assert api_decide(authorize_api, rich_card, merchant_country="FR")["flagged"] is False  # abroad: 10
    row = FraudSettings.objects.get()
    data = {"review_threshold": "10", "decline_threshold": "80", "cvv_failure_limit": "3"}
    assert admin_client.post(change_url(row), data).status_code == 302
    assert api_decide(authorize_api, rich_card, merchant_country="FR")["flagged"] is True


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


def test_saving_a_rule_is_audited_and_applies_to_the_next_authorization(
    admin_client, staff_user, authorize_api, rich_card
):
    first = api_decide(authorize_api, rich_card)  # loads and caches the configuration
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
    factors = {f["code"]: f["score"] for f in api_decide(authorize_api, rich_card)["risk_factors"]}
    assert factors["amount_large"] == 35


def test_switching_a_rule_off_applies_to_the_next_authorization(admin_client, authorize_api, rich_card):
    assert "foreign_country" in [
        f["code"] for f in api_decide(authorize_api, rich_card, merchant_country="FR")["risk_factors"]
    ]
    rule = Rule.objects.get(code="foreign_country")
    data = rule_data(rule, {})
    del data["enabled"]
    assert admin_client.post(change_url(rule), data).status_code == 302
    assert not Rule.objects.get(code="foreign_country").enabled
    body = api_decide(authorize_api, rich_card, merchant_country="FR")
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
    assert api_decide(authorize_api, rich_card, merchant_country="RU")["response_code"] == "00"
    response = admin_client.post(
        reverse("admin:fraud_countryrisk_add"), {"country": "RU", "level": "blocked", "note": "sanctions"}
    )
    assert response.status_code == 302
    audit = config_audit().get()
    assert audit.details["before"] is None and audit.details["after"]["country"] == "RU"
    assert api_decide(authorize_api, rich_card, merchant_country="RU")["response_code"] == "57"


def test_bulk_delete_of_risk_list_entries_is_audited_and_applies_at_once(
    admin_client, authorize_api, rich_card
):
    assert api_decide(authorize_api, rich_card, merchant_country="KP")["response_code"] == "57"
    entries = CountryRisk.objects.filter(country__in=["KP", "IR"])
    data = {"action": "delete_selected", "_selected_action": [e.pk for e in entries], "post": "yes"}
    assert admin_client.post(COUNTRIES, data).status_code == 302
    assert not CountryRisk.objects.filter(country__in=["KP", "IR"]).exists()
    deleted = config_audit().order_by("id")
    assert sorted(a.details["before"]["country"] for a in deleted) == ["IR", "KP"]
    assert all(a.details["after"] is None for a in deleted)
    assert api_decide(authorize_api, rich_card, merchant_country="KP")["response_code"] == "00"


def test_deleting_one_mcc_from_its_page_is_audited_and_applies_at_once(
    admin_client, high_risk_country, rich_card
):
    entry = MerchantCategoryRisk.objects.get(mcc="7995")
    assert "high_risk_mcc" in [f["code"] for f in authorize(rich_card, mcc="7995").risk_factors]
    url = reverse("admin:fraud_merchantcategoryrisk_delete", args=[entry.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    audit = config_audit().get()
    assert (audit.details["model"], audit.details["before"]["mcc"]) == ("fraud.merchantcategoryrisk", "7995")
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


# --- The alert queue ------------------------------------------------------------------------------------


def decide_url(alert) -> str:
    return reverse("admin:fraud_fraudalert_decide", args=[alert.pk])


def decide(client, alert, decision, follow=False, **data):
    return client.post(decide_url(alert), {"decision": decision, **data}, follow=follow)


def test_queue_lists_open_alerts_first_then_by_score_then_newest(admin_client, high_risk_country):
    older = flagged()  # 60
    big = flagged(amount_minor=100_000)  # 60 + large amount 20 = 80
    newer = flagged()  # 60, newer than `older`
    decided_big = flagged(amount_minor=100_000)
    decide(admin_client, decided_big, "false_positive")
    investigating = flagged()
    decide(admin_client, investigating, "investigate")
    order = list(admin_client.get(ALERTS).context["cl"].result_list)
    assert order == [big, newer, older, investigating, decided_big]


def test_queue_shows_risk_card_amount_merchant_country_and_factors(
    admin_client, high_risk_country, rich_card
):
    alert = flagged(rich_card, amount_minor=100_000)
    html = admin_client.get(ALERTS).content.decode()
    assert rich_card.masked_pan in html and rich_card.pan not in html
    assert "1000.00 USD" in html and "Lucky Bets" in html and ">NG<" in html
    assert re.search(r'class="risk risk-high"[^>]*>80<', html)
    assert "high_risk_country, amount_large, high_risk_mcc, foreign_country" in html
    assert 'value="confirm_block"' in html and decide_url(alert) in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status__exact": "open"}, {"open", "high"}),
        ({"status__exact": "investigating"}, {"mine"}),
        ({"assignee": "mine"}, {"mine"}),
        ({"assignee": "none"}, {"open", "high"}),
        ({"risk_level": "high"}, {"high"}),
        ({"risk_level": "medium"}, {"open", "mine"}),
    ],
)
def test_queue_filters(admin_client, high_risk_country, query, expected):
    alerts = {"open": flagged(), "high": flagged(amount_minor=100_000), "mine": flagged()}
    decide(admin_client, alerts["mine"], "investigate")
    names = {alert.pk: name for name, alert in alerts.items()}
    found = {names[a.pk] for a in admin_client.get(ALERTS, query).context["cl"].result_list}
    assert found == expected


def test_queue_assignee_filter_lists_each_analyst(admin_client, high_risk_country, rich_card):
    colleague, other_browser = UserFactory(username="colleague"), Client()
    alert = flagged(rich_card)
    other_browser.force_login(colleague)
    decide(other_browser, alert, "investigate")
    response = admin_client.get(ALERTS, {"assignee": str(colleague.pk)})
    assert list(response.context["cl"].result_list) == [alert]
    assert "colleague" in response.content.decode()
    assert list(admin_client.get(ALERTS, {"assignee": "mine"}).context["cl"].result_list) == []


@pytest.mark.parametrize("term", ["last4", "Lucky", "M-2002"])
def test_queue_searches_by_last_four_and_merchant(admin_client, high_risk_country, rich_card, term):
    other = CardFactory(balance_minor=100_000_000)
    alert = flagged(rich_card, merchant_id="M-2002")
    flagged(other, merchant_name="Other Casino")
    query = rich_card.last4 if term == "last4" else term
    assert list(admin_client.get(ALERTS, {"q": query}).context["cl"].result_list) == [alert]


def test_queue_query_count_does_not_grow_with_rows(
    admin_client, high_risk_country, django_assert_max_num_queries
):
    decide(admin_client, flagged(), "investigate")
    with CaptureQueriesContext(connection) as one_alert:
        admin_client.get(ALERTS)
    for _ in range(4):
        flagged()
    with django_assert_max_num_queries(len(one_alert)):
        assert len(admin_client.get(ALERTS).context["cl"].result_list) == 5


def test_pasted_card_number_searches_the_queue_by_its_last_four(admin_client, high_risk_country, rich_card):
    alert = flagged(rich_card)
    response = admin_client.get(ALERTS, {"q": rich_card.pan}, follow=True)
    assert response.redirect_chain[0][0].endswith(f"?q={rich_card.last4}")
    assert list(response.context["cl"].result_list) == [alert]
    assert rich_card.pan not in response.content.decode()


def test_investigate_assigns_the_alert_to_me_with_an_audit_row(
    admin_client, staff_user, high_risk_country, rich_card
):
    alert = flagged(rich_card)
    response = decide(admin_client, alert, "investigate")
    assert response.status_code == 302 and response["Location"] == ALERTS
    alert.refresh_from_db()
    assert (alert.status, alert.assignee) == ("investigating", staff_user)
    audit = AuditLog.objects.get(action=AuditLog.Action.ALERT_DECIDED)
    assert audit.actor_user == staff_user and audit.details["to"] == "investigating"


def test_confirm_fraud_and_block_blocks_the_card_with_audit_rows(
    admin_client, staff_user, high_risk_country, rich_card
):
    alert = flagged(rich_card)
    assert decide(admin_client, alert, "confirm_block").status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by) == ("confirmed_fraud", staff_user) and alert.resolved_at
    assert Card.objects.get(pk=rich_card.pk).status == Card.Status.BLOCKED
    assert AuditLog.objects.get(action=AuditLog.Action.ALERT_DECIDED).details["block_card"] is True
    blocked = AuditLog.objects.get(action=AuditLog.Action.CARD_STATUS_CHANGED, target_id=str(rich_card.pk))
    assert blocked.actor_user == staff_user and blocked.details["to"] == "blocked"


@pytest.mark.parametrize(
    ("decision", "status"), [("confirm", "confirmed_fraud"), ("false_positive", "false_positive")]
)
def test_decisions_without_block_leave_the_card_active(
    admin_client, high_risk_country, rich_card, decision, status
):
    alert = flagged(rich_card)
    assert decide(admin_client, alert, decision).status_code == 302
    alert.refresh_from_db()
    assert alert.status == status
    assert Card.objects.get(pk=rich_card.pk).status == Card.Status.ACTIVE


def test_a_decided_alert_does_not_change(admin_client, high_risk_country, rich_card):
    alert = flagged(rich_card)
    decide(admin_client, alert, "false_positive")
    before = AuditLog.objects.count()
    response = decide(admin_client, alert, "confirm_block", follow=True)
    assert "already decided" in " ".join(str(m) for m in response.context["messages"])
    alert.refresh_from_db()
    assert alert.status == "false_positive" and Card.objects.get(pk=rich_card.pk).status == "active"
    assert AuditLog.objects.count() == before
    page = admin_client.get(change_url(alert))
    html = page.content.decode()
    assert (
        page.status_code == 200
        and 'name="decision"' not in html
        and "A decided alert does not change" in html
    )
    assert admin_client.post(change_url(alert), {"notes": "edited"}).status_code == 403
    assert admin_client.get(reverse("admin:fraud_fraudalert_delete", args=[alert.pk])).status_code == 403


def test_bulk_actions_decide_each_selected_alert(admin_client, high_risk_country, rich_card):
    other = CardFactory(balance_minor=100_000_000)
    alerts = [flagged(rich_card), flagged(other)]
    untouched = flagged()
    data = {"action": "confirm_block", "_selected_action": [a.pk for a in alerts]}
    response = admin_client.post(ALERTS, data, follow=True)
    assert "2 alert(s) marked confirmed fraud and their cards blocked." in [
        str(m) for m in response.context["messages"]
    ]
    assert {a.status for a in FraudAlert.objects.filter(pk__in=[a.pk for a in alerts])} == {"confirmed_fraud"}
    assert set(Card.objects.filter(pk__in=[rich_card.pk, other.pk]).values_list("status", flat=True)) == {
        "blocked"
    }
    untouched.refresh_from_db()
    assert untouched.status == "open"


def test_bulk_action_reports_the_alerts_it_cannot_decide(admin_client, high_risk_country, rich_card):
    done, open_alert = flagged(rich_card), flagged()
    decide(admin_client, done, "false_positive")
    data = {"action": "investigate", "_selected_action": [done.pk, open_alert.pk]}
    shown = [str(m) for m in admin_client.post(ALERTS, data, follow=True).context["messages"]]
    assert "1 alert(s) marked investigating." in shown
    assert any(m.startswith(f"alert {done.pk}") and "already decided" in m for m in shown)
    done.refresh_from_db()
    assert done.status == "false_positive"


def test_a_note_goes_with_the_decision_and_a_card_number_is_refused(
    admin_client, high_risk_country, rich_card
):
    alert = flagged(rich_card)
    before = AuditLog.objects.count()
    response = decide(
        admin_client, alert, "investigate", note=f"cardholder read out {rich_card.pan}", follow=True
    )
    assert "card number" in " ".join(str(m) for m in response.context["messages"])
    assert rich_card.pan not in response.content.decode()
    alert.refresh_from_db()
    assert (alert.status, alert.notes, AuditLog.objects.count()) == ("open", "", before)

    decide(admin_client, alert, "investigate", note="Called the cardholder.", next=change_url(alert))
    decide(admin_client, alert, "false_positive", note="Confirmed the purchase.")
    alert.refresh_from_db()
    lines = alert.notes.splitlines()
    assert len(lines) == 2 and "analyst, investigate (assign to me)] Called the cardholder." in lines[0]
    assert lines[1].endswith("Confirmed the purchase.")
    assert "Confirmed the purchase." in admin_client.get(change_url(alert)).content.decode()


def test_alert_page_shows_transaction_factors_activity_and_the_cards_recent_transactions(
    admin_client, high_risk_country, rich_card
):
    for n in range(1, 26):
        authorize(rich_card, merchant_name=f"Shop-{n:02d}", amount_minor=100 + n)
    alert = flagged(rich_card)
    page = admin_client.get(change_url(alert))
    html = page.content.decode()
    assert page.status_code == 200 and rich_card.pan not in html
    assert "Lucky Bets (M-1001), MCC 7995" in html and "NG Nigeria" in html and "42.00 USD" in html
    assert "<td>high_risk_country</td>" in html and "<td>30</td>" in html
    assert "Merchant country NG is on the high-risk list." in html
    compact = html.replace("\n", "").replace("  ", "")
    assert "transactions on this card in the last 30 days</th><td>25" in compact
    assert "first purchase at this merchant</th><td>no" in compact
    assert "(this one)" in html and "Shop-07" in html and "Shop-06" not in html  # the latest 20
    assert html.count(rich_card.masked_pan) >= 20
    assert 'formaction="' + decide_url(alert) in html and 'name="note"' in html


def test_staff_who_may_only_view_alerts_cannot_decide(client, high_risk_country, rich_card):
    viewer = UserFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_fraudalert"))
    alert = flagged(rich_card)
    client.force_login(viewer)
    assert client.get(ALERTS).status_code == 200
    assert 'name="decision"' not in client.get(change_url(alert)).content.decode()
    assert decide(client, alert, "confirm_block").status_code == 403
    data = {"action": "confirm_block", "_selected_action": [alert.pk]}
    client.post(ALERTS, data)
    alert.refresh_from_db()
    assert alert.status == "open" and Card.objects.get(pk=rich_card.pk).status == "active"


def test_decide_answers_only_posts(admin_client, high_risk_country, rich_card):
    alert = flagged(rich_card)
    assert admin_client.get(decide_url(alert)).status_code == 405
    assert decide(admin_client, alert, "reopen").status_code == 302
    alert.refresh_from_db()
    assert alert.status == "open"
