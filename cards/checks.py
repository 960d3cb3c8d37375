"""System checks on the card data itself: is any of it under a key the configuration
lacks, or still under an older one? Run with the database checks (`migrate`, and
`manage.py check --database default`). And the top-up approval amount's form."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

from cards import pan as card_data
from cards.models import Card
from cardsystem import money
from cardsystem.models import DataKey


@register()
def check_top_up_approval_amount(app_configs, **kwargs):
    """TOP_UP_APPROVAL_ABOVE must be a plain decimal amount, or no top-up could be compared with it."""
    try:
        money.parse_amount(settings.TOP_UP_APPROVAL_ABOVE)
    except money.MoneyError:
        return [
            Error(
                f"TOP_UP_APPROVAL_ABOVE is malformed: {settings.TOP_UP_APPROVAL_ABOVE!r}.",
                hint='Give an amount in major units as a plain decimal string, such as "1000.00".',
                id="cards.E001",
            )
        ]
    return []


@register(Tags.database)
def check_card_data_keys_in_use(app_configs, databases=None, **kwargs):
    if not databases:
        return []
    try:
        in_use = {
            *Card.objects.order_by().values_list("pan_key_id", flat=True).distinct(),
            *DataKey.objects.order_by().values_list("wrapping_key_id", flat=True).distinct(),
        }
    except DatabaseError:  # not migrated yet: nothing to say
        return []
    current, *old = card_data.configured_key_ids()
    unknown = sorted(in_use - {current, *old})
    older = sorted(in_use & set(old))
    warnings = []
    if unknown:
        warnings.append(
            Warning(
                f"Card data is under key id(s) {', '.join(unknown)}, neither CARD_DATA_KEY nor in "
                "CARD_DATA_OLD_KEYS: those cards cannot be found, read or authorized.",
                hint="Put the key(s) back in CARD_DATA_OLD_KEYS, then run manage.py rotate_card_key.",
                id="cards.W001",
            )
        )
    if older:
        warnings.append(
            Warning(
                f"Card data is still under the older key id(s) {', '.join(older)} of CARD_DATA_OLD_KEYS.",
                hint="Run manage.py rotate_card_key, and keep CARD_DATA_OLD_KEYS until it says it can "
                "be emptied.",
                id="cards.W002",
            )
        )
    return warnings
