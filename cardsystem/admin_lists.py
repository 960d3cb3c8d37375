"""What the back office's lists share: a list filter with a default value (a queue that
opens on the work still to do), and a link to the admin page of a row that another row
names by its model and id (the audit log's targets, change requests' targets)."""

from django.apps import apps
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html


class DefaultListFilter(admin.SimpleListFilter):
    """A list filter with a value chosen when the URL names none (a queue that opens on
    the work still to do): set `default`; `queryset` reads `self.current()`."""

    default: str = ""

    def current(self) -> str:
        return self.value() or self.default

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": self.current() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


def target_link(target_type: str, target_id: str, label: str) -> str:
    """A link to the admin page of a row named by its model label and id, or its label
    alone when it has no page."""
    url = _admin_change_url(target_type, target_id)
    if url is None:
        return label or "—"
    return format_html('<a href="{}">{}</a>', url, label or target_id)


def _admin_change_url(target_type: str, target_id: str) -> str | None:
    if not (target_type and target_id):
        return None
    try:
        model = apps.get_model(target_type)
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[target_id])
    except (LookupError, ValueError, NoReverseMatch):
        return None
