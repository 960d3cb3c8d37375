"""What the back office's lists share: a list filter with a default value (a queue that
opens on the work still to do), a link to the admin page of a row that another row
names by its model and id (the audit log's targets, change requests' targets), and the
read-only table a page shows of related rows, with its link to the whole list."""

from django.apps import apps
from django.contrib import admin
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

TABLE_TEMPLATE = "admin/readonly_table.html"


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


def readonly_table(headers, rows, *, more_url: str | None = None, more_label: str = "", empty="None.") -> str:
    """A read-only table of `rows` (cells are text or safe HTML) under `headers`, `empty`
    when there is no row, and a link to the whole list when `more_url` is given."""
    return render_to_string(
        TABLE_TEMPLATE,
        {"headers": headers, "rows": rows, "more_url": more_url, "more_label": more_label, "empty": empty},
    )
