"""The back office's forms for API clients (cardsystem/admin.py); the services check the rest."""

from django import forms

from cardsystem.models import ApiClient


class ApiClientForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Who calls the API, e.g. “Acquirer gateway”.")
    scopes = forms.MultipleChoiceField(
        choices=ApiClient.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Give the client only the scopes it needs.",
    )
    expires_in_days = forms.IntegerField(
        min_value=1,
        required=False,
        help_text="Counted from the approval. Leave empty for a key that does not expire.",
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the client is needed: a second person reads it before approving.",
    )


class ApiKeyRotationForm(forms.Form):
    overlap_hours = forms.IntegerField(
        min_value=0,
        initial=24,
        help_text="How long the current key keeps working beside the new one (at most 30 days).",
    )
    expires_in_days = forms.IntegerField(
        min_value=1, required=False, help_text="Leave empty for a new key that does not expire."
    )


class ApiClientRateLimitsForm(forms.Form):
    """One rate per scope of the client; the service checks them and names the scope."""

    def __init__(self, *args, scopes: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        for scope in scopes:
            self.fields[scope] = forms.CharField(
                label=f"{scope} rate",
                required=False,
                max_length=32,
                help_text='Requests per second, minute or hour, such as "50/second" or "1000/minute". '
                "Empty: no limit.",
            )
