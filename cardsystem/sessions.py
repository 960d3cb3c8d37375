"""Staff sessions end after SESSION_COOKIE_AGE idle seconds.

Django's SESSION_SAVE_EVERY_REQUEST would push the expiry on with every request,
including a page's background polling, so a screen left open would never time out.
Here every request of a logged-in user refreshes the expiry except those to views
marked with `@does_not_extend_session`.
"""

from functools import wraps


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
