"""User commands: add, passwd, role, list, unlock, deactivate.

The command line acts as ``system`` (whoever runs it holds the database credentials),
which is how the first admin is created; every change is in the audit trail.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from daihou.cli.common import DbOption, OutputFormat, console, err_console, print_json, unit_of_work

RoleOption = Annotated[
    list[str],
    typer.Option(
        "--role",
        help="collector-junior, collector-senior, supervisor, manager, operations, "
        "risk-analyst, compliance-officer, auditor, agency-user, admin (repeat for several)",
    ),
]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin"),
]


@contextmanager
def refused() -> Iterator[None]:
    """Permission errors and failed sign-ins as a red message and exit code 1."""
    try:
        yield
    except PermissionError as exc:
        err_console.print(f"[bold red]refused:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None


def read_password(stdin: bool) -> str:
    if stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def add(
    username: Annotated[str, typer.Argument(help="Login name")],
    role: RoleOption,
    team: Annotated[str | None, typer.Option("--team", help="Team (小组)")] = None,
    agency: Annotated[str | None, typer.Option("--agency", help="Agency id (agency users)")] = None,
    territory: Annotated[
        str | None, typer.Option("--territory", help="Branch or region (属地)")
    ] = None,
    display: Annotated[str, typer.Option("--name", help="Display name")] = "",
    password_stdin: PasswordStdin = False,
    db: DbOption = None,
) -> None:
    """Create a user (password from --password-stdin or a prompt asked twice)."""
    from daihou.auth.actor import SYSTEM
    from daihou.auth.service import create_user

    password = read_password(password_stdin)
    with refused(), unit_of_work(db) as session:
        user = create_user(
            session,
            actor=SYSTEM,
            username=username,
            password=password,
            roles=role,
            now=_now(),
            display_name=display,
            team=team,
            territory=territory,
            agency_id=agency,
        )
        roles = ", ".join(sorted(user.roles))
    console.print(f"user [bold]{username}[/] created with roles {roles}")


def passwd(
    username: Annotated[str, typer.Argument(help="Login name")],
    password_stdin: PasswordStdin = False,
    db: DbOption = None,
) -> None:
    """Set a user's password (clears a lockout)."""
    from daihou.auth.actor import SYSTEM
    from daihou.auth.service import set_password

    password = read_password(password_stdin)
    with refused(), unit_of_work(db) as session:
        set_password(session, actor=SYSTEM, username=username, password=password, now=_now())
    console.print(f"password of [bold]{username}[/] changed")


def role(
    username: Annotated[str, typer.Argument(help="Login name")],
    add_roles: Annotated[list[str] | None, typer.Option("--add", help="Role to give")] = None,
    remove_roles: Annotated[
        list[str] | None, typer.Option("--remove", help="Role to take away")
    ] = None,
    db: DbOption = None,
) -> None:
    """Give or take away roles."""
    from daihou.auth.actor import SYSTEM
    from daihou.auth.service import get_user, set_roles

    if not add_roles and not remove_roles:
        raise typer.BadParameter("give --add ROLE and/or --remove ROLE", param_hint="--add")
    with refused(), unit_of_work(db) as session:
        current = get_user(session, username).roles
        missing = sorted(set(remove_roles or ()) - current)
        if missing:
            raise ValueError(f"{username} does not have roles {missing}")
        wanted = (current | set(add_roles or ())) - set(remove_roles or ())
        user = set_roles(session, actor=SYSTEM, username=username, roles=wanted)
        roles = ", ".join(sorted(user.roles))
    console.print(f"[bold]{username}[/] now has roles {roles}")


def list_cmd(
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = (
        OutputFormat.table
    ),
    db: DbOption = None,
) -> None:
    """Every user with roles, team, agency and lock state."""
    from daihou.auth.actor import SYSTEM
    from daihou.auth.service import list_users

    with refused(), unit_of_work(db) as session:
        users = list_users(session, actor=SYSTEM)
    if output is OutputFormat.json:
        print_json(
            [
                {
                    "username": u.username,
                    "name": u.display_name,
                    "roles": sorted(u.roles),
                    "team": u.team,
                    "territory": u.territory,
                    "agency_id": u.agency_id,
                    "active": u.active,
                    "failed_attempts": u.failed_attempts,
                    "locked_until": _iso(u.locked_until),
                    "last_login_at": _iso(u.last_login_at),
                }
                for u in users
            ]
        )
        return
    table = Table(title="users")
    for col in ("username", "name", "roles", "team", "agency", "active", "locked until"):
        table.add_column(col)
    for u in users:
        table.add_row(
            u.username,
            u.display_name,
            ", ".join(sorted(u.roles)),
            u.team or "",
            u.agency_id or "",
            "yes" if u.active else "no",
            _iso(u.locked_until) or "",
        )
    console.print(table)


def unlock_cmd(
    username: Annotated[str, typer.Argument(help="Login name")],
    db: DbOption = None,
) -> None:
    """Clear failed sign-ins and a lockout."""
    from daihou.auth.actor import SYSTEM
    from daihou.auth.service import unlock

    with refused(), unit_of_work(db) as session:
        unlock(session, actor=SYSTEM, username=username)
    console.print(f"[bold]{username}[/] unlocked")


def deactivate_cmd(
    username: Annotated[str, typer.Argument(help="Login name")],
    db: DbOption = None,
) -> None:
    """Stop a leaver (离职) from signing in; their history is kept."""
    from daihou.auth.actor import SYSTEM
    from daihou.auth.service import deactivate

    with refused(), unit_of_work(db) as session:
        deactivate(session, actor=SYSTEM, username=username, now=_now())
    console.print(f"[bold]{username}[/] deactivated")


def register(app: typer.Typer) -> None:
    user_app = typer.Typer(
        help="Users, roles and passwords (用户与角色).", no_args_is_help=True, add_completion=False
    )
    user_app.command("add")(add)
    user_app.command("passwd")(passwd)
    user_app.command("role")(role)
    user_app.command("list")(list_cmd)
    user_app.command("unlock")(unlock_cmd)
    user_app.command("deactivate")(deactivate_cmd)
    app.add_typer(user_app, name="user")
