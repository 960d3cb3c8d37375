"""Which staff permission each change of a card needs in the back office. The custom
permissions are declared in Card.Meta; the roles that hold them in cardsystem/roles.py.
The API is not concerned: an API client's scope decides there."""

from cards.models import Card
from cards.services import TRANSITIONS

Status = Card.Status

ISSUE = "cards.add_card"
# Handing a stock card to a cardholder, and ending a card (expired, closed): the
# card-operations permission.
CHANGE = "cards.change_card"
TOP_UP = "cards.top_up_card"
BLOCK = "cards.block_card"
UNBLOCK = "cards.unblock_card"
CHANGE_LIMITS = "cards.change_card_limits"
REPLACE = "cards.replace_card"

_STOPPED = frozenset({Status.BLOCKED, Status.LOST, Status.STOLEN})


def status_permission(current: str, status: str) -> str:
    """The permission moving a card from `current` to `status` needs: stopping it
    (blocked, lost, stolen, or inactive from active) needs block_card; letting it spend
    again (active, or inactive out of blocked) needs unblock_card; ending it (expired,
    closed) needs change_card."""
    if status in _STOPPED:
        return BLOCK
    if status == Status.ACTIVE or (status == Status.INACTIVE and current == Status.BLOCKED):
        return UNBLOCK
    if status == Status.INACTIVE:
        return BLOCK
    return CHANGE


def statuses_allowed(user, card: Card) -> list[str]:
    """The statuses `user` may move `card` to, in the order of Card.Status."""
    allowed = TRANSITIONS[card.status]
    return [
        status
        for status in Status.values
        if status in allowed and user.has_perm(status_permission(card.status, status))
    ]


def may_change_status(user) -> bool:
    """Whether the status page is for `user` at all."""
    return user.has_perm(BLOCK) or user.has_perm(UNBLOCK) or user.has_perm(CHANGE)
