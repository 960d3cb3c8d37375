"""One scrubber for every log line this service writes: Django's loggers (the request
logger writes the path of every 404, say `/api/v1/cards/<a card number>/`), the decision
log, and gunicorn's access and error logs (cardsystem/gunicorn_logging.py). Whatever a
client puts in a path, a query string or a header, a card number reaches no log in clear:
each line is masked as it is written out, after every message, argument, extra field and
traceback is in it.
"""

import logging

from pythonjsonlogger.json import JsonFormatter

from cardsystem.card_numbers import mask_card_numbers


class ScrubbingJsonFormatter(JsonFormatter):
    """settings.LOGGING's formatter: one JSON object per line, card numbers masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_card_numbers(super().format(record))


class ScrubbingFormatter(logging.Formatter):
    """Another formatter's lines, card numbers masked."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return mask_card_numbers(self.inner.format(record))
