"""Every message id the pages can show: fixed text found in the templates and page
modules (``_("…")``, ``NavItem("…")``), plus the data vocabulary. Used by the catalog
test and by ``python -m daihou.web.messages`` to list what a translator must cover."""

from __future__ import annotations

import re
from pathlib import Path

from daihou.web.vocabulary import VOCABULARY

ROOT = Path(__file__).resolve().parent
_CALL = re.compile(r"""(?:\b_|NavItem)\(\s*(["'])((?:(?!\1).)+)\1""")


def fixed_messages() -> set[str]:
    found: set[str] = set()
    files = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("pages/*.py")]
    for path in files:
        for match in _CALL.finditer(path.read_text(encoding="utf-8")):
            found.add(match.group(2))
    return found


def all_messages() -> list[str]:
    return sorted(fixed_messages() | set(VOCABULARY))


if __name__ == "__main__":
    for message in all_messages():
        print(message)
