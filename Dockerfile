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
# container with the same image and environment) before starting new servers.
# The access log leaves out query strings, and every line of it goes through the card
# number scrubber (cardsystem/gunicorn_logging.py): a card number pasted into a URL
# must not end up in a log file.
CMD ["gunicorn", "cardsystem.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", \
     "--logger-class", "cardsystem.gunicorn_logging.ScrubbingGunicornLogger", \
     "--access-logfile", "-", "--access-logformat", "%(h)s %(t)s \"%(m)s %(U)s %(H)s\" %(s)s %(b)s %(L)s"]
