from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"

    def ready(self):
        from transactions.page_sections import register_page_sections

        register_page_sections()
