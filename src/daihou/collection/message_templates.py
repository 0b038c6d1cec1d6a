"""The default message templates of the collections strategy, shipped with the package
(``collection/messages/default-templates.yaml``) and installed idempotently.

``seed_templates`` adds, previews and activates (the normal life of a template in
``daihou.notify.templates``: variables checked, the rendered sample and the subject
pass the prohibited-language check, every step audited) each shipped template whose
(channel, language, name) has no active version yet. A template a bank has activated
itself is never replaced. ``daihou template seed`` and ``daihou init`` call it, and
so does the collections run before it queues messages, so a fresh database works.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.compliance.language.models import MessageTemplate
from daihou.notify.templates import activate, add_template, preview_template
from daihou.yaml_packs import load_yaml

# Who installs the shipped defaults when no person is named (``daihou init``, the
# collections run): the installer acting with a compliance officer's template rights.
# The audit trail records it as ``installer``.
INSTALLER = Actor(
    user_id="installer",
    roles=frozenset({"compliance-officer"}),
    display="shipped default templates",
)


@dataclass(frozen=True)
class DefaultTemplate:
    name: str
    channel: str
    language: str
    body: str
    subject: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.channel, self.language, self.name)


@lru_cache(maxsize=1)
def default_templates() -> tuple[DefaultTemplate, ...]:
    """The shipped templates, as read from the package data."""
    text = files("daihou.collection").joinpath("messages/default-templates.yaml").read_text("utf-8")
    data: dict[str, Any] = load_yaml(text)
    out = []
    for i, row in enumerate(data["templates"]):
        try:
            out.append(DefaultTemplate(**row))
        except TypeError as exc:
            raise ValueError(f"default-templates.yaml: templates[{i}]: {exc}") from None
    return tuple(out)


def active_keys(session: Session) -> set[tuple[str, str, str]]:
    rows = session.execute(
        select(MessageTemplate.channel, MessageTemplate.language, MessageTemplate.purpose).where(
            MessageTemplate.status == "active"
        )
    )
    return {(c, lang, name) for c, lang, name in rows}


def seed_templates(
    session: Session,
    *,
    actor: Actor = INSTALLER,
    names: set[str] | None = None,
) -> list[tuple[str, str, str]]:
    """Install and activate the shipped templates (only ``names`` if given) that have
    no active version; returns the (channel, language, name) keys installed."""
    have = active_keys(session)
    installed = []
    for t in default_templates():
        if t.key in have or (names is not None and t.name not in names):
            continue
        draft = add_template(
            session,
            channel=t.channel,
            language=t.language,
            name=t.name,
            body=t.body,
            subject=t.subject,
            actor=actor,
        )
        preview_template(session, draft.id, actor=actor)
        activate(session, draft.id, actor=actor)
        installed.append(t.key)
    return installed
