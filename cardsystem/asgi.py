import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")

application = get_asgi_application()

from cardsystem.checks import fail_fast  # noqa: E402  (needs the app registry loaded above)

fail_fast()
