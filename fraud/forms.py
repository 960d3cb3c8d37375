"""Back-office forms for the fraud configuration and alert decisions.

The checks are fraud/params.py's, the same ones fraud.services.fraud_config_save
applies: a form shows them on its fields, the service refuses whatever slips past.
"""

import json

from django import forms
from django.contrib.auth import get_user_model

from cardsystem.card_numbers import has_pan_like_run
from fraud.models import Case, FraudSettings, Rule
from fraud.params import describe, param_messages, validate_rule_params, validate_thresholds


class FraudSettingsForm(forms.ModelForm):
    class Meta:
        model = FraudSettings
        fields = ["review_threshold", "decline_threshold", "cvv_failure_limit", "model"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "model" not in self.fields:
            return  # a reader's page: the admin shows every field read-only, without the form's
        # The artifact is large and only the engine reads it.
        self.fields["model"].queryset = self.fields["model"].queryset.defer("artifact")
        self.fields["model"].empty_label = "None: the rules alone decide"

    def clean(self):
        cleaned = super().clean()
        errors = validate_thresholds(
            review=cleaned.get("review_threshold"), decline=cleaned.get("decline_threshold")
        )
        for field, message in errors.items():
            self.add_error(field, message)
        return cleaned


class ParamsField(forms.JSONField):
    """JSON in a textarea, shown indented so that a person can edit it."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


class RuleForm(forms.ModelForm):
    params = ParamsField(label="Thresholds", required=False, widget=forms.Textarea(attrs={"rows": 8}))

    class Meta:
        model = Rule
        fields = ["enabled", "score", "params"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["params"].help_text = describe(self.instance.code)

    def clean_params(self):
        params = self.cleaned_data.get("params")
        # An emptied textarea means "no thresholds", which only param-less rules accept.
        params = {} if params in (None, "") else params
        errors = validate_rule_params(self.instance.code, params)
        if errors:
            raise forms.ValidationError(param_messages(errors))
        return params


class DecisionForm(forms.Form):
    """A note that goes with an analyst's decision on an alert."""

    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Added to the alert's notes with your decision. Card numbers are refused: "
        "write the last four digits.",
    )

    def clean_note(self):
        note = self.cleaned_data["note"].strip()
        if has_pan_like_run(note):
            raise forms.ValidationError("This looks like a card number: write its last four digits only.")
        return note


# --- Cases ----------------------------------------------------------------------------------------


class CaseAssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username"),
        required=False,
        empty_label="Nobody",
    )


class CasePriorityForm(forms.Form):
    priority = forms.TypedChoiceField(choices=Case.Priority.choices, coerce=int)


class CaseCommentForm(forms.Form):
    body = forms.CharField(
        label="Comment",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Added to the case's thread; comments are never changed or deleted.",
    )


class CaseResolveForm(forms.Form):
    resolution = forms.ChoiceField(choices=Case.Resolution.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Added to the thread.",
    )
    block_card = forms.BooleanField(required=False, help_text="Only with confirmed fraud.")
    # Set by the confirmation step: blocking a card is asked once more before it happens.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
