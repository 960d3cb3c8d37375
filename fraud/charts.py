"""The fraud pages' charts: Chart.js configurations built from the figures each page
already holds (a model's stored metrics, a backtest's report, a shadow comparison, the
rules' performance), never from a query of their own. Pure functions: each returns a
whole configuration (type, data, options) for templates/admin/includes/chart.html, drawn
by static/cardsystem/charts.js; a chart beside a table shows exactly the table's numbers.

Chart.js options are data (JSON), so nothing here formats a tick: a share is drawn in
percent, rounded as the table beside it shows it or finer.
"""

import textwrap
from collections.abc import Sequence

from fraud import catalogue
from fraud.backtest import OUTCOMES

# The admin's blue for what happened (recorded, live), amber for what the other version
# would do; grey for a reference line.
PALETTE = ("#417690", "#e8a33d", "#7a9a5c", "#b55d70")
REFERENCE = "#9a9a9a"
# A longer label of a horizontal bar is drawn on several lines: Chart.js would cut it.
LABEL_WIDTH = 22


# --- The shapes -------------------------------------------------------------------------------


def table_bars(headers: Sequence[str], rows: Sequence[Sequence], *, horizontal: bool = False) -> dict:
    """Bars from a table's rows: the first column labels the bars, each other column is a
    series named by its header, side by side (grouped) when there are several."""
    series = [(name, [row[index] for row in rows]) for index, name in enumerate(headers[1:], start=1)]
    return bars([row[0] for row in rows], series, horizontal=horizontal)


def bars(labels: Sequence[str], series: Sequence[tuple[str, Sequence]], *, horizontal: bool = False) -> dict:
    """One bar per label and series (name, values), counted from zero in whole numbers."""
    value_axis, label_axis = ("x", "y") if horizontal else ("y", "x")
    return {
        "type": "bar",
        "data": {
            "labels": [wrapped(str(label)) if horizontal else str(label) for label in labels],
            "datasets": [
                {"label": name, "data": list(values), "backgroundColor": colour}
                for (name, values), colour in zip(series, PALETTE, strict=False)
            ],
        },
        "options": {
            "indexAxis": "y" if horizontal else "x",
            "scales": {
                value_axis: {"beginAtZero": True, "ticks": {"precision": 0}},
                # Every bar named: Chart.js would skip labels it finds crowded.
                label_axis: {"ticks": {"autoSkip": False}},
            },
            "plugins": {"legend": {"display": len(series) > 1}},
        },
    }


def wrapped(label: str) -> str | list[str]:
    """A label as it fits beside a horizontal bar: itself, or its lines (a list, which
    Chart.js draws one under the other) when longer than LABEL_WIDTH."""
    lines = textwrap.wrap(label, LABEL_WIDTH, break_long_words=False, break_on_hyphens=False)
    return label if len(lines) <= 1 else lines


def bars_height(labels: int) -> str:
    """The height of a chart of `labels` horizontal bars (a CSS length): room for each."""
    return f"{max(260, 60 + 40 * labels)}px"


def curve(
    points: Sequence[Sequence[float]],
    *,
    label: str,
    reference: tuple[str, Sequence[Sequence[float]]],
    x_title: str,
    y_title: str,
) -> dict:
    """A curve of [x, y] points on the unit square, with a dashed reference line
    (reference = its label and its points)."""
    reference_label, reference_points = reference
    return {
        "type": "scatter",
        "data": {
            "datasets": [
                _line(label, points, PALETTE[0]),
                {**_line(reference_label, reference_points, REFERENCE), "borderDash": [6, 4]},
            ]
        },
        "options": {
            "interaction": {"mode": "nearest", "intersect": False},
            "scales": {
                "x": {"min": 0, "max": 1, "title": {"display": True, "text": x_title}},
                "y": {"min": 0, "max": 1, "title": {"display": True, "text": y_title}},
            },
        },
    }


def _line(label: str, points: Sequence[Sequence[float]], colour: str) -> dict:
    return {
        "label": label,
        "data": [{"x": x, "y": y} for x, y in points],
        "showLine": True,
        "pointRadius": 0,
        "borderWidth": 2,
        "clip": 4,  # a perfect curve runs along the axes: draw it over them, not half cut
        "borderColor": colour,
        "backgroundColor": colour,
    }


def percent(share: float | None) -> float | None:
    """A share (0 to 1) as the percent a chart draws, to a tenth of a percent."""
    return None if share is None else round(share * 100, 1)


# --- The model page ---------------------------------------------------------------------------


def model_roc(holdout: dict) -> dict:
    """The held-out ROC curve (fraud/curves.py) against chance, the diagonal."""
    return curve(
        holdout["curves"]["roc"],
        label=f"held out (ROC AUC {holdout['roc_auc']:.3f})",
        reference=("chance", [[0, 0], [1, 1]]),
        x_title="false positive rate (legitimate flagged)",
        y_title="true positive rate (fraud flagged)",
    )


def model_precision_recall(holdout: dict) -> dict:
    """The held-out precision-recall curve against a ranking by chance: precision at the
    share of fraud among the held-out rows, whatever the recall."""
    share = round(holdout["frauds"] / holdout["rows"], 4)
    return curve(
        holdout["curves"]["precision_recall"],
        label=f"held out (average precision {holdout['average_precision']:.3f})",
        reference=(f"chance (fraud share {share:.1%})", [[0, share], [1, share]]),
        x_title="recall (fraud flagged)",
        y_title="precision (fraud among flagged)",
    )


def model_importance(importance: Sequence[dict]) -> dict:
    """The features' shares of the trees' gain, largest first, named as in the catalogue."""
    return bars(
        [catalogue.label(item["feature"]) for item in importance],
        [("% of the gain", [percent(item["share"]) for item in importance])],
        horizontal=True,
    )


# --- Backtest and shadow ----------------------------------------------------------------------


def outcome_totals(matrix: dict[tuple[str, str], int]) -> list[tuple[str, int, int]]:
    """(outcome, how many on the first side, how many on the second) from a first x second
    matrix of outcomes: the row sums beside the column sums."""
    return [
        (
            outcome,
            sum(n for (first, _), n in matrix.items() if first == outcome),
            sum(n for (_, second), n in matrix.items() if second == outcome),
        )
        for outcome in OUTCOMES
    ]


def outcome_changes(matrix: dict[tuple[str, str], int]) -> list[tuple[str, int]]:
    """("approve→decline", how many), for each pair of different outcomes, in OUTCOMES
    order: the matrix less its diagonal."""
    return [
        (f"{first}→{second}", matrix.get((first, second), 0))
        for first in OUTCOMES
        for second in OUTCOMES
        if first != second
    ]


def outcome_changes_bars(matrix: dict[tuple[str, str], int]) -> dict:
    """Bars of the decisions that would change, one per direction (outcome_changes)."""
    return table_bars(["", "decisions"], outcome_changes(matrix))


# --- Rule performance -------------------------------------------------------------------------


def rule_performance(rows: Sequence) -> dict:
    """Each rule's decisions fired on (bars, left axis) and its precision (points, right
    axis, percent), from fraud.performance.RuleFigures."""
    config = bars([r.code for r in rows], [("fired", [r.fired for r in rows])])
    config["data"]["datasets"].append(
        {
            "type": "line",
            "label": "precision %",
            "data": [percent(r.precision) for r in rows],
            "yAxisID": "precision",
            "showLine": False,
            "pointRadius": 4,
            "borderColor": PALETTE[1],
            "backgroundColor": PALETTE[1],
        }
    )
    config["options"]["scales"]["precision"] = {
        "position": "right",
        "min": 0,
        "max": 100,
        "grid": {"drawOnChartArea": False},
        "title": {"display": True, "text": "precision %"},
    }
    config["options"]["plugins"]["legend"]["display"] = True
    return config
