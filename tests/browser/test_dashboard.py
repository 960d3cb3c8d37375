"""The dashboard in a real browser: every chart draws data, over each period."""

from django.utils import timezone

from tests import dashboard_world as world
from tests.browser.conftest import log_in, pytestmark  # noqa: F401
from tests.factories import staff_with_roles

CHARTS = [
    "decisions",
    "approval-rate",
    "response-codes",
    "risk-scores",
    "fraud-reported",
    "alert-backlog",
    "top-rules",
    "model-quality",
]


def drawn_points(page) -> dict[str, int]:
    """The data points each chart of the page drew (charts.js sets data-points)."""
    page.wait_for_function(
        "document.querySelectorAll('canvas[data-chart]').length > 0 && "
        "[...document.querySelectorAll('canvas[data-chart]')].every(c => c.dataset.points !== undefined)"
    )
    return {
        canvas.get_attribute("data-chart").removeprefix("chart-"): int(canvas.get_attribute("data-points"))
        for canvas in page.locator("canvas[data-chart]").all()
    }


def test_a_fraud_manager_sees_every_chart_draw_data_and_switches_the_period(page):
    now = timezone.now()
    version = world.live_model(7)
    world.decisions(now=now)
    world.decision("risk_decline", ago=world.HOUR, fraud=True, version=version, now=now)
    world.decision("review", ago=world.HOUR, version=version, now=now)
    world.alerts(now=now)
    log_in(page, staff_with_roles("Fraud manager"))

    page.goto("/admin/")

    points = drawn_points(page)
    assert sorted(points) == sorted(CHARTS)
    assert all(n > 0 for n in points.values()), points
    assert page.locator(".dashboard-tile").count() == 5

    page.get_by_role("link", name="Last 7 days").click()
    page.wait_for_url("**/admin/?period=7d")

    points = drawn_points(page)
    assert sorted(points) == sorted(CHARTS)
    assert all(n > 0 for n in points.values()), points
    assert page.locator(".dashboard-periods a.selected").inner_text() == "Last 7 days"
    assert page.locator(".dashboard-tile").first.inner_text().split()[-1] == "9"
