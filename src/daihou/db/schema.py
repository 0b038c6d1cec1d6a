"""Create and upgrade the database schema with the Alembic migrations shipped in the package.

The migrations live in ``daihou/db/migrations`` (package data), so an installed wheel
can upgrade a database without a checkout: ``upgrade(engine)`` builds the Alembic
configuration in code and runs on the engine's own connection.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from daihou.db.engine import transaction
from daihou.eod.calendar import initialise_business_date

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic ``Config`` pointing at the packaged migrations (no ini file needed)."""
    config = Config()
    # ConfigParser interpolates "%": a path containing one must be escaped.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of daihou."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` if it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest); a no-op when already there."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def init_database(*, engine: Engine, business_date: date) -> None:
    """Create or upgrade the schema, then set the business date (业务日期) if not yet set.

    Running it again is harmless: the schema is already at head and the business date,
    which only end of day moves, stays as it is.
    """
    upgrade(engine)
    with transaction(engine) as session:
        initialise_business_date(session, business_date)
