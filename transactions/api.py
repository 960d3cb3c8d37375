"""Authorizations, reversals, the transaction list and fraud reports (API.md)."""

import copy
import datetime

import django_filters
from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from cardsystem import money
from cardsystem.api import (
    DATE_TIME_SCHEMA,
    AmountField,
    AwareDateTimeField,
    CountryCodeField,
    CurrencyField,
    InputSerializer,
    MoneyOutputField,
    StrictBooleanFilter,
    StrictIntegerField,
    amount_minor,
    error_responses,
)
from cardsystem.audit import Actor
from cardsystem.card_numbers import luhn_valid
from cardsystem.idempotency import idempotent
from cardsystem.models import ApiClient
from transactions import authentication_facts
from transactions.models import FraudReport, Transaction
from transactions.services import (
    AuthorizationRequest,
    authorization_decide,
    authorization_reverse,
    fraud_report_create,
)

MAX_FUTURE = datetime.timedelta(minutes=5)


RISK_LEVEL_SCHEMA = {
    "type": "string",
    "enum": Transaction.RiskLevel.values,
    "nullable": True,
    "description": "low, medium or high; null for an unknown card.",
}


# Renders a time as every DateTimeField of the API does (ISO 8601, the current zone, "Z").
_TIME = serializers.DateTimeField()


def explains(context: dict) -> bool:
    """Whether the answer may carry each factor's detail. Details describe the cardholder
    (home country, earlier purchases, habits), and an authorization's answer goes to
    merchants' and acquirers' systems: only a client with the `manage` scope reads them."""
    client = getattr(context.get("request"), "auth", None)
    return client is not None and client.has_scope(ApiClient.Scope.MANAGE)


class RiskFactorOutput(serializers.Serializer):
    code = serializers.CharField()
    score = serializers.IntegerField()
    detail = serializers.CharField(
        required=False,
        help_text="Why, in words. Only for clients with the `manage` scope: it may describe the cardholder.",
    )

    def to_representation(self, factor):
        data = super().to_representation(factor)
        if not explains(self.context):
            del data["detail"]
        return data


class AuthorizationOutput(serializers.ModelSerializer):
    """The decision, exactly the fields of the contract."""

    risk_score = serializers.IntegerField(
        min_value=0, max_value=100, allow_null=True, help_text="Null for an unknown card."
    )
    risk_level = serializers.SerializerMethodField()
    risk_factors = RiskFactorOutput(many=True)
    amount = MoneyOutputField("amount_minor")

    class Meta:
        model = Transaction
        fields = [
            "id",
            "status",
            "response_code",
            "reason",
            "risk_score",
            "risk_level",
            "risk_factors",
            "flagged",
            "amount",
            "currency",
            "masked_pan",
            "transaction_time",
            "created_at",
        ]

    @extend_schema_field(RISK_LEVEL_SCHEMA)
    def get_risk_level(self, transaction) -> str | None:
        return transaction.risk_level or None

    def to_representation(self, transaction):
        """What the fields above render, written out: a ModelSerializer builds its fields
        from the model for every instance, a cost the hot path cannot afford (bench/README.md).
        A test keeps this equal to the generic rendering."""
        explain = explains(self.context)
        return {
            "id": str(transaction.id),
            "status": str(transaction.status),
            "response_code": str(transaction.response_code),
            "reason": str(transaction.reason),
            "risk_score": None if transaction.risk_score is None else int(transaction.risk_score),
            "risk_level": transaction.risk_level or None,
            "risk_factors": [
                {"code": str(f["code"]), "score": int(f["score"]), "detail": str(f["detail"])}
                if explain
                else {"code": str(f["code"]), "score": int(f["score"])}
                for f in transaction.risk_factors
            ],
            "flagged": bool(transaction.flagged),
            "amount": money.to_major(transaction.amount_minor, transaction.currency),
            "currency": str(transaction.currency),
            "masked_pan": str(transaction.masked_pan),
            "transaction_time": _TIME.to_representation(transaction.transaction_time),
            "created_at": _TIME.to_representation(transaction.created_at),
        }


class TransactionOutput(AuthorizationOutput):
    """The decision and the rest of what was recorded, for the back office."""

    # Every declared field, rendered generically: not the decision's written-out subset.
    to_representation = serializers.Serializer.to_representation

    card = serializers.UUIDField(source="card_id", allow_null=True)
    merchant_country = serializers.CharField(source="merchant_country.code")

    class Meta(AuthorizationOutput.Meta):
        fields = [
            *AuthorizationOutput.Meta.fields[:-1],
            "card",
            "merchant_id",
            "merchant_name",
            "mcc",
            "merchant_country",
            "channel",
            *authentication_facts.STORED,
            "risk_config_version",
            "reversed_at",
            "created_at",
        ]


class AuthorizationApi(APIView):
    required_scope = "authorize"

    @extend_schema_serializer(component_name="Authorization")
    class InputSerializer(InputSerializer):
        card_data_fields = frozenset({"card_number", "cvv"})
        card_number = serializers.RegexField(
            r"\A[0-9]{12,19}\Z",
            max_length=19,
            trim_whitespace=False,
            error_messages={"invalid": "A card number is 12 to 19 digits."},
        )
        expiry_month = StrictIntegerField(min_value=1, max_value=12)
        expiry_year = StrictIntegerField(min_value=2000, max_value=2099)
        cvv = serializers.RegexField(
            r"\A[0-9]{3,4}\Z",
            required=False,
            trim_whitespace=False,
            error_messages={"invalid": "3 or 4 digits."},
        )
        amount = AmountField()
        currency = CurrencyField()
        merchant_id = serializers.CharField(max_length=64)
        merchant_name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
        mcc = serializers.RegexField(
            r"\A[0-9]{4}\Z", trim_whitespace=False, error_messages={"invalid": "An MCC is 4 digits."}
        )
        merchant_country = CountryCodeField()
        channel = serializers.ChoiceField(
            choices=Transaction.Channel.choices, default=Transaction.Channel.POS
        )
        transaction_time = AwareDateTimeField(required=False)
        # Optional, "" when absent: how card and cardholder were authenticated.
        entry_mode, cardholder_verification, three_ds, device_id = (
            authentication_facts.request_fields().values()
        )

        def get_fields(self):
            # Shallow copies where DRF deep-copies, rebuilding each field and its validators
            # on every request. Enough for these flat fields: binding sets attributes
            # of the copy only, and validating only reads what the copies share.
            return {name: copy.copy(field) for name, field in self._declared_fields.items()}

        def validate_card_number(self, value):
            if not luhn_valid(value):
                raise serializers.ValidationError("This is not a valid card number (Luhn check).")
            return value

        def validate_transaction_time(self, value):
            if value > timezone.now() + MAX_FUTURE:
                raise serializers.ValidationError("At most 5 minutes in the future.")
            return value

        def validate(self, attrs):
            attrs["amount_minor"] = amount_minor(attrs.pop("amount"), attrs["currency"], field="amount")
            attrs.setdefault("transaction_time", timezone.now())
            attrs.setdefault("cvv", None)
            return attrs

    @extend_schema(
        request=InputSerializer,
        responses={201: AuthorizationOutput, **error_responses(400, 409, 413, 415)},
        description="Every well-formed request is a decision, recorded and answered 201 "
        "(declines and unknown cards included); a malformed one is a 400 and writes nothing.",
    )
    @idempotent()
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        facts = authentication_facts.from_request(values)
        decided = authorization_decide(request=AuthorizationRequest(**values, **facts), client=request.auth)
        answer = AuthorizationOutput(decided, context={"request": request}).data
        return Response(answer, status=status.HTTP_201_CREATED)


def _transaction_or_404(**lookup) -> Transaction:
    transaction = Transaction.objects.filter(**lookup).first()
    if transaction is None:
        raise NotFound("Not found.")
    return transaction


class AuthorizationReverseApi(APIView):
    required_scope = "authorize"

    @extend_schema(
        request=None,
        responses={201: TransactionOutput, **error_responses(400, 404, 409, 413, 415)},
        description="Reverses an approval once, restoring the balance. Only the API client "
        "that submitted the authorization can reverse it (anyone else: 404).",
    )
    @idempotent()
    def post(self, request, transaction_id):
        # Another client's transaction is not found, not forbidden: its existence is
        # nobody else's business.
        transaction = _transaction_or_404(pk=transaction_id, client=request.auth)
        reversed_ = authorization_reverse(transaction=transaction, actor=Actor.for_request(request))
        answer = TransactionOutput(reversed_, context={"request": request}).data
        return Response(answer, status=status.HTTP_201_CREATED)


class AwareDateTimeFormField(forms.DateTimeField):
    """ISO 8601 with a time zone, for query parameters: a naive time is an error,
    where django-filter would read it in TIME_ZONE."""

    default_error_messages = {
        "invalid": "Give an ISO 8601 time with its zone, such as 2026-11-24T10:15:00Z "
        "(in a URL, encode the + of an offset).",
        "naive": "Give the time zone, as in 2026-11-24T10:15:00Z or +01:00.",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            parsed = parse_datetime(value.strip()) if len(value) <= 64 else None
        except ValueError:  # well formed, but no such time
            parsed = None
        if parsed is None or not 2000 <= parsed.year <= 2100:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if parsed.tzinfo is None:
            raise forms.ValidationError(self.error_messages["naive"], code="naive")
        return parsed.astimezone(datetime.UTC)  # PostgreSQL refuses offsets of 16 h and more


@extend_schema_field(DATE_TIME_SCHEMA)
class AwareDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = AwareDateTimeFormField


class RiskScoreFilter(django_filters.NumberFilter):
    """A whole number 0-100 (a risk score), not any decimal."""

    field_class = forms.IntegerField


class TransactionFilter(django_filters.FilterSet):
    card = django_filters.UUIDFilter(field_name="card_id")
    status = django_filters.ChoiceFilter(choices=Transaction.Status.choices)
    response_code = django_filters.ChoiceFilter(choices=Transaction._meta.get_field("response_code").choices)
    flagged = StrictBooleanFilter()
    min_risk = RiskScoreFilter(field_name="risk_score", lookup_expr="gte", min_value=0, max_value=100)
    since = AwareDateTimeFilter(field_name="transaction_time", lookup_expr="gte")
    until = AwareDateTimeFilter(field_name="transaction_time", lookup_expr="lt")
    merchant_id = django_filters.CharFilter(max_length=64)

    class Meta:
        model = Transaction
        fields = ["card", "status", "response_code", "flagged", "min_risk", "since", "until", "merchant_id"]


@extend_schema_view(get=extend_schema(responses={200: TransactionOutput, **error_responses(400)}))
class TransactionListApi(generics.ListAPIView):
    required_scope = "manage"
    queryset = Transaction.objects.all()
    serializer_class = TransactionOutput
    filterset_class = TransactionFilter


@extend_schema_view(get=extend_schema(responses={200: TransactionOutput, **error_responses(400, 404)}))
class TransactionDetailApi(generics.RetrieveAPIView):
    required_scope = "manage"
    queryset = Transaction.objects.all()
    serializer_class = TransactionOutput
    lookup_url_kwarg = "transaction_id"


class FraudReportOutput(serializers.ModelSerializer):
    transaction = serializers.UUIDField(source="transaction_id")

    class Meta:
        model = FraudReport
        fields = ["id", "transaction", "reason", "reported_at", "created_at"]


class FraudReportApi(APIView):
    required_scope = "manage"

    @extend_schema_serializer(component_name="FraudReportCreate")
    class InputSerializer(InputSerializer):
        reason = serializers.CharField(max_length=200)
        reported_at = AwareDateTimeField(required=False)

    @extend_schema(
        request=InputSerializer,
        responses={201: FraudReportOutput, **error_responses(400, 404, 409, 413, 415)},
        description="Labels the transaction confirmed fraud from `reported_at` (default now; "
        "not in the future, not before the transaction's `transaction_time`). Once per transaction.",
    )
    @idempotent()
    def post(self, request, transaction_id):
        transaction = _transaction_or_404(pk=transaction_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = fraud_report_create(
            transaction=transaction, actor=Actor.for_request(request), **data.validated_data
        )
        return Response(FraudReportOutput(report).data, status=status.HTTP_201_CREATED)
