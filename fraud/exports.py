"""The columns of the fraud alerts' and the cases' exports (cardsystem/exports.py): cards
by their stored masked numbers only, people by their user names."""

from cardsystem.exports import column, external_text
from fraud.models import Case
from transactions.exports import amount, factor_codes


def priority_label(priority: int) -> str:
    return Case.Priority(priority).label


ALERT_COLUMNS = [
    column("id"),
    column("created_at"),
    column("status"),
    column("risk_score"),
    column("risk_level", "transaction__risk_level"),
    column("card", "card__masked_pan"),
    column("card_id"),
    amount("transaction__"),
    column("currency", "transaction__currency"),
    column("merchant_id", "transaction__merchant_id"),
    column("merchant_name", "transaction__merchant_name", write=external_text),
    column("merchant_country", "transaction__merchant_country"),
    column("risk_factors", "transaction__risk_factors", write=factor_codes),
    column("reason"),
    column("assignee", "assignee__username"),
    column("case_id"),
    column("resolved_at"),
    column("resolved_by", "resolved_by__username"),
    column("transaction_id"),
]

CASE_COLUMNS = [
    column("id"),
    column("priority", write=priority_label),
    column("card", "card__masked_pan"),
    column("card_id"),
    # Counted by the case list's own query (fraud/admin/cases.py).
    column("alerts", "alerts_total"),
    column("top_risk", "alerts_top_risk"),
    column("assignee", "assignee__username"),
    column("opened_at"),
    column("due_at"),
    column("resolution"),
    column("resolved_at"),
    column("resolved_by", "resolved_by__username"),
]
