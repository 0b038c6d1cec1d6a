"""A date whose end of day stopped after some of its steps resumes in the mode it started
in. The crash test (``test_crash.py``) found this by chance: on a loaded machine its
first kill could land in the first night's later steps. The restart then counted the
first night's step rows as "a run has happened" and closed that night as an ordinary
day, so the snapshot covered only the loans that changed. Every untouched loan then had
no state until its next change, and the month's roll rates differed. Here the stop is
made deterministic: the snapshot step fails once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from daihou.db.engine import transaction
from daihou.eod import runner
from daihou.eod.models import EodRun, LoanSnapshot
from tests.eod.helpers import book_state, eod, today
from tests.eod.test_equivalence import START, make_book


def _snapshot_fails_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def stop(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.undo()  # once: the next run has the real step back
        raise RuntimeError("stopped before the snapshot")

    monkeypatch.setitem(runner.STEPS, "snapshot", stop)


def test_a_first_night_stopped_part_way_resumes_as_a_full_run(
    engine: Engine, other_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loans = make_book(engine, tmp_path, seed=21, n=12)
    make_book(other_engine, tmp_path, seed=21, n=12)
    end = START + timedelta(days=25)  # past the month end: roll rates compare the two
    eod(other_engine, end)  # the clean history
    _snapshot_fails_once(monkeypatch)
    with pytest.raises(RuntimeError, match="before the snapshot"):
        eod(engine, end)
    assert today(engine) == START  # the first night is not closed
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(EodRun)) > 0  # but steps ran
    eod(engine, end)
    dates = [START + timedelta(days=k) for k in range(26)]
    assert book_state(engine, loans, dates) == book_state(other_engine, loans, dates)
    with transaction(engine) as s:
        modes = set(s.scalars(select(EodRun.mode).where(EodRun.business_date == START)))
    assert modes == {"full"}


def test_a_full_run_stopped_part_way_resumes_as_a_full_run(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loans = make_book(engine, tmp_path, seed=5, n=8)
    eod(engine, START + timedelta(days=3))
    d = today(engine)
    _snapshot_fails_once(monkeypatch)
    with pytest.raises(RuntimeError, match="before the snapshot"):
        eod(engine, d, full=True)
    eod(engine, d)  # resumed without --full: the date finishes as it started
    with transaction(engine) as s:
        modes = set(s.scalars(select(EodRun.mode).where(EodRun.business_date == d)))
        written = s.scalar(
            select(func.count()).select_from(LoanSnapshot).where(LoanSnapshot.business_date == d)
        )
    assert modes == {"full"}
    assert written == len(loans)  # every loan's snapshot, as a full run writes
