"""Error pages: JSON under /api/, Django's own pages elsewhere."""

import sys

from django.http import HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from cardsystem.health import RETRY_AFTER_SECONDS, UNAVAILABLE_DETAIL, database_unavailable


def not_found(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


@csrf_exempt
def api_not_found(request):
    """The last /api/ route: a JSON 404 whatever DEBUG says, for every method.

    It also stands in for CommonMiddleware's APPEND_SLASH redirect, which would turn
    a POST into a GET (or, with DEBUG on, a 500 page); the body names the right URL.
    """
    detail = "Not found."
    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            detail = f"Not found. Did you mean {request.path}/ (with a trailing slash)?"
    return JsonResponse({"detail": detail}, status=404)


def server_error(request):
    # Called while the exception is handled, wherever it was raised: in a view, or in a
    # middleware (a staff session read from the database) that no process_exception sees.
    if database_unavailable(sys.exception()):
        return service_unavailable(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal error. Nothing was changed by this request."}, status=500)
    return defaults.server_error(request)


def bad_request(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def service_unavailable(request):
    """503 with Retry-After; the database's own words stay in the log, out of the page."""
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": UNAVAILABLE_DETAIL}, status=503)
    else:
        page = defaults.ERROR_PAGE_TEMPLATE % {
            "title": "Service Unavailable (503)",
            "details": "The service is briefly unavailable. Nothing was changed; try again in a few seconds.",
        }
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
