"""What a server process does when it loads the application (cardsystem/wsgi.py), run in
a process of its own as gunicorn's worker runs it."""

import subprocess
import sys

import pytest

from tests.cardsystem.test_log_scrubbing import ROOT, environment

LOAD = "import gc, cardsystem.wsgi; print(gc.get_freeze_count())"


def _frozen_after_loading(env: dict) -> int:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    loaded = subprocess.run(  # noqa: S603
        [sys.executable, "-c", LOAD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    return int(loaded.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("warm_up", "frozen"), [("true", True), ("false", False)])
def test_a_warmed_up_server_leaves_what_it_loaded_out_of_later_collections(tmp_path, warm_up, frozen):
    env = environment(tmp_path, debug=False) | {"WARM_UP": warm_up}

    count = _frozen_after_loading(env)

    # Django, the apps and the model are tens of thousands of objects; without the warm-up
    # (tests, management commands) the process collects as Python does by default.
    assert (count > 20_000) is frozen and (count == 0) is not frozen
