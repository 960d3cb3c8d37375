from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django_countries.filters import CountryFilter

from bins.models import Bin
from bins.services import BIN_FIELDS, bin_create, bin_set_active
from cardsystem.admin import add_service_errors, form_page
from cardsystem.audit import Actor
from cardsystem.money import currency_choices


class BinForm(forms.ModelForm):
    """Validated by the model's full_clean: field syntax plus the network's prefix and
    PAN-length rules (bins.networks). BinAdmin.add_view then creates through bin_create,
    whose own refusals are shown on the same fields."""

    currency = forms.ChoiceField(
        choices=[("", "---------"), *currency_choices()], help_text="ISO 4217 code of the cards' balances."
    )

    class Meta:
        model = Bin
        fields = list(BIN_FIELDS)
        help_texts = {
            "bin": "6 or 8 digits; they must fall in the chosen network's ranges.",
            "pan_length": "Digits of the cards' numbers, 12 to 19, as the network allows.",
        }


@admin.register(Bin)
class BinAdmin(admin.ModelAdmin):
    form = BinForm
    list_display = [
        "bin",
        "network",
        "issuer_name",
        "card_type",
        "country",
        "currency",
        "pan_length",
        "is_active",
        "card_count",
    ]
    list_filter = ["network", "card_type", ("country", CountryFilter), "currency", "is_active"]
    search_fields = ["^bin", "issuer_name"]
    actions = ["activate", "deactivate"]

    def get_queryset(self, request):
        # Meta.ordering does not apply to a GROUP BY query: order explicitly.
        return super().get_queryset(request).annotate(card_count=Count("cards")).order_by(*Bin._meta.ordering)

    @admin.display(description="cards", ordering="card_count")
    def card_count(self, bin):
        return bin.card_count

    @admin.display(description="cards")
    def cards_link(self, bin):
        url = reverse("admin:cards_card_changelist") + f"?bin__id__exact={bin.pk}"
        return format_html('<a href="{}">{} card(s)</a>', url, bin.card_count)

    def get_fields(self, request, obj=None):
        if obj is None:
            return list(BIN_FIELDS)
        return [*BIN_FIELDS, "cards_link", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # Issued cards carry the BIN's number, network and currency: after creation
        # only switching it on and off is allowed.
        if obj is None:
            return []
        return [name for name in BIN_FIELDS if name != "is_active"] + [
            "cards_link",
            "created_at",
            "updated_at",
        ]

    def has_delete_permission(self, request, obj=None):
        return False  # cards keep their BIN (PROTECT); deactivate instead

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BinForm(request.POST) if request.method == "POST" else BinForm()
        if request.method == "POST" and form.is_valid():
            try:
                bin = bin_create(
                    actor=Actor.for_request(request), **{name: form.cleaned_data[name] for name in BIN_FIELDS}
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                self.message_user(request, f"The BIN “{bin}” was added.")
                return HttpResponseRedirect(reverse("admin:bins_bin_change", args=[bin.pk]))
        return form_page(request, self, form=form, title="Add BIN", submit_label="Save")

    def save_model(self, request, obj, form, change):
        # Only the change page gets here, and only is_active is editable on it.
        if "is_active" in form.changed_data:
            bin_set_active(
                bin=obj, is_active=form.cleaned_data["is_active"], actor=Actor.for_request(request)
            )

    @admin.action(description="Activate the selected BINs", permissions=["change"])
    def activate(self, request, queryset):
        self._set_active(request, queryset, is_active=True)

    @admin.action(description="Deactivate the selected BINs (no new cards)", permissions=["change"])
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, is_active=False)

    def _set_active(self, request, queryset, *, is_active):
        actor = Actor.for_request(request)
        changed = [bin for bin in queryset if bin.is_active != is_active]
        for bin in changed:
            bin_set_active(bin=bin, is_active=is_active, actor=actor)
        verb = "Activated" if is_active else "Deactivated"
        self.message_user(request, f"{verb} {len(changed)} BIN(s).")
