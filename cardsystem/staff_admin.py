"""Staff users in the back office: Django's user admin, with card numbers refused in a
user's names and e-mail, open to those with cardsystem.manage_staff (beside auth's own
add_user and change_user). Granting staff status, superuser, a role (group) or a
permission, or reactivating a deactivated user, is held for four eyes
(cardsystem/change_kinds.py): the user is saved without it and a change request asks a
second person; taking any of them away is immediate. Another staff member's password is
set here only by someone holding every power they hold (may_set_password). Every change
of a user's flags, groups and permissions is audited by cardsystem/staff_audit.py,
whichever way it is made."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q

from cardsystem.admin import ReadOnlyAdminMixin
from cardsystem.admin_change_requests import held_message
from cardsystem.audit import Actor
from cardsystem.card_numbers import contains_pan
from cardsystem.change_kinds import MANAGE_STAFF, describe_grants, staff_grant_request, staff_grants_added
from cardsystem.change_requests import APPROVE_PERMISSION


def _grant_reason_field() -> forms.CharField:
    return forms.CharField(
        label="Reason for the grant",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed when this adds staff status, superuser, a role or a permission: "
        "a second person reads it before approving.",
    )


class _StaffForm:
    """A staff user's names and e-mail never hold a card number (pasted by mistake); what
    the form would grant is worked out here (`grants`), and needs a reason."""

    TEXT_FIELDS = ("username", "first_name", "last_name", "email", "grant_reason")

    def clean(self):
        data = super().clean()
        for name in self.TEXT_FIELDS:
            if contains_pan(str(data.get(name) or "")):
                self.add_error(name, "This looks like a card number: never write card data here.")
        self.grants = staff_grants_added(
            user=self.instance,
            flags={flag: data.get(flag) for flag in ("is_staff", "is_superuser", "is_active")},
            groups=data.get("groups") or [],
            permissions=data.get("user_permissions") or [],
        )
        if any(self.grants.values()) and not (data.get("grant_reason") or "").strip():
            self.add_error(
                "grant_reason",
                f"Say why {describe_grants(self.grants)} should be granted: the approver reads it.",
            )
        return data


class StaffCreationForm(_StaffForm, AdminUserCreationForm):
    grant_reason = _grant_reason_field()


class StaffChangeForm(_StaffForm, UserChangeForm):
    grant_reason = _grant_reason_field()


User = get_user_model()
admin.site.unregister(User)


def _permission_codes(user) -> set[str]:
    """The permissions `user`'s roles and own grants hold, active or not (a deactivated
    account's powers return with its reactivation)."""
    held = Permission.objects.filter(Q(user=user) | Q(group__user=user)).distinct()
    return {f"{app}.{codename}" for app, codename in held.values_list("content_type__app_label", "codename")}


def may_set_password(actor, user) -> bool:
    """Whether `actor` may set `user`'s password: their own, or, for a superuser, anyone's;
    otherwise only a user who approves no changes and holds no power `actor` lacks. Whoever
    sets a password can sign in as its owner: doing so to a colleague with other powers, or
    to an approver, would take those powers or a second pair of eyes alone."""
    if actor.is_superuser or actor.pk == user.pk:
        return True
    held = _permission_codes(user)
    return APPROVE_PERMISSION not in held and held <= _permission_codes(actor)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    """Django's user admin, refusing card numbers in names, holding grants for a second
    person; every change of a user's flags, groups and permissions is audited
    (cardsystem/staff_audit.py)."""

    add_form = StaffCreationForm
    form = StaffChangeForm
    fieldsets = (
        *UserAdmin.fieldsets[:2],
        (
            "Permissions (a grant waits for a second person's approval)",
            {
                "fields": (
                    *UserAdmin.fieldsets[2][1]["fields"],
                    "grant_reason",
                )
            },
        ),
        *UserAdmin.fieldsets[3:],
    )
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        (
            "Staff status and roles (granted once a second person approves)",
            {"fields": ("is_staff", "groups", "grant_reason")},
        ),
    )

    def has_add_permission(self, request):
        return super().has_add_permission(request) and request.user.has_perm(MANAGE_STAFF)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False  # their password or e-mail is their powers: only a superuser changes them
        return super().has_change_permission(request, obj) and request.user.has_perm(MANAGE_STAFF)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and request.user.has_perm(MANAGE_STAFF)

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, unquote(id))
        if user is not None and not may_set_password(request.user, user):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def save_model(self, request, obj, form, change):
        # Saved without the flags it would gain: they wait for the approval.
        for flag in form.grants["flags"]:
            setattr(obj, flag, False)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        grants = form.grants
        data = form.cleaned_data
        if "groups" in data:
            data["groups"] = [group for group in data["groups"] if group.name not in grants["groups"]]
        if "user_permissions" in data:
            data["user_permissions"] = [
                permission
                for permission in data["user_permissions"]
                if f"{permission.content_type.app_label}.{permission.codename}" not in grants["permissions"]
            ]
        super().save_related(request, form, formsets, change)
        if any(grants.values()):
            change_request = staff_grant_request(
                user=form.instance,
                grants=grants,
                reason=data["grant_reason"],
                actor=Actor.for_request(request),
            )
            messages.warning(request, held_message(change_request))


admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(ReadOnlyAdminMixin, GroupAdmin):
    """The roles (groups) as cardsystem/roles.py ships them, read-only: changing a role's
    permissions would change every member's powers at once with no second person, so
    roles change in code, reviewed, and reach each database by a migration."""
