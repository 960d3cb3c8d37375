# Production image: gunicorn serving cardsystem.wsgi:application.
# Configure it with the environment variables of the README (DATABASE_URL,
# SECRET_KEY, CARD_DATA_KEY, ALLOWED_HOSTS, ...); DEBUG is false here.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DEBUG=false

WORKDIR /app
# libgomp1: the OpenMP runtime LightGBM (the fraud model) loads.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 cardsystem

COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/prod.txt

COPY . .
RUN python manage.py collectstatic --no-input -v 0 && mkdir -p logs && chown -R cardsystem /app/logs

USER cardsystem
EXPOSE 8000

# Run `python manage.py migrate` once per release (for example as a one-off
# container with the same image and environment) before starting new servers:
# compose.yaml does it with its migrate service.
# gunicorn.conf.py: sync workers (WEB_CONCURRENCY of them, default 4) meant to sit
# behind a buffering proxy (deploy/nginx.conf), and the access log through the card
# number scrubber. It also warms each worker up before it serves (WARM_UP) and adds up the
# workers' Prometheus metrics (PROMETHEUS_MULTIPROC_DIR: a temporary directory of its own
# unless set); GET /metrics on port 8000 with METRICS_TOKEN, see the README's "Metrics".
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
