from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize

from cards.models import Card
from cards.services import ledger_mismatches
from cardsystem.money import format_amount


class Command(BaseCommand):
    help = (
        "Check that every card's balance equals the sum of its ledger entries. Lists each card that "
        "differs (by masked PAN) and exits non-zero if any does."
    )

    def handle(self, *args, **options):
        mismatches = list(ledger_mismatches())
        for card in mismatches:
            balance = format_amount(card.balance_minor, card.currency)
            ledger_sum = format_amount(int(card.ledger_sum_minor), card.currency)
            self.stderr.write(
                f"Card {card.pk} {card.masked_pan}: balance {balance}, ledger entries sum to {ledger_sum}."
            )
        if mismatches:
            count = len(mismatches)
            raise CommandError(
                f"{count} card{pluralize(count)} {pluralize(count, 'has,have')} a balance that differs "
                "from the sum of its ledger entries."
            )
        total = Card.objects.count()
        self.stdout.write(
            f"Ledger verified: {total} card{pluralize(total)}, all balances equal the sum of their entries."
        )
