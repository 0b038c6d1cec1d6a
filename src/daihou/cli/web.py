"""``daihou serve`` (the web workbench and REST API) and ``daihou token`` (API tokens).

Token commands act as ``system`` like the other user commands: whoever runs them holds
the database credentials. Every token made or revoked is in the audit trail.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from daihou.cli.common import DbOption, console, unit_of_work
from daihou.cli.users import refused

# An idle keep-alive connection is kept this long (uvicorn's default is 5 s). A collector
# reads a case for longer than that between clicks, so with 5 s the server closes
# connections the browser is about to reuse, and a request sent as the close crosses it
# fails with a read error (the likely cause of 31 read errors in 3,000 requests of
# `bench/web.py --think 3` at 1 M on a loaded machine).
KEEP_ALIVE_S = 75


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="Request threads per process")] = 40,
    processes: Annotated[
        int, typer.Option("--processes", help="Worker processes (PostgreSQL: one per core)")
    ] = 1,
    plain_logs: Annotated[
        bool, typer.Option("--plain-logs", help="Human-readable logs instead of JSON lines")
    ] = False,
    db: DbOption = None,
) -> None:
    """Run the web workbench and the REST API (uvicorn) on the configured database."""
    import os

    import uvicorn

    from daihou.db.engine import database_url, make_engine
    from daihou.web.app import create_app, limit_threads, pool_options
    from daihou.web.observability import configure_json_logging
    from daihou.web.settings import WebSettings

    url = database_url(db)
    os.environ["DAIHOU_WEB_THREADS"] = str(workers)
    console.print(f"daihou serving on http://{host}:{port}  (API docs: /docs)", highlight=False)
    if processes > 1:
        os.environ["DAIHOU_DATABASE_URL"] = url
        os.environ["DAIHOU_WEB_JSON_LOGS"] = "0" if plain_logs else "1"
        uvicorn.run(
            "daihou.web.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=processes,
            log_config=None,
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        return
    app = create_app(make_engine(url, **pool_options(url, workers)), WebSettings.from_env())
    if not plain_logs:
        configure_json_logging()
    uvicorn.run(
        limit_threads(app, workers),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
    )


def token_create(
    username: Annotated[str, typer.Argument(help="User the token acts as")],
    name: Annotated[str, typer.Option("--name", help="What the token is for")] = "api",
    days: Annotated[int, typer.Option("--days", help="Valid for this many days")] = 90,
    db: DbOption = None,
) -> None:
    """Create an API token for a user; the secret is printed once."""
    from daihou.auth.actor import SYSTEM
    from daihou.auth.sessions import create_token

    with refused(), unit_of_work(db) as session:
        raw, row = create_token(
            session, actor=SYSTEM, name=name, now=datetime.now(UTC), days=days, username=username
        )
        token_id = row.id
    console.print(f"token {token_id} for [bold]{username}[/] (shown once):", highlight=False)
    typer.echo(raw)


def token_list(db: DbOption = None) -> None:
    """Every API token (never the secrets)."""
    from daihou.auth.actor import SYSTEM
    from daihou.auth.sessions import list_tokens

    with refused(), unit_of_work(db) as session:
        rows = list_tokens(session, actor=SYSTEM, everyone=True)
    table = Table(title="API tokens")
    for col in ("id", "user", "name", "prefix", "expires", "revoked"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r.id),
            r.username,
            r.name,
            r.prefix + "…",
            r.expires_at.isoformat(timespec="minutes") if r.expires_at else "",
            r.revoked_at.isoformat(timespec="minutes") if r.revoked_at else "",
        )
    console.print(table)


def token_revoke(
    token_id: Annotated[int, typer.Argument(help="Token id (from token list)")],
    db: DbOption = None,
) -> None:
    """Revoke an API token at once."""
    from daihou.auth.actor import SYSTEM
    from daihou.auth.sessions import revoke_token

    with refused(), unit_of_work(db) as session:
        revoke_token(session, actor=SYSTEM, token_id=token_id, now=datetime.now(UTC))
    console.print(f"token {token_id} revoked")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    token_app = typer.Typer(
        help="API tokens for REST clients (API 令牌).", no_args_is_help=True, add_completion=False
    )
    token_app.command("create")(token_create)
    token_app.command("list")(token_list)
    token_app.command("revoke")(token_revoke)
    app.add_typer(token_app, name="token")
