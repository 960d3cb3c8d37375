from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"

    def ready(self):
        from transactions.dashboard import register_panels

        register_panels()
