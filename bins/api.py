import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from bins.models import Bin
from bins.services import bin_create
from cardsystem import money
from cardsystem.api import (
    COUNTRY_CHOICES,
    CurrencyField,
    InputSerializer,
    StrictBooleanFilter,
    StrictIntegerField,
    error_responses,
)
from cardsystem.audit import Actor
from cardsystem.idempotency import idempotent

# [0-9], not \d: \d also matches other scripts' digits (such as fullwidth ones).
BIN_PATTERN = "^([0-9]{6}|[0-9]{8})$"


class BinOutput(serializers.ModelSerializer):
    country = serializers.CharField(source="country.code")

    class Meta:
        model = Bin
        fields = [
            "bin",
            "network",
            "issuer_name",
            "card_type",
            "country",
            "currency",
            "pan_length",
            "is_active",
        ]


class BinFilter(django_filters.FilterSet):
    currency = django_filters.ChoiceFilter(choices=money.currency_choices())
    is_active = StrictBooleanFilter()

    class Meta:
        model = Bin
        fields = ["network", "card_type", "country", "currency", "is_active"]


@extend_schema_view(get=extend_schema(responses={200: BinOutput, **error_responses(400)}))
class BinListCreateApi(generics.ListAPIView):
    required_scope = "manage"
    queryset = Bin.objects.all()
    serializer_class = BinOutput
    filterset_class = BinFilter

    @extend_schema_serializer(component_name="BinCreate")
    class InputSerializer(InputSerializer):
        bin = serializers.RegexField(
            rf"\A{BIN_PATTERN.strip('^$')}\Z",
            trim_whitespace=False,
            error_messages={"invalid": "A BIN is 6 or 8 digits."},
        )
        network = serializers.ChoiceField(choices=Bin.Network.choices)
        issuer_name = serializers.CharField(max_length=100)
        card_type = serializers.ChoiceField(choices=Bin.CardType.choices)
        country = serializers.ChoiceField(choices=COUNTRY_CHOICES)
        currency = CurrencyField()
        pan_length = StrictIntegerField(min_value=12, max_value=19, required=False, default=16)
        is_active = serializers.BooleanField(required=False, default=True)

    @extend_schema(request=InputSerializer, responses={201: BinOutput, **error_responses(400, 409, 413, 415)})
    @idempotent()
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = bin_create(actor=Actor.for_request(request), **data.validated_data)
        return Response(BinOutput(created).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        parameters=[OpenApiParameter("bin", str, OpenApiParameter.PATH, pattern=BIN_PATTERN)],
        responses={200: BinOutput, **error_responses(400, 404)},
    )
)
class BinDetailApi(generics.RetrieveAPIView):
    required_scope = "manage"
    serializer_class = BinOutput

    def get_object(self):
        return get_object_or_404(Bin, bin=self.kwargs["bin"])
