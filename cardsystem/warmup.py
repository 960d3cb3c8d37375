"""Loading, when a server process starts, what its first request would otherwise load.

Without it the first authorization a fresh gunicorn worker decides takes over a second
(bench/cold_start.py): importing LightGBM (and the scikit-learn and SciPy it imports) and
parsing the active model, reading the live fraud configuration, connecting to the
database, building the URL resolver. `cardsystem/wsgi.py` calls `warm_up()` once the
application is loaded, so every server that loads `cardsystem.wsgi:application`
(gunicorn with or without `gunicorn.conf.py`, runserver) warms its process before it
accepts a connection; `WARM_UP=false` turns it off. Not in an AppConfig.ready(): every
management command and test process would then pay for a model it never uses.

The ground floor knows no app: each app that has something to load gives its AppConfig
a `warm_up()` method (cardsystem, transactions, fraud), called in INSTALLED_APPS order.
A step that fails is logged and skipped: the process serves anyway, and what the step
would have loaded loads at the first request that needs it, as without a warm-up.
"""

import logging
import time

from django.apps import apps
from django.db import connections
from django.urls import get_resolver, reverse
from rest_framework.settings import api_settings

logger = logging.getLogger(__name__)


def warm_up() -> dict[str, str]:
    """Run every app's warm-up step. Returns {app label: "ok" or "failed"}; never raises."""
    outcomes: dict[str, str] = {}
    started = time.perf_counter()
    for config in apps.get_app_configs():
        step = getattr(config, "warm_up", None)
        if not callable(step):
            continue
        try:
            step()
        except Exception:
            logger.exception(
                "warm-up of %s failed; it loads at the first request that needs it", config.label
            )
            outcomes[config.label] = "failed"
        else:
            outcomes[config.label] = "ok"
    logger.info(
        "warm-up done in %.0f ms",
        (time.perf_counter() - started) * 1000,
        extra={"event": "warm_up", "steps": outcomes},
    )
    return outcomes


def connect_databases() -> None:
    """Open this process's connection to each database, as the first request would (with
    CONN_MAX_AGE it then serves the requests that follow)."""
    for connection in connections.all():
        connection.ensure_connection()


def touch_tables() -> None:
    """One `SELECT 1 ... LIMIT 1` per table: a new PostgreSQL connection reads a table's
    and its indexes' descriptions from the catalogue at its first statement on it (tens of
    milliseconds over the first decision's tables), SQLite parses its schema at its first
    statement. A few milliseconds here, once per process."""
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            model._default_manager.exists()


def load_urls() -> None:
    """Import every URLconf and view module and build the resolver's tables, as the first
    request's routing (and the first reverse()) would."""
    get_resolver().reverse_dict  # noqa: B018  (building it is the point)
    reverse("root")


def load_api_settings() -> None:
    """Import the classes REST_FRAMEWORK names (authentication, parsers, renderers, the
    exception handler...): DRF imports each at its first use."""
    for name in api_settings.defaults:
        getattr(api_settings, name)
