import sys

from django.test import RequestFactory
from django.views.debug import ExceptionReporter

# Kept away from the frames below: a traceback shows source lines around each frame,
# and this test is about the values, not about its own source.
PAN = "4000001234567899"
CVV = "987"
FORM = {"card_number": PAN, "cvv": CVV}
#
#
#
#
#
#
#
#


def _fail_with_card_data(card_number, cvv_given):
    pan = card_number
    cvv = cvv_given
    note = f"card {pan} with {cvv} failed"
    raise ValueError("boom " + note[:4])


def test_debug_error_pages_hide_card_numbers_and_cvvs(settings):
    settings.DEBUG = True
    request = RequestFactory().post("/api/v1/cards/", FORM)
    try:
        _fail_with_card_data(PAN, CVV)
    except ValueError:
        html = ExceptionReporter(request, *sys.exc_info()).get_traceback_html()
    assert PAN not in html
    # As a quoted value, the way a variable or a POST parameter would show it: three
    # bare digits also turn up by chance in memory addresses and timings on the page.
    assert f"&#x27;{CVV}&#x27;" not in html and f"&quot;{CVV}&quot;" not in html
    assert "********" in html  # the substitute is shown instead
