from django.apps import AppConfig


class FraudConfig(AppConfig):
    name = "fraud"
    verbose_name = "Fraud"

    def ready(self):
        from cardsystem.metrics import add_scrape_source
        from fraud import receivers  # noqa: F401  (connects the authorization and cache signals)
        from fraud.change_kinds import register_kinds
        from fraud.dashboard import register_panels
        from fraud.metric_sources import fraud_gauges
        from fraud.page_sections import register_page_sections

        register_kinds()
        register_panels()
        register_page_sections()
        add_scrape_source(fraud_gauges)

    def warm_up(self):
        """At a server process's start (cardsystem/warmup.py): the live configuration
        version and its model, LightGBM imported and the model parsed, with one prediction
        so that the first decision's is not the first; the countries' time zones."""
        from fraud import home_time, inference, scoring

        home_time.home_time_zones()
        scoring.load_config()
        model = inference.active_model()
        if model is not None:
            inference.predict(model, {})
