"""The transactions app's services: authorizations (decide, record, debit), their
reversal, and fraud reports. Import them from here; each module holds one of the three.
"""

from transactions.services.authorizations import (
    RISK_ENGINE_FAILED,
    AuthorizationRequest,
    authorization_decide,
    combine_assessments,
)
from transactions.services.fraud_reports import fraud_report_create
from transactions.services.reversals import authorization_reverse

__all__ = [
    "RISK_ENGINE_FAILED",
    "AuthorizationRequest",
    "authorization_decide",
    "authorization_reverse",
    "combine_assessments",
    "fraud_report_create",
]
