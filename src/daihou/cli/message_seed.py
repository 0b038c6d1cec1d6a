"""``daihou template seed``: install and activate the shipped default message templates
of the collections strategy (``daihou.collection.message_templates``)."""

from __future__ import annotations

from typing import Annotated

import typer

from daihou.cli.common import DbOption, console, unit_of_work


def template_seed(
    user: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="DAIHOU_USER",
            help="Compliance officer acting (default: the installer)",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Add, preview and activate each shipped template (zh-CN, en) that has no active
    version; a template you activated yourself is left alone. Safe to run again."""
    from daihou.collection.message_templates import INSTALLER, seed_templates

    with unit_of_work(db) as session:
        if user is None:
            actor = INSTALLER
        else:
            from daihou.auth.service import actor_for

            actor = actor_for(session, user)
        installed = seed_templates(session, actor=actor)
    for channel, language, name in installed:
        console.print(f"activated {name} ({channel}, {language})", highlight=False)
    console.print(f"{len(installed)} default templates installed", highlight=False)


def register(app: typer.Typer) -> None:
    from daihou.cli.notify import template_app

    template_app.command("seed")(template_seed)
