"""The errors services raise besides Django's ValidationError, and the one way every
interface (API, admin, commands) reads a service's rejection."""

from django.core.exceptions import ValidationError

# Where messages that name no field go: the API's {"detail": ...}.
NO_FIELD = "detail"


class ConflictError(Exception):
    """A well-formed request that the resource's current state does not allow (HTTP 409)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def error_messages(error: ValidationError | ConflictError) -> dict[str, list[str]]:
    """A service's rejection as {field: [message, ...]}, in order; messages that name no
    field are under NO_FIELD."""
    if isinstance(error, ConflictError):
        return {error.field or NO_FIELD: [error.message]}
    if hasattr(error, "error_dict"):
        return error.message_dict
    return {NO_FIELD: error.messages}


def error_text(error: ValidationError | ConflictError) -> str:
    """Every message of a service's rejection as one sentence, for a one-line notice."""
    return " ".join(message for messages in error_messages(error).values() for message in messages)
