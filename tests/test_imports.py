"""Every module imports on its own: a circular import shows only when a module is the
first of its cycle to be imported (a bench script or a command can be), so each one is
imported into an interpreter holding no ``daihou`` module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import daihou

# the migrations' env runs inside Alembic; revision files are loaded by path
NOT_IMPORTABLE = ("daihou.db.migrations.env", "daihou.db.migrations.versions.")

SCRIPT = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "daihou" or m.startswith("daihou.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc(limit=1).strip().splitlines()[-1])
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def _modules() -> list[str]:
    root = Path(daihou.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not name.startswith(NOT_IMPORTABLE):
            names.append(name)
    return names


def test_every_module_imports_first() -> None:
    names = _modules()
    assert "daihou.yaml_packs" in names and "daihou.collection.contact_settings" in names
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *names], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
