from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django_countries.fields import CountryField

from bins.networks import Network, bin_rule_errors


class Bin(models.Model):
    """A bank identification number: the leading digits of the cards an issuer programme issues."""

    class CardType(models.TextChoices):
        DEBIT = "debit", "Debit"
        CREDIT = "credit", "Credit"
        PREPAID = "prepaid", "Prepaid"

    Network = Network

    bin = models.CharField(
        "BIN",
        max_length=8,
        unique=True,
        validators=[RegexValidator(r"\A([0-9]{6}|[0-9]{8})\Z", "A BIN is 6 or 8 digits.")],
    )
    network = models.CharField(max_length=16, choices=Network.choices)
    issuer_name = models.CharField(max_length=100)
    card_type = models.CharField(max_length=8, choices=CardType.choices)
    country = CountryField(help_text="The issuing country.")
    currency = models.CharField(max_length=3, help_text="ISO 4217 code of the cards' balances.")
    pan_length = models.PositiveSmallIntegerField(
        "PAN length", default=16, validators=[MinValueValidator(12), MaxValueValidator(19)]
    )
    is_active = models.BooleanField("active", default=True, help_text="Inactive BINs issue no new cards.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["bin"]
        verbose_name = "BIN"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pan_length__gte=12, pan_length__lte=19), name="bin_pan_length_12_to_19"
            ),
        ]

    def __str__(self):
        return f"{self.bin} {self.get_network_display()} {self.issuer_name}"

    def clean(self):
        errors = bin_rule_errors(
            bin=self.bin, network=self.network, currency=self.currency, pan_length=self.pan_length
        )
        if errors:
            raise ValidationError(errors)
