"""drf-spectacular extensions, registered on import from CardsystemConfig.ready(), and the
schema's postprocessing hook (settings.SPECTACULAR_SETTINGS)."""

import copy

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
