"""Back-office forms for cardholders and cards.

They check what a person typed (choices, dates, amounts as decimal strings in the
card's currency); the rules of the business stay in cards.services, whose errors the
admin shows on these forms' fields (cardsystem.admin.add_service_errors).
"""

import secrets

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminDateWidget, AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db import transaction

from bins.models import Bin
from cards.models import Card, Cardholder
from cards.services import LIMIT_FIELDS, TRANSITIONS, card_assign, card_set_limits
from cardsystem import money
from cardsystem.admin import add_service_errors
from cardsystem.exceptions import ConflictError

# Form field for each limit the services know ("daily" -> "limit_daily").
LIMIT_FORM_FIELDS = {name: f"limit_{name}" for name in LIMIT_FIELDS}


def amount_field(label: str, *, required: bool, help_text: str = "") -> forms.CharField:
    # A CharField, not a DecimalField: Django's DecimalField accepts "1e3". The amount
    # is checked by cardsystem.money once the currency is known.
    return forms.CharField(label=label, required=required, max_length=20, help_text=help_text)


def _cardholder_widget() -> AutocompleteSelect:
    return AutocompleteSelect(Card._meta.get_field("cardholder"), admin.site)


class LimitFieldsForm(forms.Form):
    """Three optional limits as decimal strings; `limits_minor` converts them for a currency."""

    limit_per_transaction = amount_field("Per-transaction limit", required=False)
    limit_daily = amount_field("Daily limit", required=False)
    limit_monthly = amount_field("Monthly limit", required=False)

    def describe_limits(self, currency_hint: str) -> None:
        for field_name in LIMIT_FORM_FIELDS.values():
            self.fields[field_name].help_text = f"{currency_hint} Empty: no limit."

    def limits_minor(self, currency: str) -> dict[str, int | None] | None:
        """{limit: minor units or None}, or None after adding field errors."""
        limits, valid = {}, True
        for name, field_name in LIMIT_FORM_FIELDS.items():
            value = self.cleaned_data.get(field_name)
            if not value:
                limits[name] = None
                continue
            try:
                limits[name] = money.to_minor(value, currency)
            except money.MoneyError as error:
                self.add_error(field_name, str(error))
                valid = False
        return limits if valid else None


class BinChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, bin):
        return f"{bin} ({bin.currency}, {bin.get_card_type_display().lower()})"


class CardIssueForm(LimitFieldsForm):
    bin = BinChoiceField(
        label="BIN", queryset=Bin.objects.filter(is_active=True), help_text="Only active BINs issue cards."
    )
    cardholder = forms.ModelChoiceField(queryset=Cardholder.objects.all(), widget=_cardholder_widget())
    expiry_month = forms.IntegerField(
        required=False, min_value=1, max_value=12, help_text="Leave both empty for three years from now."
    )
    expiry_year = forms.IntegerField(required=False, min_value=2000, max_value=2100)
    # A fresh token per rendered form: submitting the same form twice (a reload of the
    # confirmation page) must not issue a second card.
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    field_order = ["bin", "cardholder", "expiry_month", "expiry_year"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["token"].initial = secrets.token_urlsafe(24)
        self.describe_limits("In the BIN's currency, e.g. 250.00.")

    def clean(self):
        cleaned = super().clean()
        bin = cleaned.get("bin")
        if bin is not None:
            cleaned["limits"] = self.limits_minor(bin.currency)
        return cleaned


class CardChangeForm(LimitFieldsForm, forms.ModelForm):
    """The only editable parts of a card's page: its limits and, for card stock issued
    in bulk, the cardholder it is handed to.

    The services run in clean(): they validate and write in one transaction, and
    clean() is the last point at which the admin can still show their errors next to
    the fields. The admin's change view wraps all of it in a transaction, and
    CardAdmin.save_model has nothing left to write. CardAdmin sets `actor` and what
    this person may change: a field they may not change is not on the form, so nothing
    posted for it is read.
    """

    assign_to = forms.ModelChoiceField(
        queryset=Cardholder.objects.all(),
        required=False,
        widget=_cardholder_widget(),
        label="Assign to cardholder",
        help_text="This card was issued as stock. Once assigned, activate it with “Change status”.",
    )
    actor = None
    may_change_limits = False
    may_assign = False

    class Meta:
        model = Card
        fields = []  # nothing is written by the form itself

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        card = self.instance
        self.describe_limits(f"In {card.currency}.")
        for name, field_name in LIMIT_FORM_FIELDS.items():
            if not self.may_change_limits:
                del self.fields[field_name]
                continue
            value = getattr(card, LIMIT_FIELDS[name])
            self.fields[field_name].initial = "" if value is None else money.to_major(value, card.currency)
        if card.cardholder_id is not None or not self.may_assign:
            del self.fields["assign_to"]

    def clean(self):
        cleaned = super().clean()
        limits = self.limits_minor(self.instance.currency) if self.may_change_limits else {}
        if self.errors or limits is None:
            return cleaned
        card, holder = self.instance, cleaned.get("assign_to")
        changed = {
            name: value for name, value in limits.items() if value != getattr(card, LIMIT_FIELDS[name])
        }
        try:
            with transaction.atomic():  # limits and assignment together, or neither
                if changed:
                    card_set_limits(card=card, limits=changed, actor=self.actor)
                if holder is not None:
                    card_assign(card=card, cardholder=holder, actor=self.actor)
        except (ValidationError, ConflictError) as error:
            add_service_errors(self, error, field_map={**LIMIT_FORM_FIELDS, "cardholder": "assign_to"})
        return cleaned


class CardStatusForm(forms.Form):
    status = forms.ChoiceField()
    reason = forms.CharField(
        max_length=200, widget=forms.Textarea(attrs={"rows": 3}), help_text="Recorded in the audit log."
    )

    def __init__(self, *args, card: Card, allowed: list[str] | None = None, **kwargs):
        """`allowed`: the statuses this person may choose (default: every transition)."""
        super().__init__(*args, **kwargs)
        allowed = TRANSITIONS[card.status] if allowed is None else allowed
        # No preselected status: a slip of the hand must not reactivate a card.
        self.fields["status"].choices = [("", "---------")] + [
            (value, label) for value, label in Card.Status.choices if value in allowed
        ]
        self.fields["status"].help_text = f"The card is {card.get_status_display().lower()} now."


class CardReplaceForm(forms.Form):
    reason = forms.CharField(
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded in the audit log and as the old card's closing reason.",
    )


class BulkStatusForm(forms.Form):
    reason = forms.CharField(
        max_length=200, widget=forms.Textarea(attrs={"rows": 3}), help_text="Recorded for every card."
    )


class TopUpForm(forms.Form):
    amount = amount_field("Amount", required=True)
    reference = forms.CharField(
        max_length=64, required=False, help_text="Optional, e.g. a payment reference."
    )
    reason = forms.CharField(
        max_length=200, required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Reason for approval"
    )

    def __init__(self, *args, card: Card, approval_above: int, **kwargs):
        """`approval_above`: the amount in minor units above which a second person approves."""
        super().__init__(*args, **kwargs)
        self.currency = card.currency
        places = money.exponent(card.currency)
        example = money.to_major(100 * 10**places, card.currency)
        self.fields["amount"].help_text = (
            f"In {card.currency}, e.g. {example}; at most {places} decimal place(s)."
            if places
            else f"In {card.currency}, a whole amount, e.g. {example}."
        )
        self.fields["reason"].help_text = (
            f"Needed above {money.format_amount(approval_above, card.currency)} (with this card's "
            "manual top-ups today): such a top-up waits for a second person's approval, who reads why."
        )

    def clean_amount(self):
        try:
            return money.to_minor(self.cleaned_data["amount"], self.currency)
        except money.MoneyError as error:
            raise ValidationError(str(error)) from None


class CardholderForm(forms.ModelForm):
    """Field checks from the model; cardholder_create adds the rules (a birth date in the past)."""

    class Meta:
        model = Cardholder
        fields = ["name", "date_of_birth", "country", "email"]
        widgets = {"date_of_birth": AdminDateWidget}
        help_texts = {"date_of_birth": "YYYY-MM-DD, in the past."}
