"""Which form fields of a page have no label (issue 6: "labels on every form field").

A field is labelled by a ``<label for="its id">``, by a ``<label>`` around it, or by
``aria-label`` / ``aria-labelledby``. Hidden inputs and buttons need none."""

from __future__ import annotations

from html.parser import HTMLParser

FIELDS = ("input", "select", "textarea")
NO_LABEL_NEEDED = {"hidden", "submit", "button", "reset", "image"}


class _Fields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.label_depth = 0
        self.label_for: set[str] = set()
        self.fields: list[tuple[str, dict[str, str | None], bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in FIELDS:
            if tag == "input" and (a.get("type") or "text").lower() in NO_LABEL_NEEDED:
                return
            self.fields.append((tag, a, self.label_depth > 0))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.label_depth:
            self.label_depth -= 1


def unlabelled(html: str) -> list[str]:
    """The fields of ``html`` without a label, as ``tag name=… id=…`` strings."""
    parser = _Fields()
    parser.feed(html)
    missing = []
    for tag, a, wrapped in parser.fields:
        if wrapped or a.get("aria-label") or a.get("aria-labelledby"):
            continue
        if a.get("id") and a["id"] in parser.label_for:
            continue
        missing.append(f"{tag} name={a.get('name')} id={a.get('id')}")
    return missing
