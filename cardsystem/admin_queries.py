"""What the back office accepts in a changelist's query string. Anything a staff member
can type into the address bar gets a page: a query the database cannot answer leads to
Django's own "?e=1" redirect (the ChangeList raises IncorrectLookupParameters), never a
500. The guard is mixed into every ModelAdmin the site registers, Django's and
django-axes' included, so no admin can be registered without it."""

import datetime
import functools

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, SEARCH_VAR
from django.core.exceptions import ValidationError
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

# Django adds a year, a month or a day to a drill-down's date, and an aware datetime is
# moved to UTC on its way to the database: one year of margin at each end keeps both
# inside what Python's datetime holds, whatever TIME_ZONE says.
FIRST_YEAR = datetime.MINYEAR + 1
LAST_YEAR = datetime.MAXYEAR - 1

CANNOT_APPLY = "The filters, date or search in that address could not be applied: showing the whole list."

# Every word of a search is one more AND in the WHERE clause; SQLite refuses an
# expression deeper than 1000. Nobody searches for a paragraph.
MAX_SEARCH_WORDS = 100

# What a value the database cannot compare raises while the queryset is built or its
# rows are counted: an integer wider than SQLite's 64 bits (OverflowError; Django answers
# PostgreSQL's out-of-range integers itself), a text a list filter converts (ValueError,
# ValidationError). A NUL byte never gets here: RejectNulBytesMiddleware answers 400.
UNANSWERABLE = (OverflowError, ValueError, ValidationError)


def _refuse_long_searches(query) -> None:
    if len(query.get(SEARCH_VAR, "").split()) > MAX_SEARCH_WORDS:
        raise IncorrectLookupParameters(f"A search of more than {MAX_SEARCH_WORDS} words.")


def _check_drill_down(query, field: str) -> None:
    """The parts of a date-hierarchy drill-down as ChangeList.get_filters reads them (the
    last value of each), checked before Django builds a date from them: it catches a
    ValueError there, but not the OverflowError of a huge year nor the ValueError of
    stepping past year 9999."""
    year = query.get(f"{field}__year")
    if year is None:
        return  # without a year Django reads neither month nor day as a drill-down
    month = query.get(f"{field}__month")
    day = query.get(f"{field}__day")
    try:
        parts = [int(year), int(month or 1), int(day or 1)]
    except ValueError as error:
        raise IncorrectLookupParameters(error) from error
    if not FIRST_YEAR <= parts[0] <= LAST_YEAR:
        raise IncorrectLookupParameters(f"Year {year} is outside {FIRST_YEAR}..{LAST_YEAR}.")
    try:
        datetime.date(*parts)
    except (ValueError, OverflowError) as error:
        raise IncorrectLookupParameters(error) from error


class ChangeListGuard:
    """Mixed into a ChangeList: refuses what no database answers before the queryset is
    built, and turns what the database still cannot compare into IncorrectLookupParameters,
    which changelist_view answers with its "?e=1" redirect."""

    def __init__(self, request, *args, **kwargs):
        _refuse_long_searches(request.GET)
        super().__init__(request, *args, **kwargs)

    def get_filters(self, request):
        if self.date_hierarchy:
            _check_drill_down(request.GET, self.date_hierarchy)
        return super().get_filters(request)

    def get_queryset(self, request, exclude_parameters=None):
        # Django wraps only the leftover lookups in its catch-all: a list filter's own
        # queryset() (ours or a library's) may still raise on a value it cannot read.
        try:
            return super().get_queryset(request, exclude_parameters)
        except UNANSWERABLE as error:
            raise IncorrectLookupParameters(error) from error

    def get_results(self, request):
        # The rows are first counted here: the query runs for the first time.
        try:
            super().get_results(request)
        except UNANSWERABLE as error:
            raise IncorrectLookupParameters(error) from error


@functools.cache
def guarded_changelist(changelist_class: type) -> type:
    return type(changelist_class.__name__, (ChangeListGuard, changelist_class), {})


class GuardedChangeListAdmin:
    """Mixed into every registered ModelAdmin by BackOfficeSite."""

    def get_changelist(self, request, **kwargs):
        return guarded_changelist(super().get_changelist(request, **kwargs))

    def get_changelist_instance(self, request):
        # changelist_view redirects to the bare list ("?e=1"); without a word the filters
        # the staff member typed would just vanish.
        try:
            return super().get_changelist_instance(request)
        except IncorrectLookupParameters:
            if ERROR_FLAG not in request.GET:
                self.message_user(request, CANNOT_APPLY, messages.WARNING)
            raise


@functools.cache
def guarded_admin(admin_class: type) -> type:
    if issubclass(admin_class, GuardedChangeListAdmin):
        return admin_class
    return type(
        admin_class.__name__,
        (GuardedChangeListAdmin, admin_class),
        {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
    )


class BackOfficeSite(admin.AdminSite):
    """The default admin site: every ModelAdmin registered on it, ours and the libraries',
    gets the changelist guard. With STAFF_MFA_REQUIRED it opens only to sessions verified
    by a second factor, and its login asks for one (cardsystem/admin_mfa.py)."""

    def register(self, model_or_iterable, admin_class=None, **options):
        super().register(model_or_iterable, guarded_admin(admin_class or admin.ModelAdmin), **options)

    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        if not settings.STAFF_MFA_REQUIRED:
            return True
        # Set by django-otp's OTPMiddleware: a device verified this session.
        is_verified = getattr(request.user, "is_verified", None)
        return is_verified is not None and is_verified()

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        from cardsystem.staff_login import password_step  # models: not importable with the app config

        return password_step(self, request, extra_context)

    # The front page is the dashboard (cardsystem/dashboard.py), the apps below it.
    index_template = "admin/dashboard.html"

    def index(self, request, extra_context=None):
        from cardsystem.dashboard import dashboard_context

        return super().index(request, {**dashboard_context(request), **(extra_context or {})})

    def get_urls(self):
        from cardsystem.admin_mfa import second_factor_urls

        return second_factor_urls(self) + super().get_urls()


class BackOfficeAdminConfig(AdminConfig):
    """django.contrib.admin with BackOfficeSite as `admin.site`."""

    default_site = "cardsystem.admin_queries.BackOfficeSite"
