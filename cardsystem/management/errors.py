"""How management commands turn a service's rejection into a CommandError.

Services raise ValidationError (or ConflictError) naming each bad field; a command
shows the same messages, one "field: message" per problem, and exits non-zero.
"""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import CommandError

from cardsystem.exceptions import NO_FIELD, ConflictError, error_messages


def error_lines(error: ValidationError | ConflictError | dict) -> list[str]:
    """["field: message", ...] for every message of the error, in order."""
    by_field = error if isinstance(error, dict) else error_messages(error)
    lines = []
    for field, messages in by_field.items():
        for message in [messages] if isinstance(messages, str) else messages:
            lines.append(message if field in (NON_FIELD_ERRORS, NO_FIELD) else f"{field}: {message}")
    return lines


def command_error(error: ValidationError | ConflictError) -> CommandError:
    """A CommandError carrying the service's messages, to `raise ... from error`."""
    return CommandError(" ".join(error_lines(error)))
