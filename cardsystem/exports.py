"""CSV exports of the back office's lists: exactly the rows a list's filters, search, date
drill-down and ordering select, every page of them, streamed, masked and audited.

A ModelAdmin mixes in `CsvExportMixin` and names its `export_columns`; the mixin adds the
list's "Export CSV" button (templates/admin/change_list_object_tools.html) and the
`export/` page behind it. The rows come from the admin's own changelist
(`get_changelist_instance`), so a filter is never written twice and the export cannot
drift from the list a person is looking at.

- Streamed: the rows are read with `values_list(...).iterator()` (a server-side cursor on
  PostgreSQL), CHUNK_ROWS at a time, only the fields the columns name (a relation's
  through `__`, joined by the one query), and written out as they come: memory stays flat
  whatever the row count (bench/export.py measures it).
- Masked: columns read the stored masked numbers; nothing here decrypts a card number,
  and free text from outside (a merchant's name) goes through `external_text`.
- Safe to open in a spreadsheet: a text cell a spreadsheet would read as a formula
  (starting with = + - @, a tab or a carriage return) gets a leading apostrophe (OWASP's
  advice against CSV injection).
- Audited: who exported which list, with which query string, and how many rows it held
  when the export began (the changelist counts them anyway), before the first byte leaves.
- Permitted: the list's view permission and its own `<app>.export_<model>` (cardsystem/
  roles.py grants it); anyone else gets 403.
"""

import csv
import datetime
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.card_numbers import mask_card_numbers

# Rows read from the database and written out per step: the cursor's fetch size and the
# size of each piece of the response.
CHUNK_ROWS = 2000
# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Lets Excel read the file as UTF-8 (merchants' names are not all ASCII).
BYTE_ORDER_MARK = "\ufeff"


@dataclass(frozen=True)
class Column:
    """One column of an export: its header, the fields it reads (names `values_list`
    takes; a relation's through `__`) and how it writes them (`write(*values)`; by
    default the one field's value as it is). Whatever `write` returns goes through
    `cell`."""

    header: str
    fields: tuple[str, ...]
    write: Callable[..., Any] | None = None


def column(header: str, *fields: str, write: Callable[..., Any] | None = None) -> Column:
    """A Column reading `fields` (the header itself when none is named)."""
    return Column(header, fields or (header,), write)


def external_text(value: str | None) -> str:
    """Free text that came from outside (a merchant's name): a run of digits shaped like
    a card number is masked to its last four, as in a log line."""
    return mask_card_numbers(value or "")


def neutralised(text: str) -> str:
    """`text` as a spreadsheet shows it and never runs it: a leading apostrophe before
    what would start a formula."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def cell(value: Any) -> Any:
    """A value as a CSV cell: times in UTC (ISO 8601), yes/no, JSON for structures,
    numbers as they are, every text neutralised."""
    if type(value) is str:  # the common case first: most cells are text
        return neutralised(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal | float):
        return value
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True)
    return neutralised(str(value))


class RowWriter(Protocol):
    """What turns a list's rows into an export: the header row, the fields to read with
    `values_list`, and the cells of one row read that way."""

    headers: list[str]
    fields: list[str]

    def cells(self, values: tuple) -> list: ...


class Columns:
    """The RowWriter of a list of Columns: each field is read once, however many columns
    use it."""

    def __init__(self, columns: Sequence[Column]):
        self.headers = [c.header for c in columns]
        self.fields = list(dict.fromkeys(name for c in columns for name in c.fields))
        position = {name: index for index, name in enumerate(self.fields)}
        self._plan = [(tuple(position[name] for name in c.fields), c.write) for c in columns]

    def cells(self, values: tuple) -> list:
        return [
            cell(write(*(values[i] for i in indexes)) if write else values[indexes[0]])
            for indexes, write in self._plan
        ]


def csv_text(writer: RowWriter, queryset) -> Iterator[str]:
    """The CSV text of `queryset`'s rows, a header first, in pieces of CHUNK_ROWS rows:
    never more than one piece and one fetch of rows in memory."""
    buffer = io.StringIO()
    out = csv.writer(buffer)
    buffer.write(BYTE_ORDER_MARK)
    out.writerow(writer.headers)
    rows = queryset.values_list(*writer.fields).iterator(chunk_size=CHUNK_ROWS)
    for count, values in enumerate(rows, start=1):
        out.writerow(writer.cells(values))
        if count % CHUNK_ROWS == 0:
            yield _drained(buffer)
    yield _drained(buffer)


def _drained(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


class CsvExportMixin:
    """Mixed into a ModelAdmin (before admin.ModelAdmin): an "Export CSV" button on its
    list and the `export/` page that streams the list's rows as `export_columns` write
    them. `export_name` names the file and the audit record (default: the model's
    plural name)."""

    export_columns: Sequence[Column] = ()
    export_name: str = ""

    def get_export_name(self) -> str:
        return self.export_name or str(self.opts.verbose_name_plural).replace(" ", "-")

    def get_export_writer(self, request) -> RowWriter:
        return Columns(self.export_columns)

    def has_export_permission(self, request) -> bool:
        """The list's view permission and `<app>.export_<model>`."""
        codename = get_permission_codename("export", self.opts)
        return self.has_view_permission(request) and request.user.has_perm(
            f"{self.opts.app_label}.{codename}"
        )

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        return [path("export/", self.admin_site.admin_view(self.export_view), name=name), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        if self.has_export_permission(request):
            extra_context = {**(extra_context or {}), "export_url": self._export_url(request)}
        return super().changelist_view(request, extra_context)

    def _export_url(self, request) -> str:
        """This list's export with the list's query string: every page, not just this one."""
        query = request.GET.copy()
        for name in (PAGE_VAR, ERROR_FLAG):
            query.pop(name, None)
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_export")
        return f"{url}?{query.urlencode()}" if query else url

    def export_view(self, request):
        if not self.has_export_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            # As the list itself answers: back to the whole list, with a word of warning.
            url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            return HttpResponseRedirect(f"{url}?{ERROR_FLAG}=1")
        name = self.get_export_name()
        audit_record(
            actor=Actor.for_request(request),
            action=AuditAction.LIST_EXPORTED,
            target_label=name,
            details={
                "list": self.opts.label_lower,
                "query": mask_card_numbers(request.GET.urlencode()),
                "rows": changelist.result_count,
            },
        )
        response = StreamingHttpResponse(
            csv_text(self.get_export_writer(request), changelist.queryset),
            content_type="text/csv; charset=utf-8",
        )
        stamp = timezone.now().astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
        add_never_cache_headers(response)  # a copy of the rows stays in no cache
        return response
