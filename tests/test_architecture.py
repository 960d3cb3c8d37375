"""The shape of the tree, held by tests: dependencies point one way and modules stay small.

    cardsystem  <-  bins  <-  cards  <-  transactions  <-  fraud  <-  demo

An app imports only from its own layer and the ones below; the ground floor imports no
app; transactions reaches fraud through its signals alone. Imports inside functions
count as much as those at the top.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["cardsystem", "bins", "cards", "transactions", "fraud", "demo"]
MAX_MODULE_LINES = 400


def _product_modules():
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                yield app, path


def _imported_apps(path: Path) -> set[str]:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        imported.update(name.split(".")[0] for name in names if name.split(".")[0] in LAYERS)
    return imported


def test_the_tree_has_every_layer():
    assert [app for app in LAYERS if (ROOT / app / "apps.py").exists()] == LAYERS


@pytest.mark.parametrize("app", LAYERS)
def test_an_app_imports_only_itself_and_the_layers_below(app):
    allowed = set(LAYERS[: LAYERS.index(app) + 1])
    upward = {
        str(path.relative_to(ROOT)): sorted(_imported_apps(path) - allowed)
        for owner, path in _product_modules()
        if owner == app and _imported_apps(path) - allowed
    }
    assert upward == {}


def test_no_product_module_is_over_400_lines():
    long = {
        str(path.relative_to(ROOT)): lines
        for _, path in _product_modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_starting_the_project_loads_no_machine_learning_library():
    """LightGBM, NumPy and scikit-learn cost every process seconds and megabytes: they are
    imported where a model is trained or scores, never by start-up, admin or API."""
    probe = (
        "import sys, django; django.setup(); import cardsystem.urls; "
        "print(sorted(m for m in ('lightgbm', 'numpy', 'sklearn') if m in sys.modules))"
    )
    loaded = subprocess.run(  # noqa: S603  (this interpreter, a fixed program)
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, env=os.environ
    )
    assert loaded.stdout.strip() == "[]"
