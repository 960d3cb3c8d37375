"""The fraud analysts' back office, one module per concern: the engine's configuration
(settings, rules, country and merchant category lists) and its versions, the alert queue and its
decisions, the case queue, and the fraud model.

Django autodiscovers `fraud.admin`: importing the modules here registers their admins.
"""

from fraud.admin import alerts, cases, configuration, fraud_model, versions  # noqa: F401
