"""Notification and document commands: ``worker``, ``messages``, ``template``,
``letters``, ``document``.

``--as USER`` (or ``DAIHOU_USER``) names the person acting; writing and activating
templates needs a supervisor / compliance officer, everything else defaults to the
batch ``system`` actor.
"""

from __future__ import annotations

import contextlib
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.cli.common import (
    DbOption,
    OutputFormat,
    console,
    engine_for,
    friendly_errors,
    parse_date,
    print_json,
    unit_of_work,
)

messages_app = typer.Typer(help="Outbox messages (发送队列): list, show, retry, cancel.")
template_app = typer.Typer(help="Message templates (消息模板): add, preview, activate, list.")
letters_app = typer.Typer(help="Letters (信函) for print and mail.")
document_app = typer.Typer(help="PDF documents: render, verify.")
for _app in (messages_app, template_app, letters_app, document_app):
    _app.info.no_args_is_help = True

AsUser = Annotated[
    str | None,
    typer.Option(
        "--as", envvar="DAIHOU_USER", help="Username acting (default: system)", show_default=False
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Notify settings file (YAML; default: $DAIHOU_NOTIFY_CONFIG)",
        show_default=False,
    ),
]
Fmt = Annotated[OutputFormat, typer.Option("--format", help="table or json")]


def _acting(session: Session, username: str | None) -> Actor:
    if username is None:
        return SYSTEM
    from daihou.auth.service import actor_for

    return actor_for(session, username)


def _settings(config: Path | None) -> Any:
    from daihou.notify.settings import load_settings

    with friendly_errors():
        return load_settings(config)


# --------------------------------------------------------------------------- worker


def worker(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due, then exit")] = False,
    batch: Annotated[int | None, typer.Option("--batch", min=1, help="Messages per batch")] = None,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Deliver queued messages (SMS, e-mail, letters) through the contact gate."""
    from daihou.notify.worker import Worker

    settings = _settings(config)
    engine = engine_for(db)
    try:
        with friendly_errors():
            runner = Worker(engine=engine, settings=settings)
            if once:
                stats = runner.run_once(batch=batch)
                console.print(
                    " ".join(f"{k}={v}" for k, v in stats.as_dict().items()), highlight=False
                )
            else:
                console.print("worker running; Ctrl-C stops it", highlight=False)
                with contextlib.suppress(KeyboardInterrupt):
                    runner.run_forever(batch=batch)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- messages


def _message_data(m: Any) -> dict[str, Any]:
    return {
        "id": m.id,
        "status": m.status,
        "channel": m.channel,
        "template": m.template,
        "language": m.language,
        "customer_id": m.customer_id,
        "loan_id": m.loan_id,
        "case_id": m.case_id,
        "attempts": m.attempts,
        "next_attempt_utc": m.next_attempt_at.isoformat() if m.next_attempt_at else None,
        "sent_utc": m.sent_at.isoformat() if m.sent_at else None,
        "provider_message_id": m.provider_message_id,
        "last_error": m.last_error,
    }


@messages_app.command("list")
def messages_list(
    status: Annotated[str | None, typer.Option("--status")] = None,
    channel: Annotated[str | None, typer.Option("--channel")] = None,
    customer: Annotated[str | None, typer.Option("--customer")] = None,
    loan: Annotated[str | None, typer.Option("--loan")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Messages, oldest first."""
    from daihou.notify.outbox import list_messages

    with unit_of_work(db) as session:
        rows = [
            _message_data(m)
            for m in list_messages(
                session,
                status=status,
                channel=channel,
                customer_id=customer,
                loan_id=loan,
                limit=limit,
            )
        ]
    if output is OutputFormat.json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} message(s)")
    for column in ("id", "status", "channel", "template", "customer", "attempts", "next (UTC)"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["id"],
            r["status"],
            r["channel"],
            r["template"],
            r["customer_id"],
            str(r["attempts"]),
            r["next_attempt_utc"] or "",
        )
    console.print(table)


@messages_app.command("show")
def messages_show(
    message_id: Annotated[str, typer.Argument(help="Message id")],
    db: DbOption = None,
) -> None:
    """One message: its text and its history."""
    from daihou.notify.outbox import events, get_message

    with unit_of_work(db) as session:
        m = get_message(session, message_id)
        data = _message_data(m)
        data["subject"], data["body"] = m.subject, m.body
        data["events"] = [
            {
                "at_utc": e.at.isoformat(),
                "status": e.status,
                "attempt": e.attempt,
                "detail": e.detail,
            }
            for e in events(session, message_id)
        ]
    print_json(data)


@messages_app.command("retry")
def messages_retry(
    message_id: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail)")],
    user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Queue a failed, dead or cancelled message again."""
    from daihou.notify.outbox import retry

    with unit_of_work(db) as session:
        m = retry(session, message_id, actor=_acting(session, user), reason=reason)
        console.print(f"message {m.id} queued again", highlight=False)


@messages_app.command("cancel")
def messages_cancel(
    message_id: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail)")],
    user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Cancel a message that has not been handed to a provider."""
    from daihou.notify.outbox import cancel

    with unit_of_work(db) as session:
        m = cancel(session, message_id, actor=_acting(session, user), reason=reason)
        console.print(f"message {m.id} cancelled", highlight=False)


# --------------------------------------------------------------------------- templates


@template_app.command("add")
def template_add(
    channel: Annotated[str, typer.Option("--channel", help="sms or email")],
    language: Annotated[str, typer.Option("--language", help="zh-CN or en")],
    name: Annotated[str, typer.Option("--name", help="Template name, e.g. overdue-t0")],
    body: Annotated[str | None, typer.Option("--body", help="Jinja2 text")] = None,
    body_file: Annotated[Path | None, typer.Option("--body-file")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="E-mail subject")] = None,
    user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Add a draft version (syntax and variables checked)."""
    from daihou.notify.templates import add_template

    with friendly_errors():
        if (body is None) == (body_file is None):
            raise ValueError("give exactly one of --body and --body-file")
        text = body if body is not None else body_file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    with unit_of_work(db) as session:
        t = add_template(
            session,
            channel=channel,
            language=language,
            name=name,
            body=text,
            subject=subject,
            actor=_acting(session, user),
        )
        console.print(f"template {t.id}: {name} v{t.version} ({channel}, {language}) draft")


@template_app.command("preview")
def template_preview(
    template_id: Annotated[int, typer.Argument()],
    var: Annotated[
        list[str] | None, typer.Option("--var", help="NAME=VALUE over the sample data")
    ] = None,
    user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Render with sample data and run the language check (activation needs this)."""
    from daihou.notify.templates import preview_template

    values: dict[str, Any] = {}
    for item in var or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--var")
        values[key] = value
    with unit_of_work(db) as session:
        p = preview_template(session, template_id, actor=_acting(session, user), variables=values)
    if p.subject:
        typer.echo(f"Subject: {p.subject}")
    typer.echo(p.body)
    verdict = "passed" if p.check.passed else f"FAILED: {p.check.describe()}"
    typer.echo(f"language check: {verdict}")
    if not p.check.passed:
        raise typer.Exit(1)


@template_app.command("activate")
def template_activate(
    template_id: Annotated[int, typer.Argument()],
    user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Activate a previewed draft (refused when the language check fails)."""
    from daihou.notify.templates import activate

    with unit_of_work(db) as session:
        t = activate(session, template_id, actor=_acting(session, user))
        console.print(f"template {t.id} ({t.purpose} v{t.version}) is active", highlight=False)


@template_app.command("list")
def template_list(
    channel: Annotated[str | None, typer.Option("--channel")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Every template version."""
    from daihou.notify.templates import list_templates

    with unit_of_work(db) as session:
        rows = [
            {
                "id": t.id,
                "name": t.purpose,
                "channel": t.channel,
                "language": t.language,
                "version": t.version,
                "status": t.status,
                "previewed": t.previewed_at is not None,
            }
            for t in list_templates(session, channel=channel, name=name)
        ]
    if output is OutputFormat.json:
        print_json(rows)
        return
    table = Table(title="message templates")
    for column in rows[0] if rows else ("id",):
        table.add_column(column)
    for r in rows:
        table.add_row(*(str(v) for v in r.values()))
    console.print(table)


# --------------------------------------------------------------------------- letters


@letters_app.command("export")
def letters_export(
    day: Annotated[str, typer.Option("--date", help="Local day the letters were produced")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Directory (default: letters_dir)")
    ] = None,
    again: Annotated[
        bool, typer.Option("--again", help="Include letters already exported")
    ] = False,
    config: ConfigOption = None,
    user: AsUser = None,
    db: DbOption = None,
) -> None:
    """ZIP a day's letters (PDFs + manifest.csv) for the print house."""
    from daihou.documents.letters import export_letters

    when = parse_date(day, field="--date")
    settings = _settings(config)
    with unit_of_work(db) as session:
        batch = export_letters(
            session,
            day=when,
            settings=settings,
            actor=_acting(session, user),
            out_dir=out,
            again=again,
        )
    console.print(
        f"{batch.count} letter(s) → {batch.path} (sha256 {batch.sha256})", highlight=False
    )


# --------------------------------------------------------------------------- documents


@document_app.command("render")
def document_render(
    kind: Annotated[
        str,
        typer.Argument(
            help="reminder, overdue-notice, collection-letter, "
            "settlement-certificate, plan-agreement, evidence-bundle"
        ),
    ],
    loan: Annotated[str, typer.Option("--loan", help="Loan id")],
    out: Annotated[Path, typer.Option("--out", help="PDF file to write")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Date (default: business date)")
    ] = None,
    months: Annotated[int | None, typer.Option("--months", help="plan-agreement: parts")] = None,
    first_due: Annotated[str | None, typer.Option("--first-due", help="plan-agreement")] = None,
    config: ConfigOption = None,
    user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Generate a PDF: stored, hashed into the audit chain, and written to --out."""
    from daihou.documents.service import generate

    day: date | None = parse_date(as_of, field="--as-of") if as_of else None
    first: date | None = parse_date(first_due, field="--first-due") if first_due else None
    settings = _settings(config)
    with unit_of_work(db) as session:
        doc = generate(
            session,
            kind=kind,
            loan_id=loan,
            actor=_acting(session, user),
            settings=settings,
            as_of=day,
            plan_months=months,
            plan_first_due=first,
        )
        out.write_bytes(doc.content)
        data = {"document_id": doc.id, "sha256": doc.sha256, "size": doc.size, "file": str(out)}
    typer.echo(json.dumps(data, ensure_ascii=False))


@document_app.command("verify")
def document_verify(
    document_id: Annotated[int, typer.Argument()],
    db: DbOption = None,
) -> None:
    """Rebuild a document from its stored inputs and compare the hash."""
    from daihou.documents.service import verify

    with unit_of_work(db) as session:
        ok = verify(session, document_id)
    console.print("identical" if ok else "DIFFERENT", highlight=False)
    if not ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.add_typer(messages_app, name="messages")
    app.add_typer(template_app, name="template")
    app.add_typer(letters_app, name="letters")
    app.add_typer(document_app, name="document")
