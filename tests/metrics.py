"""Reading /metrics the way Prometheus does: the exposition parsed, one sample's value."""

from prometheus_client.parser import text_string_to_metric_families


def scrape(client, **extra) -> str:
    """/metrics from loopback, as text; fails on anything but a 200."""
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content[:200]
    return response.content.decode()


def value(text: str, name: str, **labels) -> float:
    """The sample `name` with exactly these labels; 0 when the exposition has none."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0
