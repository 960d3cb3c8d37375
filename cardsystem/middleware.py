from django.http import HttpResponseBadRequest, JsonResponse


class RejectNulBytesMiddleware:
    """A NUL byte in a path or query string is never legitimate, and PostgreSQL
    raises DataError (a 500) if one reaches a lookup. Answer 400 before routing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            "\x00" in request.path
            or "%00" in request.META.get("QUERY_STRING", "")
            or "\x00" in request.META.get("QUERY_STRING", "")
        ):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "The URL contains a NUL byte."}, status=400)
            return HttpResponseBadRequest("The URL contains a NUL byte.")
        return self.get_response(request)
