"""How management commands turn a service's rejection into a CommandError.

Services raise ValidationError (or ConflictError) naming each bad field; a command
shows the same messages, one "field: message" per problem, and exits non-zero.
"""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import CommandError

from cardsystem.exceptions import ConflictError


def error_lines(error: ValidationError | ConflictError | dict) -> list[str]:
    """["field: message", ...] for every message of the error, in order."""
    if isinstance(error, dict):
        by_field = error
    elif isinstance(error, ConflictError) or hasattr(error, "error_dict"):
        by_field = error.message_dict
    else:
        by_field = {NON_FIELD_ERRORS: error.messages}
    lines = []
    for field, messages in by_field.items():
        for message in [messages] if isinstance(messages, str) else messages:
            lines.append(message if field in (NON_FIELD_ERRORS, "detail") else f"{field}: {message}")
    return lines


def command_error(error: ValidationError | ConflictError) -> CommandError:
    """A CommandError carrying the service's messages, to `raise ... from error`."""
    return CommandError(" ".join(error_lines(error)))
