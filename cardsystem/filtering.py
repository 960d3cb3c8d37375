"""The filter backend of every API view (settings: DEFAULT_FILTER_BACKENDS).

Query parameters are validated against an allow list (OWASP ASVS 5.1.3), as request
bodies are (cardsystem.api.InputSerializer). django-filter would skip a parameter it does
not know (`?stauts=declined` lists everything), skip a filter whose value is empty (so
would `?cardholder=` or `?until=`), and of a parameter given twice use one value, while
a gateway or log reader in front of us may read the other (HTTP parameter pollution,
ASVS 5.1.1). Each is a 400 naming the parameter here, once for every filter set and for
the page parameters alike.
"""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.mixins import ListModelMixin

from cardsystem.parsers import NAMEABLE_KEY


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        known = self.known_parameters(view, queryset)
        errors = {}
        for name, values in request.query_params.lists():
            if name not in known:
                message = "Unknown parameter." + (f" Use {', '.join(sorted(known))}." if known else "")
            elif len(values) > 1:
                message = "Give this parameter once."
            elif not values[0]:
                message = "Give a value, or leave the parameter out."
            else:
                continue
            # A name the error may echo: a parameter name, never card data.
            errors[name if NAMEABLE_KEY.fullmatch(name) else "detail"] = [message]
        if errors:
            raise serializers.ValidationError(errors)
        return super().filter_queryset(request, queryset, view)

    def known_parameters(self, view, queryset) -> set[str]:
        """The filters of the view's filter set, and on a list its page parameters."""
        filterset_class = self.get_filterset_class(view, queryset)
        known = set(filterset_class.base_filters) if filterset_class else set()
        if isinstance(view, ListModelMixin) and view.paginator is not None:
            known |= {view.paginator.cursor_query_param, view.paginator.page_size_query_param}
        return known
