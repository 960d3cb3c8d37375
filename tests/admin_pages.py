"""Addresses of the Django admin's pages, for the tests that open them."""

from django.urls import reverse


def change_url(obj) -> str:
    """The admin change page of any model instance."""
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
