from django.urls import path

from transactions.api import (
    AuthorizationApi,
    AuthorizationReverseApi,
    FraudReportApi,
    TransactionDetailApi,
    TransactionListApi,
)

urlpatterns = [
    path("authorizations/", AuthorizationApi.as_view(), name="authorization"),
    path(
        "authorizations/<uuid:transaction_id>/reverse/",
        AuthorizationReverseApi.as_view(),
        name="authorization-reverse",
    ),
    path("transactions/", TransactionListApi.as_view(), name="transaction-list"),
    path("transactions/<uuid:transaction_id>/", TransactionDetailApi.as_view(), name="transaction-detail"),
    path(
        "transactions/<uuid:transaction_id>/fraud-report/",
        FraudReportApi.as_view(),
        name="transaction-fraud-report",
    ),
]
