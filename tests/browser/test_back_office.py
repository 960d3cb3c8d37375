"""The back office in a real browser: signing in, and the pages every member of staff sees."""

from tests.browser.conftest import log_in, pytestmark  # noqa: F401
from tests.factories import staff_with_roles


def test_a_fraud_analyst_signs_in_and_lands_on_the_back_office(page):
    analyst = staff_with_roles("Fraud analyst")

    log_in(page, analyst)

    assert page.locator("#site-name").inner_text() == "cardsystem back office"
    assert page.locator("#user-tools").get_by_text(analyst.username).count() == 1


def test_the_watch_catches_a_card_number_on_a_page(page, page_watch):
    page_watch.scan("a test page", b"<td>4000001234567899</td>")
    assert page_watch.problems
    page_watch.problems.clear()
