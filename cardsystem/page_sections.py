"""Sections that an app adds to the admin page of an app below it.

A card's page shows the card's transactions and fraud alerts, a merchant's page its
alerts, but `cards` may not import `transactions` or `fraud`, nor `transactions` import
`fraud` (the layers, tests/test_architecture.py). The page owns a `PageSections`
registry; the app above registers its sections from its AppConfig.ready(), as it
registers its change kinds. The page renders the sections its viewer has the permission
for, in their order, each with a bounded query or two (the latest rows and a count).
"""

from collections.abc import Callable
from dataclasses import dataclass

SECTIONS_TEMPLATE = "admin/includes/page_sections.html"


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    permission: str  # the viewer needs it to see the section at all
    render: Callable[..., str]  # render(obj, **context) -> HTML
    order: int = 100
    stylesheet: str = ""  # a static path the section's HTML needs, linked by the page


@dataclass(frozen=True)
class RenderedSections:
    """What the page includes with SECTIONS_TEMPLATE: (title, HTML) of each section, and
    the stylesheets they need, each once."""

    sections: list[tuple[str, str]]
    stylesheets: list[str]


class PageSections:
    """The sections of one page, by key: registering a key again replaces its section."""

    def __init__(self, page: str):
        self.page = page
        self._sections: dict[str, Section] = {}

    def register(self, section: Section) -> None:
        self._sections[section.key] = section

    def visible_to(self, user) -> list[Section]:
        shown = [s for s in self._sections.values() if user.has_perm(s.permission)]
        return sorted(shown, key=lambda s: (s.order, s.key))

    def rendered(self, user, obj, **context) -> RenderedSections:
        """The sections `user` may see, rendered for `obj`."""
        visible = self.visible_to(user)
        return RenderedSections(
            sections=[(section.title, section.render(obj, **context)) for section in visible],
            stylesheets=list(dict.fromkeys(section.stylesheet for section in visible if section.stylesheet)),
        )
