"""Where the demo's letters go: beside its database file (``demo.db`` →
``demo-letters/``), never into a fresh folder of the system's temporary directory that
nobody removes."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from daihou.demo.run import default_hooks, fresh_sqlite, letters_dir_of, run_simulation
from daihou.demo.simulate import SimContext


def test_letters_go_beside_the_database_file(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "system-temp"  # this process's temporary folder, for the test
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    seen: list[Path] = []

    def spy(_engine: Engine, _day: date, ctx: SimContext) -> None:
        assert ctx.post is not None
        seen.append(ctx.post.settings.letters_dir)

    db = tmp_path / "book.db"
    run_simulation(f"sqlite:///{db}", loans=20, days=2, seed=1, hooks=[*default_hooks(), spy])
    assert seen == [tmp_path / "book-letters"] * 2
    # a server database: a folder of the run's own, gone when the run ends
    seen.clear()
    run_simulation(db_url, loans=20, days=1, seed=1, hooks=[spy])
    beside = letters_dir_of(db_url)
    assert seen == [beside] if beside is not None else len(seen) == 1 and not seen[0].exists()
    assert not list(temp.iterdir())  # nothing left behind


def test_letters_folder_of_a_url(tmp_path: Path) -> None:
    assert letters_dir_of(f"sqlite:///{tmp_path}/demo.db") == tmp_path / "demo-letters"
    assert letters_dir_of("sqlite:///demo.db") == Path("demo-letters")
    assert letters_dir_of("sqlite://") is None
    assert letters_dir_of("sqlite:///:memory:") is None
    assert letters_dir_of("postgresql://u@localhost/book") is None


def test_a_fresh_demo_database_drops_the_earlier_runs_letters(tmp_path: Path) -> None:
    old = tmp_path / "demo-letters"
    old.mkdir()
    (old / "letters-2026-05-01-abc.zip").write_bytes(b"old batch")
    (tmp_path / "demo.db").write_bytes(b"old book")
    assert fresh_sqlite(tmp_path / "demo.db") == f"sqlite:///{tmp_path / 'demo.db'}"
    assert not old.exists() and not (tmp_path / "demo.db").exists()
