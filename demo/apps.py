from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The traffic simulator and the demo data (seed_demo, simulate_traffic, demo_credentials).

    Tools that drive the system from outside, through the same services the API and the
    admin call, so that what they write is what real use would write. Nothing here is part
    of a decision: the detection code in `fraud` never imports this app, which keeps the
    engine free of knowledge of how the test worlds are made. It has no models.
    """

    name = "demo"
    verbose_name = "Demo"
