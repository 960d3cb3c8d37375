"""The back office's forms for API clients (cardsystem/admin.py); the services check the rest."""

from django import forms

from cardsystem.models import ApiClient


def _key_expiry_field() -> forms.IntegerField:
    return forms.IntegerField(
        min_value=1,
        required=False,
        help_text="Counted from the approval. Leave empty for a key that does not expire.",
    )


def _reason_field(help_text: str) -> forms.CharField:
    """Why the change is asked for: a second person reads it before approving (four eyes)."""
    return forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}), help_text=help_text)


class ApiClientForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Who calls the API, e.g. “Acquirer gateway”.")
    scopes = forms.MultipleChoiceField(
        choices=ApiClient.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Give the client only the scopes it needs.",
    )
    expires_in_days = _key_expiry_field()
    reason = _reason_field("Why the client is needed: a second person reads it before approving.")


class ApiKeyRotationForm(forms.Form):
    overlap_hours = forms.IntegerField(
        min_value=0,
        initial=24,
        help_text="How long the current key keeps working beside the new one once the rotation is "
        "approved (at most 30 days).",
    )
    expires_in_days = _key_expiry_field()
    reason = _reason_field(
        "Why the key is rotated: a second person reads it before approving. To stop a leaked key "
        "at once, revoke the client."
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
