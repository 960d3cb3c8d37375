"""Browser tests: Playwright (Python) driving Debian's Chromium, never a downloaded browser.

The browser is /usr/bin/chromium (CHROMIUM overrides it; `.ci/run` installs it with apt).
The server is pytest-django's live_server, in this process, on the test database.

Every page a test visits is watched by the `page` fixture, and the test fails at its end
on:
- a console error or an uncaught exception in any page;
- a run of 13 or more digits (a card number's length) in anything the server sent:
  pages, the JSON the pages poll, the files they download.
"""

import os
import re

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import STAFF_PASSWORD, restore_migrated_data

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CARD_NUMBER_LIKE = re.compile(rb"\d{13,}")
CHECKED_TYPES = {"document", "xhr", "fetch"}

# Every browser test talks to a live server in another thread: a transactional database,
# which starts with what the migrations put there (roles, rules, the fraud configuration)
# even when an earlier transactional test's flush removed it.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _migrated_data(transactional_db):
    restore_migrated_data()


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module. Playwright's sync API keeps an event loop in this
    thread while it runs, so Django would refuse the tests' own ORM calls between browser
    steps (plain synchronous calls, safe here): they are allowed for the module alone, and
    neither later tests nor the processes they start inherit it."""
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class PageWatch:
    """What went wrong in the pages a test visited, read at the test's end."""

    def __init__(self):
        self.problems: list[str] = []

    def console(self, message):
        if message.type == "error":
            self.problems.append(f"console error: {message.text} at {message.location}")

    def page_error(self, error):
        self.problems.append(f"uncaught exception: {error}")

    def response(self, response):
        if response.request.resource_type not in CHECKED_TYPES or response.status in (301, 302, 303):
            return
        self.scan(response.url, response.body())

    def scan(self, where: str, body: bytes):
        for match in CARD_NUMBER_LIKE.finditer(body):
            start = max(match.start() - 40, 0)
            context = body[start : match.end() + 40].decode(errors="replace")
            self.problems.append(f"{len(match.group())} digits in a row in {where}: …{context}…")


@pytest.fixture
def page_watch():
    return PageWatch()


@pytest.fixture
def page(browser, live_server, page_watch, settings):
    settings.DEBUG = False  # the pages as staff see them in production, error pages too
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.on("console", page_watch.console)
    page.on("pageerror", page_watch.page_error)
    page.on("response", page_watch.response)
    yield page
    context.close()
    assert not page_watch.problems, "\n".join(page_watch.problems)


def log_in(page, user, password: str = STAFF_PASSWORD):
    """Sign `user` in through the back office's login form, as a person would."""
    page.goto("/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/(?!login)"))
