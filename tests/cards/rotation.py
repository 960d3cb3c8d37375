"""What the key rotation tests share: a new CARD_DATA_KEY, the rotation, and the old
key's removal, each followed by what a restarted server would know."""

from cardsystem import process_cache

NEW_KEY = "the-next-card-data-key-of-at-least-32-characters"


def restart() -> None:
    """Forget every key and secret this process holds, as a server restarted with the
    new configuration would: what follows reads them from the database again."""
    process_cache.forget_all()


def configure_new_key(settings) -> str:
    """Step 1 of a rotation: the new key current, the old one in CARD_DATA_OLD_KEYS.
    Returns the old key."""
    old = settings.CARD_DATA_KEY
    settings.CARD_DATA_OLD_KEYS = [old]
    settings.CARD_DATA_KEY = NEW_KEY
    restart()
    return old


def remove_old_keys(settings) -> None:
    """The last step: CARD_DATA_OLD_KEYS emptied, every server restarted."""
    settings.CARD_DATA_OLD_KEYS = []
    restart()
