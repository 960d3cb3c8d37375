"""drf-spectacular extensions, registered on import from CardsystemConfig.ready(), and the
schema's postprocessing hook (settings.SPECTACULAR_SETTINGS).

The schema says exactly what the API accepts: a request it describes as valid is not
refused for its shape (only for rules no schema can state, such as a BIN's prefix
agreeing with its network), and one it describes as invalid is a 400.
tests/test_schema_fuzz.py holds it to that.
"""

import copy

from drf_spectacular import openapi
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers

# A text query parameter: not empty (cardsystem.filtering), and no NUL byte
# (cardsystem.middleware answers one anywhere in the URL with a 400).
NON_EMPTY_TEXT = "^[^\\x00]+$"
# Body text: DRF refuses a NUL byte in any text field, and one that trims its value and
# may not be blank refuses whitespace alone.
TEXT = "^[^\\x00]*$"
NOT_BLANK_TEXT = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "cardsystem.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}


# Every operation that takes an API key can be rate limited (cardsystem/throttling.py).
_RATE_LIMITED = {
    "description": "Too many requests: this client's rate for the endpoint's scope, or too many "
    "failed authentications from this address. Retry after the seconds in Retry-After.",
    "headers": {
        "Retry-After": {
            "description": "Whole seconds until the limit's window ends.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
                "example": {"detail": "Request was throttled. Expected available in 12 seconds."},
            }
        }
    },
}


def document_rate_limits(result, generator, request, public):
    """Postprocessing hook: a 429 response on each operation that can answer 401."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if responses and "401" in responses:
                responses.setdefault("429", copy.deepcopy(_RATE_LIMITED))
    return result


class AutoSchema(openapi.AutoSchema):
    """Every request body is an InputSerializer, which refuses a field it does not know
    with a 400 (cardsystem.api): so says `additionalProperties: false`. A text field says
    by its pattern that it refuses a NUL byte and, when it must not be blank, "   "."""

    def _map_basic_serializer(self, serializer, direction):
        from cardsystem.api import InputSerializer  # cardsystem.api loads DRF's views

        schema = super()._map_basic_serializer(serializer, direction)
        if direction != "request":
            return schema
        if isinstance(serializer, InputSerializer):
            schema["additionalProperties"] = False
        for name, field in serializer.fields.items():
            text = schema["properties"].get(name, {})
            if (
                isinstance(field, serializers.CharField)
                and text.get("type") == "string"
                and not {"enum", "format", "pattern"} & set(text)
            ):
                text["pattern"] = NOT_BLANK_TEXT if field.trim_whitespace and not field.allow_blank else TEXT
        return schema


class StrictFilterExtension(DjangoFilterExtension):
    """Each filter parameter with the bounds its form field enforces: no empty value
    (cardsystem.filtering refuses it), the length, minimum and maximum it checks."""

    target_class = "cardsystem.filtering.StrictFilterBackend"
    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        bounds = {"maxLength": "max_length", "minimum": "min_value", "maximum": "max_value"}
        for parameter in parameters:
            schema = parameter["schema"]
            for keyword, argument in bounds.items():
                if filter_field.extra.get(argument) is not None:
                    schema[keyword] = filter_field.extra[argument]
            if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
                schema["pattern"] = NON_EMPTY_TEXT
        return parameters
