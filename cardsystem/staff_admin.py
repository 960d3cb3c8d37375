"""Staff users in the back office: Django's user admin, with card numbers refused in a
user's names and e-mail. Every change of a user's flags, groups and permissions is
audited by cardsystem/staff_audit.py, whichever way it is made."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from cardsystem.card_numbers import contains_pan


class _NoCardNumbers:
    """A staff user's names and e-mail never hold a card number (pasted by mistake)."""

    TEXT_FIELDS = ("username", "first_name", "last_name", "email")

    def clean(self):
        data = super().clean()
        for name in self.TEXT_FIELDS:
            if contains_pan(str(data.get(name) or "")):
                self.add_error(name, "This looks like a card number: never write card data here.")
        return data


class StaffCreationForm(_NoCardNumbers, AdminUserCreationForm):
    pass


class StaffChangeForm(_NoCardNumbers, UserChangeForm):
    pass


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    """Django's user admin, refusing card numbers in names; every change of a user's
    flags, groups and permissions is audited (cardsystem/staff_audit.py)."""

    add_form = StaffCreationForm
    form = StaffChangeForm
