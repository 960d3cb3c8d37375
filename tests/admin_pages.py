"""Addresses of the Django admin's pages, and the charts in them, for the tests that open
them."""

import json
import re

from django.urls import reverse


def change_url(obj) -> str:
    """The admin change page of any model instance."""
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def charts_in(html: str) -> dict[str, dict]:
    """The Chart.js configurations a page holds (templates/admin/includes/chart.html), by
    chart id."""
    return {
        chart_id: json.loads(config)
        for chart_id, config in re.findall(
            r'<script id="chart-([\w-]+)" type="application/json">(.*?)</script>', html, re.S
        )
    }


def series(config: dict) -> list[tuple[str, list]]:
    """A chart's datasets as (label, data) pairs."""
    return [(dataset["label"], dataset["data"]) for dataset in config["data"]["datasets"]]
