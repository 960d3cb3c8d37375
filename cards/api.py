from contextlib import contextmanager

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from bins.models import Bin
from cards.models import Card, Cardholder, LedgerEntry
from cards.services import (
    LIMIT_FIELDS,
    card_credentials,
    card_issue,
    card_replace,
    card_top_up,
    card_update,
    cardholder_create,
)
from cardsystem import money
from cardsystem.api import (
    COUNTRY_CHOICES,
    AmountField,
    InputSerializer,
    MoneyOutputField,
    StrictIntegerField,
    amount_minor,
    error_responses,
)
from cardsystem.audit import Actor
from cardsystem.idempotency import idempotent

# --- Cardholders ----------------------------------------------------------------------


class CardholderOutput(serializers.ModelSerializer):
    country = serializers.CharField(source="country.code")

    class Meta:
        model = Cardholder
        fields = ["id", "name", "date_of_birth", "country", "email", "created_at"]


class CardholderFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Cardholder
        fields = ["country", "name"]


@extend_schema_view(get=extend_schema(responses={200: CardholderOutput, **error_responses(400)}))
class CardholderListCreateApi(generics.ListAPIView):
    required_scope = "manage"
    queryset = Cardholder.objects.all()
    serializer_class = CardholderOutput
    filterset_class = CardholderFilter

    @extend_schema_serializer(component_name="CardholderCreate")
    class InputSerializer(InputSerializer):
        name = serializers.CharField(max_length=100)
        date_of_birth = serializers.DateField(input_formats=["iso-8601"])
        country = serializers.ChoiceField(choices=COUNTRY_CHOICES)
        email = serializers.EmailField(required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer, responses={201: CardholderOutput, **error_responses(400, 409, 413, 415)}
    )
    @idempotent()
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cardholder = cardholder_create(actor=Actor.for_request(request), **data.validated_data)
        return Response(CardholderOutput(cardholder).data, status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(responses={200: CardholderOutput, **error_responses(400, 404)}))
class CardholderDetailApi(generics.RetrieveAPIView):
    required_scope = "manage"
    queryset = Cardholder.objects.all()
    serializer_class = CardholderOutput
    lookup_url_kwarg = "cardholder_id"


# --- Cards ------------------------------------------------------------------------------------


class LimitsOutput(serializers.Serializer):
    per_transaction = MoneyOutputField("limit_per_transaction_minor", allow_null=True)
    daily = MoneyOutputField("limit_daily_minor", allow_null=True)
    monthly = MoneyOutputField("limit_monthly_minor", allow_null=True)


class CardOutput(serializers.ModelSerializer):
    bin = serializers.CharField(source="bin.bin")
    cardholder = serializers.UUIDField(source="cardholder_id", allow_null=True)
    balance = MoneyOutputField("balance_minor")
    limits = LimitsOutput(source="*")
    replaces = serializers.UUIDField(source="replaces_id", allow_null=True, read_only=True)
    replaced_by = serializers.SerializerMethodField()

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_replaced_by(self, card) -> str | None:
        successor = getattr(card, "replaced_by", None)  # a reverse one-to-one: absent raises
        return str(successor.pk) if successor else None

    class Meta:
        model = Card
        fields = [
            "id",
            "masked_pan",
            "last4",
            "bin",
            "cardholder",
            "expiry_month",
            "expiry_year",
            "status",
            "status_reason",
            "balance",
            "currency",
            "limits",
            "replaces",
            "replaced_by",
            "created_at",
            "updated_at",
        ]


class IssuedCardOutput(CardOutput):
    """The issuing response: the only output that ever holds the full PAN and CVV."""

    pan = serializers.CharField()
    cvv = serializers.CharField()

    class Meta(CardOutput.Meta):
        fields = [*CardOutput.Meta.fields, "pan", "cvv"]


class LimitsInput(InputSerializer):
    per_transaction = AmountField(required=False, allow_null=True)
    daily = AmountField(required=False, allow_null=True)
    monthly = AmountField(required=False, allow_null=True)


def limits_minor(limits: dict, currency: str) -> dict[str, int | None]:
    """Decimal strings of a validated LimitsInput to minor units of `currency`.
    Errors come nested, like the LimitsInput's own: {"limits": {"daily": [...]}}."""
    converted, errors = {}, {}
    for name, value in limits.items():
        try:
            converted[name] = None if value is None else amount_minor(value, currency, field=name)
        except serializers.ValidationError as error:
            errors.update(error.detail)
    if errors:
        raise serializers.ValidationError({"limits": errors})
    return converted


@contextmanager
def limit_errors_nested():
    """The services name a limit on its own ("daily"); the API names it inside
    "limits", as the request does: {"limits": {"daily": [...]}}."""
    try:
        yield
    except DjangoValidationError as error:
        if not hasattr(error, "error_dict") or not set(error.message_dict) & set(LIMIT_FIELDS):
            raise
        errors = error.message_dict
        nested = {name: errors.pop(name) for name in list(errors) if name in LIMIT_FIELDS}
        raise serializers.ValidationError({**errors, "limits": nested}) from None


class CardFilter(django_filters.FilterSet):
    bin = django_filters.CharFilter(field_name="bin__bin")
    cardholder = django_filters.UUIDFilter(field_name="cardholder_id")
    status = django_filters.ChoiceFilter(choices=Card.Status.choices)
    currency = django_filters.ChoiceFilter(choices=money.currency_choices())
    last4 = django_filters.CharFilter()

    class Meta:
        model = Card
        fields = ["bin", "cardholder", "status", "currency", "last4"]


def _drop_card_data(body: dict) -> dict:
    return {name: value for name, value in body.items() if name not in ("pan", "cvv")}


def _restore_card_data(body: dict) -> dict:
    """The stored first response, with only the PAN and CVV re-derived from the card
    (the rest stays as first answered, even if the card has changed since)."""
    credentials = card_credentials(Card.objects.get(pk=body["id"]))
    return {**body, "pan": credentials.pan, "cvv": credentials.cvv}


@extend_schema_view(get=extend_schema(responses={200: CardOutput, **error_responses(400)}))
class CardListCreateApi(generics.ListAPIView):
    required_scope = "manage"
    queryset = Card.objects.select_related("bin", "replaced_by")
    serializer_class = CardOutput
    filterset_class = CardFilter

    @extend_schema_serializer(component_name="CardIssue")
    class InputSerializer(InputSerializer):
        bin = serializers.CharField(max_length=8)
        cardholder = serializers.UUIDField()
        expiry_month = StrictIntegerField(min_value=1, max_value=12, required=False)
        expiry_year = StrictIntegerField(min_value=2000, max_value=2100, required=False)
        limits = LimitsInput(required=False)

        def validate_bin(self, value):
            try:
                return Bin.objects.get(bin=value)
            except Bin.DoesNotExist:
                raise serializers.ValidationError("No BIN with this number.") from None

        def validate_cardholder(self, value):
            try:
                return Cardholder.objects.get(pk=value)
            except Cardholder.DoesNotExist:
                raise serializers.ValidationError("No cardholder with this id.") from None

        def validate(self, attrs):
            attrs["limits"] = limits_minor(attrs.get("limits", {}), attrs["bin"].currency)
            return attrs

    @extend_schema(
        request=InputSerializer, responses={201: IssuedCardOutput, **error_responses(400, 409, 413, 415)}
    )
    @idempotent(store=_drop_card_data, replay=_restore_card_data)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with limit_errors_nested():
            issued = card_issue(actor=Actor.for_request(request), **data.validated_data)
        card = issued.card
        card.pan, card.cvv = issued.pan, issued.cvv
        response = Response(IssuedCardOutput(card).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


@extend_schema_view(get=extend_schema(responses={200: CardOutput, **error_responses(400, 404)}))
class CardDetailApi(generics.RetrieveAPIView):
    required_scope = "manage"
    queryset = Card.objects.select_related("bin", "replaced_by")
    serializer_class = CardOutput
    lookup_url_kwarg = "card_id"

    @extend_schema_serializer(component_name="CardUpdate")
    class InputSerializer(InputSerializer):
        status = serializers.ChoiceField(choices=Card.Status.choices, required=False)
        reason = serializers.CharField(max_length=200, required=False)
        limits = LimitsInput(required=False)

    @extend_schema(
        request=InputSerializer, responses={200: CardOutput, **error_responses(400, 404, 409, 413, 415)}
    )
    def patch(self, request, card_id):
        card = self.get_object()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if not fields:
            raise serializers.ValidationError(
                {"detail": ["Give a status (with a reason) or limits to change."]}
            )
        if "status" in fields and not fields.get("reason"):
            raise serializers.ValidationError({"reason": ["Say why the status changes."]})
        limits = limits_minor(fields["limits"], card.currency) if "limits" in fields else None
        with limit_errors_nested():
            card = card_update(
                card=card,
                actor=Actor.for_request(request),
                status=fields.get("status"),
                reason=fields.get("reason"),
                limits=limits,
            )
        return Response(CardOutput(card).data)


class CardReplaceApi(APIView):
    """A new card for the old one's cardholder, BIN, limits and balance; the old card is
    closed. The 201 is the replacement's issuing response: its PAN and CVV, once."""

    required_scope = "manage"

    @extend_schema_serializer(component_name="CardReplace")
    class InputSerializer(InputSerializer):
        reason = serializers.CharField(max_length=200)

    @extend_schema(
        request=InputSerializer, responses={201: IssuedCardOutput, **error_responses(400, 404, 409, 413, 415)}
    )
    @idempotent(store=_drop_card_data, replay=_restore_card_data)
    def post(self, request, card_id):
        card = get_object_or_404(Card, pk=card_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = card_replace(
            card=card, reason=data.validated_data["reason"], actor=Actor.for_request(request)
        )
        new = issued.card
        new.pan, new.cvv = issued.pan, issued.cvv
        response = Response(IssuedCardOutput(new).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


# --- Top-ups ----------------------------------------------------------------------------------


class TopUpOutput(serializers.ModelSerializer):
    card = serializers.UUIDField(source="card_id")
    amount = MoneyOutputField("amount_minor")
    balance = MoneyOutputField("balance_after_minor")

    class Meta:
        model = LedgerEntry
        fields = ["id", "card", "amount", "currency", "balance", "reference", "created_at"]


class CardTopUpApi(APIView):
    required_scope = "manage"

    @extend_schema_serializer(component_name="TopUp")
    class InputSerializer(InputSerializer):
        amount = AmountField()
        reference = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)

    @extend_schema(
        request=InputSerializer, responses={201: TopUpOutput, **error_responses(400, 404, 409, 413, 415)}
    )
    @idempotent()
    def post(self, request, card_id):
        card = get_object_or_404(Card, pk=card_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = card_top_up(
            card=card,
            amount_minor=amount_minor(data.validated_data["amount"], card.currency, field="amount"),
            actor=Actor.for_request(request),
            reference=data.validated_data["reference"],
        )
        return Response(TopUpOutput(entry).data, status=status.HTTP_201_CREATED)
