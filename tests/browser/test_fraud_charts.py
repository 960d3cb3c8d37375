"""The fraud pages' charts in a real browser: a fraud manager opens a trained model, runs
a backtest of a draft and compares the draft in shadow with the live decisions, and every
chart on those pages draws exactly the points the server wrote (fraud/charts.py)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from fraud import shadow
from fraud.models import CountryRisk, Rule
from fraud.versions import config_version_create
from tests.authorizing import authorize
from tests.browser.conftest import log_in, pytestmark  # noqa: F401
from tests.factories import TEST_ACTOR, CardFactory, staff_with_roles
from tests.fraud.configuration import go_live
from tests.fraud.modelling import history, train

CASINO_ABROAD = {"merchant_country": "NG", "mcc": "7995", "merchant_id": "M-NG", "channel": "ecommerce"}


def drawn_points(page) -> dict[str, int]:
    """Each chart's canvas on the page and the number of points Chart.js drew, once every
    canvas is drawn (static/cardsystem/charts.js sets data-points)."""
    page.wait_for_function(
        "[...document.querySelectorAll('canvas[data-chart]')].every(c => c.dataset.points !== undefined)"
    )
    canvases = page.locator("canvas[data-chart]")
    return {
        canvas.get_attribute("data-chart"): int(canvas.get_attribute("data-points"))
        for canvas in canvases.all()
    }


@pytest.fixture
def manager():
    return staff_with_roles("Fraud manager")


@pytest.fixture
def draft_in_shadow():
    """A draft weighing Nigeria 50 instead of 30, in shadow, then two decisions: a coffee
    (approved by both) and a casino in Nigeria (live 60, a review; the draft 80, a decline)."""
    CountryRisk.objects.create(country="NG", level=CountryRisk.Level.HIGH_RISK)
    go_live()
    Rule.objects.filter(code="high_risk_country").update(score=50)
    version = config_version_create(actor=TEST_ACTOR, reason="Nigeria weighs more.")
    shadow.shadow_start(version=version, actor=TEST_ACTOR, reason="Watch Nigeria.")
    card = CardFactory(balance_minor=10_000_000)
    authorize(card)
    authorize(card, **CASINO_ABROAD)
    return version


def test_the_model_page_draws_its_curves_and_its_features_importance(page, manager):
    history(CardFactory(balance_minor=100_000_000))
    model = train()
    holdout = model.metadata["holdout"]
    log_in(page, manager)

    page.goto(reverse("admin:fraud_fraudmodel_change", args=[model.pk]))

    # Each curve beside its reference line of two points; one bar per feature.
    assert drawn_points(page) == {
        "chart-model-roc": len(holdout["curves"]["roc"]) + 2,
        "chart-model-precision-recall": len(holdout["curves"]["precision_recall"]) + 2,
        "chart-model-importance": len(model.metadata["importance"]),
    }
    assert page.locator("#figure-model-roc figcaption").inner_text() == "ROC curve"


def test_a_backtest_draws_its_outcomes_and_rules_hits_beside_their_tables(page, manager, draft_in_shadow):
    log_in(page, manager)
    now = timezone.localtime()
    page.goto(reverse("admin:fraud_fraudconfigversion_backtest", args=[draft_in_shadow.pk]))
    assert drawn_points(page) == {}  # nothing run yet

    page.fill("#id_since", (now - datetime.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"))
    page.fill("#id_until", (now + datetime.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"))
    page.click("input[type=submit][value='Run the backtest']")
    page.wait_for_selector("#figure-backtest-outcomes")

    points = drawn_points(page)
    rules_hit = page.locator("#figure-backtest-rule-hits").locator("xpath=../..").locator("tbody tr").count()
    # Three outcomes on each side; the six ways an outcome can change; each rule's hits on
    # each side, as many as the table's rows.
    assert points == {
        "chart-backtest-outcomes": 6,
        "chart-backtest-changes": 6,
        "chart-backtest-rule-hits": 2 * rules_hit,
    }
    assert rules_hit > 0


def test_a_shadow_comparison_draws_both_sides_and_the_changes(page, manager, draft_in_shadow):
    log_in(page, manager)

    page.goto(reverse("admin:fraud_shadow_compare", args=[draft_in_shadow.pk]))

    assert page.locator("#shadow-summary h2").inner_text() == "2 decisions scored in shadow, 1 would change"
    # Three outcomes on each side; the six ways an outcome can change.
    assert drawn_points(page) == {"chart-shadow-outcomes": 6, "chart-shadow-changes": 6}
