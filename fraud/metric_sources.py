"""The fraud app's scrape-time gauges (defined in cardsystem/metrics.py), read when
/metrics is scraped: two cheap queries, registered from FraudConfig.ready().

The backlog is one aggregate over the unresolved alerts (the status index leads), the
versions one row: the live configuration version with its model's version read from its
snapshot. Both come from the database, not from this process's cached configuration: a
promotion shows at the next scrape, whichever worker answers it.
"""

from django.db.models import Count, Min, Q
from django.utils import timezone

from cardsystem import metrics
from fraud.models import FraudAlert, FraudConfigVersion

UNRESOLVED = (FraudAlert.Status.OPEN, FraudAlert.Status.INVESTIGATING)


def fraud_gauges() -> metrics.ScrapeValues:
    backlog = FraudAlert.objects.filter(status__in=UNRESOLVED).aggregate(
        oldest=Min("created_at"), **{status: Count("pk", filter=Q(status=status)) for status in UNRESOLVED}
    )
    oldest = backlog["oldest"]
    live = (
        FraudConfigVersion.objects.filter(state=FraudConfigVersion.State.LIVE)
        .values_list("number", "snapshot__model__version")
        .first()
    )
    number, model_version = live if live is not None else (0, None)
    return {
        metrics.FRAUD_ALERTS_UNRESOLVED: {(str(status),): backlog[status] for status in UNRESOLVED},
        metrics.FRAUD_ALERT_OLDEST_AGE: (timezone.now() - oldest).total_seconds() if oldest else 0,
        metrics.FRAUD_CONFIG_VERSION: number,
        metrics.FRAUD_MODEL_VERSION: int(model_version or 0),
    }
