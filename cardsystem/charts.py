"""Chart.js configurations as the server writes them for templates/admin/includes/chart.html:
plain dicts (type, data, options), one palette, so that every chart of the back office
reads alike and no page writes chart code of its own."""

# Colours that stay apart for the colour-blind (Okabe-Ito), by meaning where there is one.
COLOURS = {
    "approved": "#009E73",
    "review": "#E69F00",
    "declined": "#D55E00",
    "neutral": "#0072B2",
    "second": "#CC79A7",
    "third": "#56B4E9",
    "fourth": "#F0E442",
    "grey": "#999999",
}
SERIES = ["neutral", "second", "third", "review", "approved", "declined", "fourth", "grey"]


def colour(index: int) -> str:
    """The n-th colour of a chart with several series without meaning."""
    return COLOURS[SERIES[index % len(SERIES)]]


def dataset(label: str, data: list, colour_name: str, **options) -> dict:
    hex_colour = COLOURS.get(colour_name, colour_name)
    return {"label": label, "data": data, "backgroundColor": hex_colour, "borderColor": hex_colour, **options}


def bar(
    labels: list[str],
    datasets: list[dict],
    *,
    stacked: bool = False,
    horizontal: bool = False,
    y_title: str = "",
    legend: bool = True,
) -> dict:
    value_axis = {
        "beginAtZero": True,
        "stacked": stacked,
        "title": {"display": bool(y_title), "text": y_title},
    }
    label_axis = {"stacked": stacked}
    scales = {"x": value_axis, "y": label_axis} if horizontal else {"x": label_axis, "y": value_axis}
    return {
        "type": "bar",
        "data": {"labels": labels, "datasets": datasets},
        "options": {
            "indexAxis": "y" if horizontal else "x",
            "scales": scales,
            "plugins": {"legend": {"display": legend}},
        },
    }


def line(labels: list[str], datasets: list[dict], *, y_min=None, y_max=None, y_title: str = "") -> dict:
    return {
        "type": "line",
        "data": {"labels": labels, "datasets": [{"tension": 0.2, "spanGaps": True, **d} for d in datasets]},
        "options": {
            "scales": {
                "y": {
                    **({"min": y_min} if y_min is not None else {}),
                    **({"max": y_max} if y_max is not None else {}),
                    "title": {"display": bool(y_title), "text": y_title},
                }
            },
        },
    }
