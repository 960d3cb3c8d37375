import datetime

import django_filters
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_serializer, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cards.pan import luhn_valid
from cardsystem.api import (
    COUNTRY_CHOICES,
    AmountField,
    AwareDateTimeField,
    CurrencyField,
    InputSerializer,
    MoneyOutputField,
    StrictBooleanFilter,
    StrictIntegerField,
    amount_minor,
    error_responses,
)
from cardsystem.audit import Actor
from cardsystem.idempotency import idempotent
from transactions.models import FraudReport, Transaction
from transactions.services import (
    AuthorizationRequest,
    authorization_decide,
    authorization_reverse,
    fraud_report_create,
)

MAX_FUTURE = datetime.timedelta(minutes=5)


class RiskFactorOutput(serializers.Serializer):
    code = serializers.CharField()
    score = serializers.IntegerField()
    detail = serializers.CharField()


class TransactionOutput(serializers.ModelSerializer):
    card = serializers.UUIDField(source="card_id", allow_null=True)
    amount = MoneyOutputField("amount_minor")
    risk_level = serializers.SerializerMethodField()
    risk_factors = RiskFactorOutput(many=True)
    merchant_country = serializers.CharField(source="merchant_country.code")

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
            "card",
            "merchant_id",
            "merchant_name",
            "mcc",
            "merchant_country",
            "channel",
            "transaction_time",
            "reversed_at",
            "created_at",
        ]

    def get_risk_level(self, transaction) -> str | None:
        return transaction.risk_level or None


class AuthorizationApi(APIView):
    required_scope = "authorize"

    @extend_schema_serializer(component_name="Authorization")
    class InputSerializer(InputSerializer):
        card_number = serializers.CharField(max_length=19, trim_whitespace=False)
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
        merchant_country = serializers.ChoiceField(choices=COUNTRY_CHOICES)
        channel = serializers.ChoiceField(
            choices=Transaction.Channel.choices, default=Transaction.Channel.POS
        )
        transaction_time = AwareDateTimeField(required=False)

        def validate_card_number(self, value):
            if not (value.isascii() and value.isdigit() and 12 <= len(value) <= 19):
                raise serializers.ValidationError("A card number is 12 to 19 digits.")
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
        request=InputSerializer, responses={201: TransactionOutput, **error_responses(400, 409, 413, 415)}
    )
    @idempotent()
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = authorization_decide(
            request=AuthorizationRequest(**data.validated_data), client=request.auth
        )
        return Response(TransactionOutput(decided).data, status=status.HTTP_201_CREATED)


class AuthorizationReverseApi(APIView):
    required_scope = "authorize"

    @extend_schema(request=None, responses={201: TransactionOutput, **error_responses(404, 409)})
    @idempotent()
    def post(self, request, transaction_id):
        transaction = get_object_or_404(Transaction, pk=transaction_id)
        if transaction.client_id not in (None, request.auth.pk):
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        reversed_ = authorization_reverse(transaction=transaction, actor=Actor.for_request(request))
        return Response(TransactionOutput(reversed_).data, status=status.HTTP_201_CREATED)


class TransactionFilter(django_filters.FilterSet):
    card = django_filters.UUIDFilter(field_name="card_id")
    status = django_filters.ChoiceFilter(choices=Transaction.Status.choices)
    response_code = django_filters.ChoiceFilter(choices=Transaction._meta.get_field("response_code").choices)
    flagged = StrictBooleanFilter()
    min_risk = django_filters.NumberFilter(
        field_name="risk_score", lookup_expr="gte", min_value=0, max_value=100
    )
    since = django_filters.IsoDateTimeFilter(field_name="transaction_time", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="transaction_time", lookup_expr="lt")
    merchant_id = django_filters.CharFilter()

    class Meta:
        model = Transaction
        fields = ["card", "status", "response_code", "flagged", "min_risk", "since", "until", "merchant_id"]


@extend_schema_view(get=extend_schema(responses={200: TransactionOutput, **error_responses(400)}))
class TransactionListApi(generics.ListAPIView):
    required_scope = "manage"
    queryset = Transaction.objects.all()
    serializer_class = TransactionOutput
    filterset_class = TransactionFilter


@extend_schema_view(get=extend_schema(responses={200: TransactionOutput, **error_responses(404)}))
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
    )
    @idempotent()
    def post(self, request, transaction_id):
        transaction = get_object_or_404(Transaction, pk=transaction_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = fraud_report_create(
            transaction=transaction, actor=Actor.for_request(request), **data.validated_data
        )
        return Response(FraudReportOutput(report).data, status=status.HTTP_201_CREATED)
