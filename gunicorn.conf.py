"""gunicorn's settings in production (the Dockerfile's command, compose.yaml's app service):
`gunicorn --config gunicorn.conf.py`, behind nginx (deploy/nginx.conf).

Sync workers, each serving one request at a time from start to end, suit a server that
only nginx talks to: nginx reads a client's whole request before it passes it on and
takes the whole response at once, so no worker ever waits on a slow client. Served
directly, two clients sending a body a byte a second hold two workers until `timeout`
kills them (bench/slow_clients.py measures both).
"""

import os
import shutil
import tempfile
from pathlib import Path

wsgi_app = "cardsystem.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# No preload_app: cardsystem/wsgi.py warms each worker up (the fraud model, the live fraud
# configuration, a database connection) when the worker loads the application, before it
# accepts a connection; loaded once in the master instead, the connection would be shared
# by every forked worker.
# Worker processes per container: about two per CPU. Scale out with more containers
# (docker compose up --scale app=N).
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "sync"
# A request still running after this many seconds has its worker killed and restarted;
# nginx's proxy_read_timeout is longer, so gunicorn ends it first.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
# Sync workers answer each request with Connection: close, so nginx opens a connection
# per request (over the local network: a fraction of a millisecond).

# The access log leaves out query strings, and every line of it goes through the card
# number scrubber (cardsystem/gunicorn_logging.py): a card number pasted into a URL must
# not end up in a log file. %(h)s is nginx; the client's address is the last entry of
# X-Forwarded-For that nginx appended.
logger_class = "cardsystem.gunicorn_logging.ScrubbingGunicornLogger"
accesslog = "-"
access_log_format = '%(h)s "%({x-forwarded-for}i)s" %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'


# Prometheus metrics (cardsystem/metrics.py) of every worker added up: prometheus_client's
# multiprocess mode, each worker keeping its values in files in PROMETHEUS_MULTIPROC_DIR,
# which a scrape of any worker reads. Set when the server starts (so that management
# commands, runserver and tests count in their own memory): the directory the environment
# names, emptied (an earlier run's files would add its counts to this one's), or else a
# fresh temporary one of this server's own, removed when it stops. Two servers on one
# machine must not share one. A dead worker's counters stay (a total never goes down); its
# gauge files go.
_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def on_starting(server):
    directory = os.environ.get(_METRICS_DIR)
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()
    else:
        os.environ[_METRICS_DIR] = server.own_metrics_dir = tempfile.mkdtemp(prefix="cardsystem-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, os.environ[_METRICS_DIR])


def on_exit(server):
    own = getattr(server, "own_metrics_dir", None)
    if own:
        shutil.rmtree(own, ignore_errors=True)
