"""Audit trail, data keys and personal-data commands: ``daihou audit …``,
``daihou keys …``, ``daihou privacy …``."""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from daihou.auth.actor import Actor
from daihou.cli.common import (
    DbOption,
    OutputFormat,
    console,
    engine_for,
    err_console,
    friendly_errors,
    parse_date,
    print_json,
    unit_of_work,
)

if TYPE_CHECKING:
    from daihou.compliance.audit.service import Head
    from daihou.compliance.privacy.crypto import Keyring

audit_app = typer.Typer(help="Tamper-evident audit trail (审计日志).", no_args_is_help=True)
keys_app = typer.Typer(help="Data encryption keys (AES-256-GCM).", no_args_is_help=True)
privacy_app = typer.Typer(
    help="Personal data: masked views, reveal, retention.", no_args_is_help=True
)

KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="Key file (default: $DAIHOU_KEY_FILE, else ./daihou.keys).",
        show_default=False,
    ),
]
Fmt = Annotated[OutputFormat, typer.Option("--format", help="table or json")]


def cli_actor() -> Actor:
    """Who runs a command: the operating-system user, with the admin role."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(user_id=f"cli:{user}", roles=frozenset({"admin"}), display=f"{user} (CLI)")


# --------------------------------------------------------------------------- audit


@audit_app.command("verify")
def audit_verify(
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect",
            help="An earlier `daihou audit head` (COUNT:HASH), or a file written by "
            "`audit head --save` (its last line), that the log must still contain",
        ),
    ] = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Walk the hash chain; print OK or the first broken link (exit code 1)."""
    from daihou.compliance.audit.service import verify

    with friendly_errors():
        expected = _anchor(expect) if expect else None
    with unit_of_work(db) as session:
        result = verify(session, expected=expected)
    if output is OutputFormat.json:
        broken = result.broken
        print_json(
            {
                "ok": result.ok,
                "count": result.count,
                "head": str(result.head),
                "broken": None
                if broken is None
                else {"record_id": broken.record_id, "kind": broken.kind, "detail": broken.detail},
            }
        )
    elif result.broken is None:
        typer.echo(f"OK: {result.count} records, head {result.head}")
    else:
        b = result.broken
        console.print(
            f"[bold red]BROKEN[/] at record {b.record_id} ({b.kind}): {b.detail}\n"
            f"{result.count} records before it are sound.",
            highlight=False,
        )
    if not result.ok:
        raise typer.Exit(1)


def _anchor(value: str) -> Head:
    """``COUNT:HASH``, or the last anchor in a file written by ``audit head --save``."""
    from daihou.compliance.audit.service import Head

    path = Path(value)
    if ":" in value and not path.exists():
        return Head.parse(value)
    lines = [line.split()[-1] for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path} holds no audit head")
    return Head.parse(lines[-1])


@audit_app.command("head")
def audit_head(
    save: Annotated[
        Path | None,
        typer.Option("--save", help="Also append `<UTC time> COUNT:HASH` to this file"),
    ] = None,
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Print COUNT:HASH of the last record. Keep it outside the database (or --save it
    to a file on other storage) and pass it to `audit verify --expect` later: records
    removed from the end of the log leave a valid but shorter chain, only an anchor
    shows they are gone."""
    from daihou.compliance.audit.service import head, utc_now

    with unit_of_work(db) as session:
        anchor = head(session)
    if save is not None:
        with save.open("a", encoding="utf-8") as fh:
            fh.write(f"{utc_now():%Y-%m-%dT%H:%M:%SZ} {anchor}\n")
    if output is OutputFormat.json:
        print_json({"count": anchor.count, "hash": anchor.hash, "head": str(anchor)})
    else:
        typer.echo(str(anchor))


# --------------------------------------------------------------------------- keys


@keys_app.command("init")
def keys_init(key_file: KeyFileOption = None) -> None:
    """Create a key file with a new random key (mode 0600). Never overwrites one."""
    from daihou.compliance.privacy.crypto import Keyring, key_file_path, write_key_file

    path = key_file or key_file_path()
    with friendly_errors():
        keyring = Keyring.generate(source=f"key file {path}")
        write_key_file(path, keyring, new=True)
    console.print(f"wrote {path} (active key {keyring.active_id}, mode 0600)", highlight=False)
    if key_file is not None and path != key_file_path():
        console.print(f"use it with: export DAIHOU_KEY_FILE={path.absolute()}", highlight=False)
    console.print("Back it up apart from the database: without it the data cannot be read.")


def _keyring_for(key_file: Path | None) -> tuple[Path | None, Keyring]:
    """The keyring to rotate or prune and the file it lives in (None: the environment)."""
    from daihou.compliance.privacy.crypto import current_keyring, key_file_path, read_key_file

    if key_file is not None:
        return key_file, read_key_file(key_file)
    keyring = current_keyring()
    if keyring.source.startswith("key file"):
        return key_file_path(), keyring
    return None, keyring


@keys_app.command("rotate")
def keys_rotate(
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="No new key: finish re-encrypting under the active key (after an "
            "interruption, or after putting a new key first in DAIHOU_DATA_KEY)",
        ),
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 1000,
    key_file: KeyFileOption = None,
    db: DbOption = None,
) -> None:
    """Make a new active key (kept with the old ones in the key file), then re-encrypt
    every stored value under it, one transaction per batch. Also encrypts values
    stored before encryption was configured."""
    from daihou.compliance.audit.service import record
    from daihou.compliance.privacy.crypto import write_key_file
    from daihou.compliance.privacy.service import key_usage, reencrypt

    with friendly_errors():
        path, keyring = _keyring_for(key_file)
        if not resume:
            if path is None:
                raise RuntimeError(
                    "the keys come from DAIHOU_DATA_KEY: put a new id:base64key first in it "
                    "(keeping the old ones after it) and run `daihou keys rotate --resume`"
                )
            keyring = keyring.with_new_active()
            write_key_file(path, keyring)
            console.print(f"new active key {keyring.active_id} written to {path}", highlight=False)
        engine = engine_for(db)
        try:
            count = reencrypt(
                engine,
                keyring=keyring,
                batch_size=batch_size,
                progress=lambda table, done: console.print(
                    f"  {table}: {done} rows re-encrypted", highlight=False
                ),
            )
        finally:
            engine.dispose()
    with unit_of_work(db) as session:
        record(
            session,
            actor=cli_actor(),
            action="keys.rotate",
            object_type="keyring",
            object_id=keyring.active_id,
            after={"active": keyring.active_id, "rows_reencrypted": count},
            basis={"command": "daihou keys rotate", "resume": resume},
        )
        usage = key_usage(session, keyring=keyring)
    console.print(f"re-encrypted {count} rows under key {keyring.active_id}", highlight=False)
    _print_usage(usage, keyring.active_id)


def _print_usage(usage: dict[str, int], active: str) -> None:
    table = Table("key", "values", "")
    for key_id, n in usage.items():
        note = "active" if key_id == active else ""
        if key_id not in {"plaintext", "unknown"} and key_id != active and n == 0:
            note = "unused: can be pruned"
        table.add_row(key_id, str(n), note)
    console.print(table)


@keys_app.command("status")
def keys_status(db: DbOption = None) -> None:
    """How many stored values each key encrypts (and any plaintext left)."""
    from daihou.compliance.privacy.crypto import current_keyring
    from daihou.compliance.privacy.service import key_usage

    with unit_of_work(db) as session:
        keyring = current_keyring()
        usage = key_usage(session, keyring=keyring)
    _print_usage(usage, keyring.active_id)
    if usage["plaintext"] or usage["unknown"]:
        raise typer.Exit(1)


@keys_app.command("prune")
def keys_prune(key_file: KeyFileOption = None, db: DbOption = None) -> None:
    """Remove keys that encrypt nothing in this database from the key file. Keep a copy
    while backups encrypted with them must stay readable."""
    from daihou.compliance.privacy.crypto import write_key_file
    from daihou.compliance.privacy.service import key_usage

    with friendly_errors():
        path, loaded = _keyring_for(key_file)
        if path is None:
            raise RuntimeError("the keys come from DAIHOU_DATA_KEY; edit that variable instead")
    with unit_of_work(db) as session:
        usage = key_usage(session, keyring=loaded)
    unused = [k for k in loaded.keys if k != loaded.active_id and usage[k] == 0]
    if usage["unknown"]:
        raise typer.Exit(1)
    if unused:
        write_key_file(path, loaded.without(unused))
    console.print(f"removed {len(unused)} unused keys: {', '.join(unused) or '-'}", highlight=False)


# --------------------------------------------------------------------------- privacy


@privacy_app.command("show")
def privacy_show(
    customer_id: Annotated[str, typer.Argument(help="Customer id")],
    output: Fmt = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """A customer's personal data, masked."""
    from daihou.compliance.privacy.service import customer_profile

    with unit_of_work(db) as session:
        profile = customer_profile(session, customer_id, actor=cli_actor())
    values = {k: getattr(profile, k) for k in profile.__slots__ if k != "masked"}
    if output is OutputFormat.json:
        print_json(values)
    else:
        for key, value in values.items():
            console.print(f"{key:12} {value if value is not None else '-'}", highlight=False)


@privacy_app.command("find")
def privacy_find(
    id_number: Annotated[str | None, typer.Option("--id-number", help="身份证号")] = None,
    phone: Annotated[str | None, typer.Option("--phone")] = None,
    db: DbOption = None,
) -> None:
    """Customer ids with this ID number and/or phone (searched by keyed hash)."""
    from daihou.compliance.privacy.service import find_customers

    with unit_of_work(db) as session:
        ids = find_customers(session, id_number=id_number, phone=phone)
    for customer_id in ids:
        typer.echo(customer_id)
    if not ids:
        err_console.print("no customer found", highlight=False)
        raise typer.Exit(1)


@privacy_app.command("reveal")
def privacy_reveal(
    customer_id: Annotated[str, typer.Argument(help="Customer id")],
    field: Annotated[str, typer.Argument(help="name, id_number, phone, address or employer")],
    reason: Annotated[str, typer.Option("--reason", help="Why (logged with the reveal)")],
    db: DbOption = None,
) -> None:
    """Print one personal field in full; the reveal is logged and audited."""
    from daihou.compliance.privacy.service import reveal

    with unit_of_work(db) as session:
        value = reveal(
            session, actor=cli_actor(), customer_id=customer_id, field=field, reason=reason
        )
    typer.echo(value)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@privacy_app.command("destroy")
def privacy_destroy(
    closed_before: Annotated[
        str | None,
        typer.Option("--closed-before", help="Destroy customers whose loans all closed before"),
    ] = None,
    years: Annotated[
        int | None,
        typer.Option(
            "--years", min=0, help="… or closed more than N years before the business date"
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list who would go")] = False,
    db: DbOption = None,
) -> None:
    """Irreversibly destroy the personal data of customers whose loans all closed
    before a date (retention, 到期销毁); one audit record per customer."""
    from daihou.compliance.privacy.service import destroy_expired, expired_customers
    from daihou.eod.calendar import business_date

    if (closed_before is None) == (years is None):
        raise typer.BadParameter("give exactly one of --closed-before or --years")
    with unit_of_work(db) as session:
        if closed_before is not None:
            before = parse_date(closed_before, field="--closed-before")
        else:
            assert years is not None
            before = _years_before(business_date(session), years)
        if dry_run:
            ids = expired_customers(session, before=before)
            for customer_id in ids:
                typer.echo(customer_id)
            console.print(
                f"{len(ids)} customers would be destroyed (loans closed before {before})",
                highlight=False,
            )
            return
        count = destroy_expired(session, before=before, actor=cli_actor())
    console.print(
        f"destroyed the personal data of {count} customers (loans closed before {before})",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.add_typer(keys_app, name="keys")
    app.add_typer(privacy_app, name="privacy")
