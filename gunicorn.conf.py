"""gunicorn's settings in production (the Dockerfile's command, compose.yaml's app service):
`gunicorn --config gunicorn.conf.py`, behind nginx (deploy/nginx.conf).

Sync workers, each serving one request at a time from start to end, suit a server that
only nginx talks to: nginx reads a client's whole request before it passes it on and
takes the whole response at once, so no worker ever waits on a slow client. Served
directly, two clients sending a body a byte a second hold two workers until `timeout`
kills them (bench/slow_clients.py measures both).
"""

import os

wsgi_app = "cardsystem.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
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
