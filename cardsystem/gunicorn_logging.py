"""gunicorn's access and error logs through the one scrubber (cardsystem/log_scrubbing.py):
the access log's request line carries the path (and with %(r)s the query string), where
a client may put a card number. Apart from log_scrubbing so that only gunicorn imports
gunicorn."""

from gunicorn.glogging import Logger

from cardsystem.log_scrubbing import ScrubbingFormatter


class ScrubbingGunicornLogger(Logger):
    """gunicorn's logger (`--logger-class cardsystem.gunicorn_logging.ScrubbingGunicornLogger`):
    the access log's request line and the error log's messages, card numbers masked."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            for handler in log.handlers:
                if not isinstance(handler.formatter, ScrubbingFormatter):
                    handler.setFormatter(ScrubbingFormatter(handler.formatter))
