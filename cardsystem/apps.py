from django.apps import AppConfig


class CardsystemConfig(AppConfig):
    name = "cardsystem"
    verbose_name = "System"

    def ready(self):
        from cardsystem import checks, receivers, schema, staff_audit  # noqa: F401  (registers checks, receivers, schema extensions)
        from cardsystem.change_kinds import register_kinds

        register_kinds()
