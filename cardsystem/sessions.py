"""Staff sessions end after SESSION_COOKIE_AGE idle seconds, and in any case
SESSION_ABSOLUTE_SECONDS after the login, however busy: a stolen session cookie, or a
screen nobody locks, does not stay logged in for ever.

Django's SESSION_SAVE_EVERY_REQUEST would push the expiry on with every request,
including a page's background polling, so a screen left open would never time out.
Here every request of a logged-in user refreshes the expiry except those to views
marked with `@does_not_extend_session`.
"""

from functools import wraps

from django.conf import settings
from django.contrib.auth import logout
from django.utils import timezone

# The session key holding when its user logged in (a POSIX timestamp), set by the
# user_logged_in receiver (cardsystem/receivers.py).
LOGGED_IN_AT = "cardsystem.logged_in_at"


def stamp_login(session) -> None:
    session[LOGGED_IN_AT] = timezone.now().timestamp()


def _outlived(session) -> bool:
    """Past its absolute lifetime; a session with no login time (one older than this
    rule) has none to trust, so it ends too."""
    logged_in_at = session.get(LOGGED_IN_AT)
    if logged_in_at is None:
        return True
    return timezone.now().timestamp() - logged_in_at > settings.SESSION_ABSOLUTE_SECONDS


def does_not_extend_session(view):
    """Mark a view (a poll, a heartbeat) whose requests must not count as activity."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        return view(*args, **kwargs)

    wrapper.does_not_extend_session = True
    return wrapper


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and _outlived(request.session):
            logout(request)  # audited as a logout; the page then asks for a login
        response = self.get_response(request)
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if (
            session is not None
            and user is not None
            and user.is_authenticated
            and not getattr(request, "_does_not_extend_session", False)
        ):
            session.modified = True  # saved with a fresh expiry by SessionMiddleware
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "does_not_extend_session", False):
            request._does_not_extend_session = True
        return None
