"""API authentication by Bearer key and authorization by scope.

Kept apart from cardsystem.api: DRF imports these while rest_framework.views is
still loading, so this module must not import DRF views.
"""

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from cardsystem.services import api_client_for_key, api_client_record_use
from cardsystem.throttling import refuse_authentication


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>`; request.user and request.auth are the ApiClient.
    A failure is 401, or 429 once the address is over the failure limit
    (cardsystem.throttling); a valid key is never refused for its address."""

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if not header:
            return None
        if scheme.lower() != "bearer" or not key.strip():
            refuse_authentication(request, "Use the header Authorization: Bearer <key>.")
        client = api_client_for_key(key.strip())
        if client is None:
            refuse_authentication(request, "Unknown, expired or revoked API key.")
        api_client_record_use(client=client)
        return client, client

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasRequiredScope(BasePermission):
    """Each view names the scope it needs in `required_scope`; a view that names none is closed."""

    message = "This API key does not have the scope this endpoint needs."

    def has_permission(self, request, view):
        client = request.auth
        if client is None:
            return False  # DRF answers 401, since an authenticator was tried
        scope = getattr(view, "required_scope", None)
        return bool(scope) and client.has_scope(scope)
