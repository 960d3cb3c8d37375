"""Prometheus metrics: every metric the project exposes is defined here, and `/metrics`
renders them (cardsystem/metrics_endpoint.py says who may read it).

Two kinds:
- recorded as things happen, in the process that serves the request: the decisions by
  outcome and response code and their latency (transactions/services/authorizations.py,
  at commit, beside the decision's log line), and the scorers' errors (the fraud engine's
  `model_error`, the authorization service's `risk_engine_error`);
- read at scrape time from the database, facts of the whole system rather than of one
  process: the fraud alert backlog, the live configuration version, the active model.
  The ground floor knows no app: an app gives the values of such gauges by registering a
  source (`add_scrape_source`, fraud/metric_sources.py from fraud's AppConfig.ready()).

Several gunicorn workers: each process counts in its own memory unless the environment
names PROMETHEUS_MULTIPROC_DIR (an existing, writable, empty-at-start directory), where
prometheus_client then keeps each process's values in files and a scrape of any worker
adds them all up. gunicorn.conf.py empties it when the server starts and removes a dead
worker's gauge files. Without it (runserver, tests, one process) the values live in the
process, with the client library's process and Python collectors beside them.

Labels carry codes from small fixed sets (status, ISO 8583 response code, error kind),
never a card number, an amount, a merchant or a client.
"""

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

DECISIONS = Counter(
    "cardsystem_authorization_decisions",
    "Authorization decisions recorded (committed), by outcome and ISO 8583 response code.",
    ["status", "response_code"],
)
# A decision takes milliseconds: the buckets are fine below 50 ms and coarse above.
DECISION_SECONDS = Histogram(
    "cardsystem_authorization_decision_seconds",
    "Time to decide and record an authorization, from the card lookup to the commit.",
    buckets=(0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0),
)
SCORER_ERRORS = Counter(
    "cardsystem_scorer_errors",
    "Risk scoring failures: model_error (the fraud model could not run; the rules decided "
    "alone), risk_engine_error (a risk receiver failed; the decision failed closed).",
    ["kind"],
)


# --- Read at scrape time ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScrapeGauge:
    """A gauge whose value a registered source reads when /metrics is scraped."""

    name: str
    documentation: str
    labels: tuple[str, ...] = ()


FRAUD_ALERTS_UNRESOLVED = ScrapeGauge(
    "cardsystem_fraud_alerts_unresolved",
    "Fraud alerts waiting for an analyst (the backlog), by status: open or investigating.",
    ("status",),
)
FRAUD_ALERT_OLDEST_AGE = ScrapeGauge(
    "cardsystem_fraud_alert_oldest_unresolved_age_seconds",
    "Age of the oldest unresolved fraud alert (0 when none waits).",
)
FRAUD_CONFIG_VERSION = ScrapeGauge(
    "cardsystem_fraud_config_live_version",
    "Number of the live fraud configuration version (0: none is live).",
)
FRAUD_MODEL_VERSION = ScrapeGauge(
    "cardsystem_fraud_model_active_version",
    "Version of the fraud model the live configuration scores with (0: the rules alone).",
)

# A source returns {gauge: value} or {gauge: {label values: value}} for the gauges it knows.
ScrapeValues = Mapping[ScrapeGauge, float | Mapping[tuple[str, ...], float]]
_scrape_sources: list[Callable[[], ScrapeValues]] = []


def add_scrape_source(source: Callable[[], ScrapeValues]) -> None:
    """Register an app's reader of scrape-time gauges (from its AppConfig.ready())."""
    if source not in _scrape_sources:
        _scrape_sources.append(source)


class _ScrapeTimeCollector:
    def collect(self) -> Iterable[GaugeMetricFamily]:
        for source in _scrape_sources:
            for gauge, value in source().items():
                family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=gauge.labels or None)
                if isinstance(value, Mapping):
                    for label_values, number in value.items():
                        family.add_metric(list(label_values), number)
                else:
                    family.add_metric([], value)
                yield family


# --- Recording ---------------------------------------------------------------------------------


def decision_recorded(*, status: str, response_code: str, seconds: float) -> None:
    """Count one committed decision and its latency."""
    DECISIONS.labels(status, response_code).inc()
    DECISION_SECONDS.observe(seconds)


def scorer_error(kind: str) -> None:
    SCORER_ERRORS.labels(kind).inc()


# --- Rendering ---------------------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None


def exposition() -> bytes:
    """Every metric in Prometheus' text format: this process's (or, in multiprocess mode,
    every worker's added up) and the scrape-time gauges, read now."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    registry.register(_ScrapeTimeCollector())
    return generate_latest(registry)
