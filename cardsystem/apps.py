from django.apps import AppConfig
from django.conf import settings
from django.utils.module_loading import import_string


class CardsystemConfig(AppConfig):
    name = "cardsystem"
    verbose_name = "System"

    def ready(self):
        from cardsystem import checks, receivers, schema, staff_audit  # noqa: F401  (registers checks, receivers, schema extensions)
        from cardsystem.change_kinds import register_kinds
        from cardsystem.sql import cache_statement_parses

        register_kinds()
        if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
            cache_statement_parses()

    def warm_up(self):
        """At a server process's start (cardsystem/warmup.py): the database connection and
        every table's description on it, the URL resolver (every app's urls and views
        imported), DRF's classes, the message storage the middleware imports at its first
        request, and the data keys (last: a key the configuration cannot unwrap fails here,
        and the step with it)."""
        from cardsystem import data_keys
        from cardsystem.warmup import connect_databases, load_api_settings, load_urls, touch_tables

        connect_databases()
        touch_tables()
        load_urls()
        load_api_settings()
        import_string(settings.MESSAGE_STORAGE)
        data_keys.unwrap_all()
