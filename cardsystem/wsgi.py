import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cardsystem.settings")

application = get_wsgi_application()

from cardsystem.checks import fail_fast  # noqa: E402  (needs the app registry loaded above)

fail_fast()

from django.conf import settings  # noqa: E402

if settings.WARM_UP:
    from cardsystem.warmup import warm_up

    # Before this process accepts a connection: its first request is then as fast as
    # the hundredth (cardsystem/warmup.py; bench/cold_start.py measures it).
    warm_up()

    # What the process has loaded by now (Django, the apps, the fraud model: some 130,000
    # objects) lives as long as the process. Left out of every later collection, a full
    # collection (rare: `profile_authorization.py` counts them) walks only what requests
    # made since, not all of it while a request waits.
    gc.collect()
    gc.freeze()
