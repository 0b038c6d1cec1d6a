"""A second, independent database of the same backend, for comparing two histories."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from daihou.db.engine import database_url, make_engine
from daihou.db.models import Base
from tests.conftest import PG_URL


@pytest.fixture
def other_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    if backend == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path}/other.db")
        Base.metadata.create_all(eng)
        yield eng
        eng.dispose()
        return
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = make_engine(f"{database_url(PG_URL)}?options=-csearch_path%3D{schema}")
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
