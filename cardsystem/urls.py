from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cardsystem.views import api_not_found

api_v1 = [
    path("", include("bins.urls")),
    path("", include("cards.urls")),
    path("", include("transactions.urls")),
]

# GET /healthz and /readyz are answered before routing, by cardsystem.health.ProbeMiddleware.
urlpatterns = [
    # The root leads people to the back office (API clients use /api/v1/).
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False), name="root"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Last: any other /api/ URL is a JSON 404, also with DEBUG on.
    re_path(r"^api/", api_not_found),
]

handler400 = "cardsystem.views.bad_request"
handler404 = "cardsystem.views.not_found"
handler500 = "cardsystem.views.server_error"
