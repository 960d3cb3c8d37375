import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")

application = get_wsgi_application()

from cardsystem.checks import fail_fast  # noqa: E402  (needs the app registry loaded above)

fail_fast()
