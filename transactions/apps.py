from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"

    def ready(self):
        from transactions.dashboard import register_panels
        from transactions.page_sections import register_page_sections

        register_panels()
        register_page_sections()
