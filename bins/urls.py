from django.urls import path

from bins.api import BinDetailApi, BinListCreateApi

urlpatterns = [
    path("bins/", BinListCreateApi.as_view(), name="bin-list"),
    path("bins/<str:bin>/", BinDetailApi.as_view(), name="bin-detail"),
]
