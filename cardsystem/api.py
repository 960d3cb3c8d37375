"""What every API view shares: parsing, errors, pagination, filters, money fields."""

import datetime
import logging
import re

import django_filters
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from django_countries import countries
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import pagination, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cardsystem import money
from cardsystem.card_numbers import contains_pan
from cardsystem.exceptions import NO_FIELD, ConflictError, error_messages
from cardsystem.health import RETRY_AFTER_SECONDS, UNAVAILABLE_DETAIL, database_unavailable

# ISO 3166-1 alpha-2 codes with their names, for every country field of the API.
COUNTRY_CHOICES = [(code, name) for code, name in countries]

logger = logging.getLogger(__name__)

# --- Errors -------------------------------------------------------------------------------


def exception_handler(exc, context):
    """One error shape: 400 {"field": ["message"]}, otherwise {"detail": "message"}."""
    if isinstance(exc, DjangoValidationError):
        return Response(error_messages(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ConflictError):
        # A conflict that names no field answers as DRF's own errors do: {"detail": "message"}.
        body = error_messages(exc) if exc.field else {NO_FIELD: exc.message}
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "The request body is too large."}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    if database_unavailable(exc):
        # Every write is one transaction (services), rolled back by the failure: the
        # client may retry, and with its Idempotency-Key a retry never applies twice.
        logger.warning("The database is unavailable: %s: %s", type(exc).__name__, exc)
        return Response(
            {"detail": UNAVAILABLE_DETAIL},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return drf_exception_handler(exc, context)


# The two bodies an error can have, for the schema.
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": 'Each offending field with its messages: {"field": ["message"]}. Nested '
    'input names its inner fields the same way: {"limits": {"daily": ["message"]}}. A body '
    'that is not JSON at all: {"detail": "message"}.',
    "additionalProperties": {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        ]
    },
    "example": {"amount": ['Give the amount as a decimal string, such as "12.50".']},
}
DETAIL_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_ERROR_DESCRIPTIONS = {
    400: ("The request is malformed or a field is invalid; nothing was written.", VALIDATION_ERROR_SCHEMA),
    401: ("No API key, or an unknown or revoked one.", DETAIL_ERROR_SCHEMA),
    403: ("The API key lacks the scope this endpoint needs.", DETAIL_ERROR_SCHEMA),
    404: ("No such object.", DETAIL_ERROR_SCHEMA),
    409: (
        "The current state does not allow this change, or the Idempotency-Key was used "
        "with another request; the body names the field.",
        VALIDATION_ERROR_SCHEMA,
    ),
    413: ("The request body is over the size limit.", DETAIL_ERROR_SCHEMA),
    415: ("The body is not application/json.", DETAIL_ERROR_SCHEMA),
    503: (
        "The database is briefly unavailable; nothing was written. Retry after the seconds "
        "in the Retry-After header.",
        DETAIL_ERROR_SCHEMA,
    ),
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error statuses an operation can answer, for `extend_schema(responses=...)`.
    Every operation can answer 401, 403 and 503, so they are always included."""
    return {
        code: OpenApiResponse(response=_ERROR_DESCRIPTIONS[code][1], description=_ERROR_DESCRIPTIONS[code][0])
        for code in sorted({401, 403, 503, *codes})
    }


# --- Filters ---------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true` or `false`; anything else is a 400, where django-filter's BooleanFilter
    silently ignores the parameter (and `?is_active=ture` would list everything)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


# --- Pagination -----------------------------------------------------------------------------


# A cursor as DRF encodes one (base64 of its query string), and a bound on its length far
# above any handed out, so that no one makes the server decode a megabyte.
CURSOR_PATTERN = "^[A-Za-z0-9+/]+={0,2}$"
MAX_CURSOR_LENGTH = 256


class CursorPagination(pagination.CursorPagination):
    """Newest first; stable under inserts and cheap on large tables (no COUNT, no OFFSET).

    `?limit=` above the maximum is capped; one that is not a positive integer, or a
    cursor this API did not hand out, is a 400 naming the parameter (DRF would ignore
    the first and answer the second with a 404, as if the list did not exist)."""

    ordering = ("-created_at", "-pk")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request):
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        if not (value.isascii() and value.isdigit() and int(value) > 0):
            raise serializers.ValidationError(
                {self.page_size_query_param: ["Give a whole number of results from 1 up."]}
            )
        return min(int(value), self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        try:
            if encoded is not None and (
                len(encoded) > MAX_CURSOR_LENGTH or not re.fullmatch(CURSOR_PATTERN.strip("^$"), encoded)
            ):
                raise DjangoValidationError("Not a cursor")
            cursor = super().decode_cursor(request)
            if cursor is not None and cursor.position is not None:
                # The position goes into the query: check it is a value of the field
                # it stands for, so that a forged one cannot reach the database.
                if "\x00" in cursor.position:
                    raise DjangoValidationError("NUL byte")
                self._model._meta.get_field(self.ordering[0].lstrip("-")).to_python(cursor.position)
        except (NotFound, DjangoValidationError):
            raise serializers.ValidationError(
                {self.cursor_query_param: ["Invalid cursor: use the next or previous link of a page."]}
            ) from None
        return cursor

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.cursor_query_param:
                # What DRF hands out: base64 of the position. Any other value is a 400.
                parameter["schema"] = {
                    "type": "string",
                    "pattern": CURSOR_PATTERN,
                    "maxLength": MAX_CURSOR_LENGTH,
                }
                parameter["description"] = (
                    "Opaque: the value from the `next` or `previous` link of a page. A cursor this "
                    "API did not hand out is a 400 naming `cursor`."
                )
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Results per page: {self.page_size} unless given, at most {self.max_page_size} "
                    "(a larger number is capped)."
                )
        return parameters


# --- Money ------------------------------------------------------------------------------------

AMOUNT_SCHEMA = {
    "type": "string",
    # Plain decimal notation, greater than zero: "12.50", "1200", "0.05"; not "0", "-5", "1e3".
    "pattern": r"^([1-9][0-9]{0,14}(\.[0-9]+)?|0\.[0-9]*[1-9][0-9]*)$",
    "example": "12.50",
    "description": "Decimal string in major units, greater than zero, with at most the "
    "currency's minor digits (2 for USD, 0 for JPY). A JSON number is rejected.",
}


@extend_schema_field(AMOUNT_SCHEMA)
class AmountField(serializers.Field):
    """A decimal string in major units. Its minor units depend on a currency that the
    serializer knows only later, so `amount_minor()` converts in `validate()`."""

    default_error_messages = {"invalid": 'Give the amount as a decimal string, such as "12.50".'}

    def to_internal_value(self, data):
        try:
            money.parse_amount(data)
        except money.MoneyError:
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


def amount_minor(value: str, currency: str, *, field: str, positive: bool = True) -> int:
    """Convert a validated AmountField value for `currency`, or raise the field's 400."""
    try:
        minor = money.to_minor(value, currency)
    except money.MoneyError as error:
        raise serializers.ValidationError({field: [str(error)]}) from None
    if positive and minor <= 0:
        raise serializers.ValidationError({field: ["Must be greater than zero."]})
    return minor


@extend_schema_field(
    {"type": "string", "example": "12.50", "description": "Decimal string in major units of `currency`."}
)
class MoneyOutputField(serializers.Field):
    """Renders `<amount_attr>` (minor units) of the object as a decimal string in its currency.
    Pass `allow_null=True` where the amount may be absent (the schema then says nullable)."""

    def __init__(self, amount_attr: str, currency_attr: str = "currency", **kwargs):
        self.amount_attr = amount_attr
        self.currency_attr = currency_attr
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, obj):
        value = getattr(obj, self.amount_attr)
        return None if value is None else money.to_major(value, getattr(obj, self.currency_attr))


@extend_schema_field(
    {"type": "string", "enum": [code for code, _ in money.currency_choices()], "example": "USD"}
)
class CurrencyField(serializers.CharField):
    default_error_messages = {"unknown": "Unknown currency: use an ISO 4217 code such as USD."}

    def __init__(self, **kwargs):
        super().__init__(min_length=3, max_length=3, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not money.is_currency(value):
            self.fail("unknown")
        return value


# --- Input ----------------------------------------------------------------------------------


class InputSerializer(serializers.Serializer):
    """Base of every request body: a field the endpoint does not know is an error,
    not silently dropped (a typo in "limits" must not pass as "no limit"); and a text
    field takes a JSON string only, where DRF would turn 411111 into "411111" and
    12.5 into "12.5"."""

    # The fields that carry card data on purpose; every other text field refuses it.
    card_data_fields: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        errors = {}
        if isinstance(data, dict):
            errors.update({name: ["Unknown field."] for name in data if name not in self.fields})
            errors.update(
                {
                    name: ["Not a valid string."]
                    for name, field in self.fields.items()
                    if isinstance(field, serializers.CharField)
                    and data.get(name) is not None
                    and not isinstance(data[name], str)
                }
            )
            errors.update(
                {
                    name: ["This looks like a card number: never write card data here."]
                    for name, field in self.fields.items()
                    if isinstance(field, serializers.CharField)
                    and name not in self.card_data_fields
                    and isinstance(data.get(name), str)
                    and contains_pan(data[name])
                }
            )
            data = {name: value for name, value in data.items() if name not in errors}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            # Every offending field at once; ours win over "This field is required."
            errors = {**error.detail, **errors}
        if errors:
            raise serializers.ValidationError(errors)
        return value


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, not "12" or 12.0 or true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


# Times between the years 2000 and 2100 (as written, before conversion to UTC): a bound
# that keeps every time window computable, and that a schema can state.
DATE_TIME_SCHEMA = {
    "type": "string",
    "format": "date-time",
    "pattern": "^(20[0-9][0-9]|2100)-",
    "example": "2026-11-24T10:15:00Z",
    "description": "ISO 8601 with a time zone, in the years 2000 to 2100.",
}


@extend_schema_field(DATE_TIME_SCHEMA)
class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a time zone. DRF would read a naive time as TIME_ZONE's; the
    contract says times carry their zone, so a naive one is a 400."""

    default_error_messages = {
        "naive": "Give the time zone, as in 2026-11-24T10:15:00Z or +01:00.",
        "range": "Give a time between the years 2000 and 2100.",
    }

    def __init__(self, **kwargs):
        super().__init__(input_formats=["iso-8601"], **kwargs)

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601")
        try:
            parsed = parse_datetime(value.strip()) if len(value) <= 64 else None
        except ValueError:  # well formed, but no such time (month 13, 25 o'clock)
            parsed = None
        if parsed is None:
            self.fail("invalid", format="ISO 8601")
        if parsed.tzinfo is None:
            self.fail("naive")
        if not 2000 <= parsed.year <= 2100:
            self.fail("range")
        # In UTC: PostgreSQL refuses offsets of 16 hours or more, which Python allows.
        return parsed.astimezone(datetime.UTC)


_COUNTRY_CODES = frozenset(code for code, _ in COUNTRY_CHOICES)


@extend_schema_field({"type": "string", "enum": sorted(_COUNTRY_CODES), "example": "US"})
class CountryCodeField(serializers.CharField):
    """An ISO 3166-1 alpha-2 code. A set lookup: a ChoiceField of 249 countries is
    deep-copied with its serializer on every request, which the hot path cannot afford."""

    default_error_messages = {"unknown": '"{value}" is not an ISO 3166-1 alpha-2 country code.'}

    def __init__(self, **kwargs):
        super().__init__(max_length=2, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value not in _COUNTRY_CODES:
            self.fail("unknown", value=value)
        return value
