from django.urls import path

from cards.api import (
    CardDetailApi,
    CardholderDetailApi,
    CardholderListCreateApi,
    CardListCreateApi,
    CardReplaceApi,
    CardTopUpApi,
)

urlpatterns = [
    path("cardholders/", CardholderListCreateApi.as_view(), name="cardholder-list"),
    path("cardholders/<uuid:cardholder_id>/", CardholderDetailApi.as_view(), name="cardholder-detail"),
    path("cards/", CardListCreateApi.as_view(), name="card-list"),
    path("cards/<uuid:card_id>/", CardDetailApi.as_view(), name="card-detail"),
    path("cards/<uuid:card_id>/replace/", CardReplaceApi.as_view(), name="card-replace"),
    path("cards/<uuid:card_id>/top-ups/", CardTopUpApi.as_view(), name="card-top-up"),
]
