"""What every API view shares: authentication, scopes, errors, pagination, money fields."""

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import pagination, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cardsystem import money
from cardsystem.exceptions import ConflictError

# --- Errors -------------------------------------------------------------------------------


def exception_handler(exc, context):
    """One error shape: 400 {"field": ["message"]}, otherwise {"detail": "message"}."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ConflictError):
        return Response(exc.message_dict, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "The request body is too large."}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    return drf_exception_handler(exc, context)


# --- Pagination -----------------------------------------------------------------------------


class CursorPagination(pagination.CursorPagination):
    """Newest first; stable under inserts and cheap on large tables (no COUNT, no OFFSET)."""

    ordering = ("-created_at", "-pk")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


# --- Money ------------------------------------------------------------------------------------

AMOUNT_SCHEMA = {
    "type": "string",
    "pattern": r"^(0|[1-9][0-9]{0,14})(\.[0-9]+)?$",
    "example": "12.50",
    "description": "Decimal string in major units, at most the currency's minor digits.",
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


@extend_schema_field({"type": "string", "nullable": True, "example": "12.50"})
class MoneyOutputField(serializers.Field):
    """Renders `<amount_attr>` (minor units) of the object as a decimal string in its currency."""

    def __init__(self, amount_attr: str, currency_attr: str = "currency", **kwargs):
        self.amount_attr = amount_attr
        self.currency_attr = currency_attr
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, obj):
        value = getattr(obj, self.amount_attr)
        return None if value is None else money.to_major(value, getattr(obj, self.currency_attr))


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
    not silently dropped (a typo in "limits" must not pass as "no limit")."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, not "12" or 12.0 or true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)
