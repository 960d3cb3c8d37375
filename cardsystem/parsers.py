"""Request parsing for every API view (settings: DEFAULT_PARSER_CLASSES).

Kept apart from cardsystem.api: DRF imports parsers while rest_framework.views is
still loading. Bodies are JSON only; a form-encoded or multipart body is a 415.
"""

import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's strict JSON parser (no NaN or Infinity), refusing two more inputs that
    would otherwise end in a 500: nesting deep enough to exhaust Python's recursion
    limit, and unpaired surrogates ("\\ud800"), which no UTF-8 column, log line or
    response can hold (they even break rendering the error that names them)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode()
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        except UnicodeEncodeError:
            raise ParseError("JSON parse error - the document holds an unpaired surrogate.") from None
        return data
