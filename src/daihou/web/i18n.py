"""Translations of the pages: Babel catalogs (``locale/<lang>/LC_MESSAGES/messages.po``).

Message ids are English; ``zh_CN`` (the default) translates them. The ``.po`` files are
read with Babel when the application starts, so a fresh clone or an editable install
needs no compile step and no binary ``.mo`` is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from importlib import resources

from babel.messages.pofile import read_po

Translate = Callable[[str], str]


@lru_cache(maxsize=8)
def catalog(locale: str) -> dict[str, str]:
    """msgid → msgstr for ``locale`` (empty for English and unknown locales)."""
    base = resources.files("daihou.web") / "locale" / locale / "LC_MESSAGES" / "messages.po"
    if not base.is_file():
        return {}
    with base.open("rb") as fh:
        po = read_po(fh, locale=locale)
    return {
        str(m.id): str(m.string)
        for m in po
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string
    }


def translator(locale: str) -> Translate:
    table = catalog(locale)

    def gettext(message: str) -> str:
        return table.get(message, message)

    return gettext
