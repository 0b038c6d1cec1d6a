"""Test databases: SQLite always, PostgreSQL when ``DAIHOU_TEST_DATABASE_URL`` is set.

Every test that takes ``engine`` runs once per database. On PostgreSQL each test gets
its own schema (dropped afterwards), so tests are isolated and can run in parallel.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, text

from daihou.db.engine import database_url, make_engine
from daihou.db.models import Base

PG_URL = os.environ.get("DAIHOU_TEST_DATABASE_URL")

# Personal fields are encrypted at rest: tests (and the subprocesses they start) use a
# throw-away data key unless one is configured.
if not os.environ.get("DAIHOU_DATA_KEY") and not os.environ.get("DAIHOU_KEY_FILE"):
    os.environ["DAIHOU_DATA_KEY"] = base64.b64encode(os.urandom(32)).decode()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgresql":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL: set DAIHOU_TEST_DATABASE_URL")
    return str(request.param)


@contextmanager
def _empty_database(backend: str, directory: os.PathLike[str], name: str) -> Iterator[str]:
    """A URL to an empty database (no tables): a SQLite file ``name`` in ``directory``,
    or a PostgreSQL schema of its own, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory}/{name}.db"
        return
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    base = database_url(PG_URL)
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@contextmanager
def _schema_engine(url: str) -> Iterator[Engine]:
    eng = make_engine(url)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def db_url(backend: str, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """A URL to an empty database (no tables) of the given backend."""
    with _empty_database(backend, tmp_path, "test") as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database with the full schema created."""
    with _schema_engine(db_url) as eng:
        yield eng


@pytest.fixture
def other_engine(backend: str, tmp_path: os.PathLike[str]) -> Iterator[Engine]:
    """A second, independent database of the same backend with the full schema, for
    comparing two histories."""
    with _empty_database(backend, tmp_path, "other") as url, _schema_engine(url) as eng:
        yield eng
