"""Linked views in a real browser at 1366x900 with the navigation sidebar open: the
transaction list and the alert queue fit without scrolling sideways, with the risk and
the decide buttons in view; a card's page leads to its transactions and back; a
transaction leads to its merchant's page."""

import re

import pytest
from playwright.sync_api import expect

from fraud.models import CountryRisk, FraudAlert
from tests.authorizing import authorize
from tests.browser.conftest import log_in, pytestmark  # noqa: F401
from tests.factories import CardFactory, staff_with_roles
from tests.fraud.configuration import go_live

WIDTH = 1366
LONG_NAME = "The Very Long Name of an Online Gambling Merchant Ltd"
BIG = 9_876_543_21  # 9876543.21: the widest amount of the fixture


@pytest.fixture
def analyst():
    return staff_with_roles("Fraud analyst", username="analyst.with.a.long.name")


@pytest.fixture
def busy_day(analyst):
    """Flagged bets with long merchant names and large amounts (one being investigated by
    the analyst), declines, and a coffee: every kind of row the two lists show."""
    CountryRisk.objects.get_or_create(country="NG", defaults={"level": CountryRisk.Level.HIGH_RISK})
    go_live()
    rich = {"balance_minor": 10_000_000_000}
    bet = {
        "merchant_country": "NG",
        "mcc": "7995",
        "merchant_name": LONG_NAME,
        "merchant_id": "M-GAMBLE-0001",
    }
    for amount in (BIG, 150_000, 4_200):
        authorize(CardFactory(**rich), amount_minor=amount, **bet)
    authorize(CardFactory(balance_minor=100))  # declined: 51
    coffee = authorize(CardFactory(**rich))
    FraudAlert.objects.filter(pk=FraudAlert.objects.order_by("pk").first().pk).update(
        status=FraudAlert.Status.INVESTIGATING, assignee=analyst
    )
    return coffee


def assert_fits(page):
    """No sideways scrolling: neither the page nor the list's own scrolling box."""
    page.wait_for_selector("#result_list")
    assert page.locator("#nav-sidebar").is_visible()  # the sidebar is open
    widths = page.evaluate(
        """() => {
            const results = document.querySelector('#changelist .results');
            return {
                page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
                results: [results.scrollWidth, results.clientWidth],
                table: document.querySelector('#result_list').getBoundingClientRect().right,
                changelist: document.querySelector('#changelist').getBoundingClientRect().right,
            };
        }"""
    )
    assert widths["page"][0] <= widths["page"][1], widths
    assert widths["results"][0] <= widths["results"][1], widths
    assert widths["table"] <= widths["changelist"] <= WIDTH, widths


def assert_in_view(locator):
    box = locator.bounding_box()
    assert locator.is_visible() and box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box


def test_the_transaction_list_fits_1366_pixels_with_risk_and_decision_in_view(page, analyst, busy_day):
    log_in(page, analyst)
    page.goto("/admin/transactions/transaction/")
    assert_fits(page)
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 5
    for column in (".risk", ".decision", ".pan", ".merchant"):
        assert_in_view(rows.first.locator(column))
    assert_in_view(page.locator("#result_list .risk-high").first)


def test_the_alert_queue_fits_1366_pixels_with_risk_and_decide_buttons_in_view(page, analyst, busy_day):
    log_in(page, analyst)
    page.goto("/admin/fraud/fraudalert/")
    assert_fits(page)
    assert page.locator("#result_list tbody tr").count() == 3
    buttons = page.locator("#result_list .decide button")
    assert buttons.count() >= 3 * 3  # the one being investigated has no "Investigate"
    for index in range(buttons.count()):
        assert_in_view(buttons.nth(index))
    for index in range(3):
        assert_in_view(page.locator("#result_list .risk").nth(index))


def test_from_a_cards_page_to_its_transaction_and_back_then_to_its_merchant(page, analyst, busy_day):
    coffee = busy_day
    log_in(page, analyst)
    card_page = f"/admin/cards/card/{coffee.card_id}/change/"
    page.goto(card_page)
    section = page.locator(".page-section", has_text="Latest transactions")
    section.locator(f"a[href$='/transaction/{coffee.pk}/change/']").click()
    page.wait_for_url(re.compile(f"/transaction/{coffee.pk}/change/"))
    expect(page.locator("#content h1")).to_contain_text("View transaction")

    page.locator(".field-card_display a").click()
    page.wait_for_url(re.compile(f"{card_page}$"))
    page.go_back()
    page.wait_for_url(re.compile(f"/transaction/{coffee.pk}/change/"))

    page.locator(".field-merchant_page a").click()
    page.wait_for_url(re.compile("/transaction/merchant/M-1001/"))
    expect(page.locator("#content h1")).to_have_text("Corner Coffee")
    expect(page.locator("#figure-transactions")).to_have_text("2")  # the coffee and the decline
    expect(page.locator("#figure-approval-rate")).to_have_text("50.0 %")
    page.locator(".period-links a", has_text="30 days").click()
    page.wait_for_url(re.compile(r"\?period=30d$"))
    expect(
        page.locator("#merchant-transactions a[href*='/transactions/transaction/'][href$='/change/']")
    ).to_have_count(2)
