"""Request parsing for every API view (settings: DEFAULT_PARSER_CLASSES).

Kept apart from cardsystem.api: DRF imports parsers while rest_framework.views is
still loading. Bodies are JSON only; a form-encoded or multipart body is a 415.
"""

import codecs
import json
import re

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.utils.json import strict_constant

# A key the error may name: a field name, never echoed card data or control characters.
NAMEABLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        self.key = key


def _object_without_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object as a dict, refusing a key given twice: Python keeps the last value,
    while a gateway or a log reader in front of us may read the first, and the two would
    then see different amounts in one request."""
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


class JSONParser(parsers.JSONParser):
    """DRF's strict JSON parser (no NaN or Infinity), refusing three more inputs: an
    object with the same key twice (a 400 naming the key), nesting deep enough to exhaust
    Python's recursion limit, and unpaired surrogates ("\\ud800"), which no UTF-8 column,
    log line or response can hold (they even break rendering the error that names them)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            data = json.load(
                codecs.getreader(encoding)(stream),
                parse_constant=strict_constant,
                object_pairs_hook=_object_without_duplicate_keys,
            )
            json.dumps(data, ensure_ascii=False).encode()
        except _DuplicateKey as duplicate:
            message = "This key appears more than once in a JSON object; give it once."
            if NAMEABLE_KEY.fullmatch(duplicate.key):
                raise ValidationError({duplicate.key: [message]}) from None
            raise ValidationError({"detail": [message]}) from None
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        except UnicodeEncodeError:
            raise ParseError("JSON parse error - the document holds an unpaired surrogate.") from None
        return data
