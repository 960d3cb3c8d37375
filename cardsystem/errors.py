"""Keep card data out of error pages and error reports."""

import re

from django.views.debug import SafeExceptionReporterFilter

from cardsystem.card_numbers import has_pan_like_run


class CardDataExceptionReporterFilter(SafeExceptionReporterFilter):
    """Also hides variables named like card data, and PAN-like digit runs anywhere."""

    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|AUTHORIZATION|PAN|CVV|CARD", flags=re.IGNORECASE
    )
    _sensitive_names = re.compile(r"pan|cvv|card_number|key|secret|password|authorization", re.IGNORECASE)

    def get_traceback_frame_variables(self, request, tb_frame):
        cleansed = []
        for name, value in super().get_traceback_frame_variables(request, tb_frame):
            value = self.cleansed_substitute if self._sensitive_names.search(name) else self._scrub(value)
            cleansed.append((name, value))
        return cleansed

    def get_post_parameters(self, request):
        return {
            key: self.cleansed_substitute if self._sensitive_names.search(key) else self._scrub(value)
            for key, value in super().get_post_parameters(request).items()
        }

    def _scrub(self, value):
        try:
            text = repr(value)
        except Exception:
            return self.cleansed_substitute
        if has_pan_like_run(text) or "cvv" in text.lower():
            return self.cleansed_substitute
        return value
