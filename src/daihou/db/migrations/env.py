"""Alembic environment for daihou.

``daihou.db.schema.upgrade`` passes an open connection in
``config.attributes["connection"]``; the alembic command line instead gets a URL from
``sqlalchemy.url`` or ``DAIHOU_DATABASE_URL``. SQLite cannot alter tables in place, so
migrations run in batch mode there (copy-and-move).
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import (
    CreateTableOp,
    DropTableOp,
    MigrateOperation,
    MigrationScript,
    ModifyTableOps,
)
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from daihou.db import storage
from daihou.db.engine import database_url, make_engine
from daihou.db.models import Base
from daihou.db.types import Money, Rate

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and config.get_section("loggers") is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render Money and Rate as their storage type (integer fen / 1e-10 units).

    Migrations then never import daihou code, so an old revision keeps working however
    the Python types evolve.
    """
    if type_ == "type" and isinstance(obj, Money | Rate):
        return "sa.BigInteger()"
    if type_ == "type" and isinstance(obj, sa.types.TypeDecorator):
        # any other decorated type (e.g. encrypted text) is stored as its impl
        impl = obj.impl_instance
        autogen_context.imports.add("import sqlalchemy as sa")
        return f"sa.{impl!r}"
    if type_ == "server_default" and isinstance(obj, sa.DefaultClause):
        arg = obj.arg
        if isinstance(arg, sa.sql.functions.now):
            return "sa.func.now()"
    return False


def _unbatch(ops: list[MigrateOperation], made: type[CreateTableOp | DropTableOp]) -> None:
    """Take index operations out of batch blocks on tables created or dropped alongside.

    Batch mode only matters for altering an existing SQLite table; a table this revision
    creates (or drops) needs none, and plain ``op.create_index`` reads better.
    """
    tables = {op.table_name for op in ops if isinstance(op, made)}
    flat: list[MigrateOperation] = []
    for op in ops:
        if isinstance(op, ModifyTableOps) and op.table_name in tables:
            flat.extend(op.ops)
        else:
            flat.append(op)
    ops[:] = flat


def process_revision_directives(
    _context: MigrationContext, _revision: object, directives: list[MigrationScript]
) -> None:
    for script in directives:
        for upgrade_ops in script.upgrade_ops_list:
            _unbatch(upgrade_ops.ops, CreateTableOp)
        for downgrade_ops in script.downgrade_ops_list:
            _unbatch(downgrade_ops.ops, DropTableOp)


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_item=render_item,
        process_revision_directives=process_revision_directives,
        compare_type=True,
        **kwargs,
    )


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or database_url()


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    url = _url()
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()
        if url.startswith("postgresql"):  # as the online upgrade sets them (below)
            for statement in storage.statements():
                context.execute(statement)


def _run(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
        # storage parameters are not part of the schema Alembic compares: set them on
        # every upgrade, so a database made by the migrations has them too
        storage.apply(connection)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
