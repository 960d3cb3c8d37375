from django.apps import AppConfig


class FraudConfig(AppConfig):
    name = "fraud"
    verbose_name = "Fraud"

    def ready(self):
        from fraud import receivers  # noqa: F401  (connects the authorization and cache signals)
        from fraud.change_kinds import register_kinds
        from fraud.dashboard import register_panels
        from fraud.page_sections import register_page_sections

        register_kinds()
        register_panels()
        register_page_sections()
