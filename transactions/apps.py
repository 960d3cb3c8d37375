from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"

    def ready(self):
        from transactions.dashboard import register_panels
        from transactions.page_sections import register_page_sections

        register_panels()
        register_page_sections()

    def warm_up(self):
        """At a server process's start (cardsystem/warmup.py): validate and render one
        sample authorization in memory (no database), what the first request would
        otherwise set up (validators, currency and country tables, the rendering)."""
        from django.utils import timezone

        from transactions.api import AuthorizationApi, AuthorizationOutput
        from transactions.models import Transaction

        now = timezone.now()
        data = AuthorizationApi.InputSerializer(
            data={
                "card_number": "4000001234567899",
                "expiry_month": 12,
                "expiry_year": now.year + 1,
                "cvv": "123",
                "amount": "1.00",
                "currency": "USD",
                "merchant_id": "M-WARM-UP",
                "mcc": "5411",
                "merchant_country": "US",
                "transaction_time": now.isoformat(),
            }
        )
        data.is_valid(raise_exception=True)
        sample = Transaction(
            amount_minor=data.validated_data["amount_minor"],
            currency="USD",
            masked_pan="400000******7899",
            transaction_time=now,
            created_at=now,
            status=Transaction.Status.APPROVED,
            response_code="00",
            reason="approved",
            risk_score=0,
            risk_factors=[{"code": "warm_up", "score": 0, "detail": ""}],
        )
        AuthorizationOutput(sample, context={}).data  # noqa: B018  (rendering it is the point)
