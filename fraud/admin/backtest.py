"""A version's "Backtest" page: since and until, then the report of fraud/backtest.py on
the stored decisions of that window, run at once in the request, at most MAX_ROWS of
them (the earliest; the page says when there were more: `manage.py backtest` has no cap).
The outcomes, the changes by direction and the rules' hits are charts (fraud/charts.py)
beside their tables.
"""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.safestring import mark_safe

from cardsystem.admin import chart_html, form_page, side_by_side
from fraud import charts
from fraud.backtest import OUTCOMES, backtest
from transactions.admin import readonly_table

MAX_ROWS = 100_000
TEMPLATE = "admin/fraud/fraudconfigversion/backtest.html"


class BacktestForm(forms.Form):
    since = forms.DateTimeField(help_text="First transaction time, inclusive.")
    until = forms.DateTimeField(help_text="Last transaction time, exclusive.")

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] <= data["since"]:
            self.add_error("until", "Must be after since.")
        return data


def backtest_view(model_admin, request, object_id):
    # Reading the page is viewing; running a backtest is work on the strategy.
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    if request.method == "POST" and not model_admin.has_edit_permission(request):
        raise PermissionDenied
    version = model_admin.get_object(request, object_id)
    if version is None:
        raise Http404
    form = BacktestForm(request.POST if request.method == "POST" else None)
    preface = ""
    if form.is_bound and form.is_valid():
        report = backtest(
            version=version,
            since=form.cleaned_data["since"],
            until=form.cleaned_data["until"],
            limit=MAX_ROWS,
        )
        preface = report_html(report)
    return form_page(
        request,
        model_admin,
        form=form,
        original=version,
        title=f"Backtest version {version.number}",
        submit_label="Run the backtest",
        can_submit=model_admin.has_edit_permission(request),
        intro=(
            f"Decides again every stored decision on a known card in the window under version "
            f"{version.number}, from the values stored with each, and compares with what was recorded. "
            f"At most {MAX_ROWS:,} decisions here; `manage.py backtest` has no cap."
        ),
        preface=preface,
        template=TEMPLATE,
    )


def report_html(report) -> str:
    data = report.as_dict()
    rec, new = data["recorded"], data["backtest"]
    summary = [
        ("re-decided", report.decisions),
        ("changed (decision, response code or score)", report.changed),
        ("scores changed", report.score_changes),
        ("not re-decidable (stored before the rules' inputs were)", report.not_redecidable),
        ("assumed to pass limits and balance (were blocked)", report.assumed_limits_and_funds),
        ("decided by a version with other feature windows", report.other_windows),
    ]
    counts = [(o, rec["outcomes"][o], new["outcomes"][o]) for o in OUTCOMES] + [
        (key.replace("_", " "), rec[key], new[key])
        for key in ("fraud_caught", "fraud_reviewed", "fraud_missed", "false_declines")
    ]
    matrix = [(a, *(report.matrix[(a, b)] for b in OUTCOMES)) for a in OUTCOMES]
    codes = sorted(set(rec["rule_hits"]) | set(new["rule_hits"]))
    hits = [(code, rec["rule_hits"].get(code, 0), new["rule_hits"].get(code, 0)) for code in codes]
    parts = []
    if report.truncated:
        parts.append(
            f'<p class="errornote">More than {MAX_ROWS:,} decisions in this window: only the earliest '
            f"{MAX_ROWS:,} were backtested. Narrow the window or run manage.py backtest.</p>"
        )
    sides = ["", "recorded", f"version {report.version}"]
    outcomes_chart = chart_html(
        chart_id="backtest-outcomes",
        title="Decisions by outcome",
        config=charts.table_bars(sides, counts[: len(OUTCOMES)]),
    )
    parts += [
        "<h2>Summary</h2>",
        readonly_table(["", "decisions"], summary),
        "<h2>Outcomes, fraud caught and missed (fraud reports known now), false declines</h2>",
        side_by_side(readonly_table(sides, counts), outcomes_chart),
        "<h2>Changed decisions: recorded (rows) against backtest (columns)</h2>",
        side_by_side(readonly_table(["recorded", *OUTCOMES], matrix), _changes_chart(report)),
        "<h2>Each rule's hits</h2>",
        _hits_html(["rule", *sides[1:]], hits),
    ]
    return mark_safe("".join(parts))  # noqa: S308 (tables rendered by templates, escaped; the rest constant)


def _changes_chart(report) -> str:
    return chart_html(
        chart_id="backtest-changes",
        title="Outcomes that would change (recorded→backtest)",
        config=charts.outcome_changes_bars(report.matrix),
    )


def _hits_html(headers: list[str], hits: list[tuple]) -> str:
    table = readonly_table(headers, hits, empty="No rule fired.")
    if not hits:
        return table
    chart = chart_html(
        chart_id="backtest-rule-hits",
        title="Hits, recorded and decided again",
        config=charts.table_bars(headers, hits, horizontal=True),
        height=charts.bars_height(len(hits)),
    )
    return side_by_side(table, chart)
