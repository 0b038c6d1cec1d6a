"""The demo and the strategy simulator: a fresh database with a synthetic book, run
day by day through servicing, end of day and collections (``daihou.demo.simulate``).

Deterministic: the same seed, size, start date and policy give the same summary.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, make_url, select

from daihou.collection.message_templates import seed_templates
from daihou.compliance.privacy.crypto import (
    KeyNotConfigured,
    current_keyring,
    ensure_key_file,
    install_keyring,
)
from daihou.db.engine import make_engine, transaction
from daihou.db.schema import init_database
from daihou.db.wal import background_checkpoints
from daihou.demo.behaviour import BehaviourModel, load_behaviour
from daihou.demo.book import sim_loan_rows
from daihou.demo.post import DemoPost
from daihou.demo.simulate import DayHook, SimContext, simulate_days
from daihou.demo.staff import create_agencies, create_staff, staff_for
from daihou.demo.summary import SimSummary, summarise
from daihou.demo.synthetic import write_csv
from daihou.demo.work import collections_day
from daihou.gc_pause import gc_spaced
from daihou.loans.book import import_loans
from daihou.loans.lpr import seed_lpr_from_pack
from daihou.loans.models import Loan
from daihou.policy import PolicyPack, load_pack

DEFAULT_START = date(2026, 5, 1)
Progress = Callable[[str, int, int], None]


def demo_key(db_path: Path) -> None:
    """The demo's throw-away database gets its own key file beside it (mode 0600) when
    no data key is configured; real books are refused without a configured key."""
    try:
        current_keyring()
    except KeyNotConfigured:
        install_keyring(ensure_key_file(Path(db_path).with_suffix(".keys")))


def fresh_sqlite(db_path: Path) -> str:
    """Remove the file, its journal and an earlier run's letters; returns the URL."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(letters_beside(Path(db_path)), ignore_errors=True)
    demo_key(db_path)
    return f"sqlite:///{db_path}"


def letters_beside(db_path: Path) -> Path:
    """The folder of a demo's letters (PDFs): ``demo.db`` → ``demo-letters/`` beside it."""
    return db_path.with_name(f"{db_path.stem}-letters")


def letters_dir_of(db_url: str) -> Path | None:
    """Where the demo at ``db_url`` writes its letters: beside a SQLite file; ``None``
    for a server database or an in-memory one (the run uses a folder of its own that
    is removed when it ends)."""
    url = make_url(db_url)
    path = url.database
    if url.get_backend_name() != "sqlite" or path is None or path in ("", ":memory:"):
        return None
    return letters_beside(Path(path))


def build_world(
    engine: Engine,
    *,
    loans: int,
    seed: int,
    start: date,
    pack: PolicyPack,
    progress: Progress | None = None,
) -> None:
    """An empty database at business date ``start`` with the simulator's book."""
    init_database(engine=engine, business_date=start)
    with transaction(engine) as s:
        if s.scalar(select(func.count()).select_from(Loan)):
            raise ValueError("the database already holds loans: the simulator needs an empty one")
        seed_lpr_from_pack(s, pack)
        create_staff(s, staff_for(loans))
        create_agencies(s, start)
        seed_templates(s)
    with tempfile.TemporaryDirectory() as tmp:
        book = write_csv(Path(tmp) / "book.csv", sim_loan_rows(loans, seed=seed, start=start))
        import_loans(
            engine=engine,
            path=book,
            pack=pack,
            progress=(lambda d, t: progress("import", d, t)) if progress else None,
        )


def run_simulation(
    db_url: str,
    *,
    loans: int,
    days: int,
    seed: int,
    start: date = DEFAULT_START,
    pack: PolicyPack | None = None,
    behaviour: BehaviourModel | None = None,
    hooks: Sequence[DayHook] | None = None,
    progress: Progress | None = None,
    letters_dir: Path | None = None,
) -> SimSummary:
    """Build the world in the (empty) database at ``db_url`` and run ``days`` days.

    Letters go to ``letters_dir``, by default ``letters_dir_of(db_url)``."""
    if loans < 1:
        raise ValueError("loans: must be at least 1")
    if days < 1:
        raise ValueError("days: must be at least 1")
    pack = pack or load_pack()
    engine = make_engine(db_url)
    with ExitStack() as cleanup:
        cleanup.callback(engine.dispose)
        letters = letters_dir or letters_dir_of(db_url)
        if letters is None:
            letters = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="letters-")))
        build_world(engine, loans=loans, seed=seed, start=start, pack=pack, progress=progress)
        ctx = SimContext(
            seed=seed,
            behaviour=behaviour or load_behaviour(),
            start=start,
            pack=pack,
            post=DemoPost(letters, pack.collections.timezone),
        )
        # the simulated days commit thousands of times: the log is copied back on the
        # second core instead of by each committing caller (see daihou.db.wal); the
        # world built so far is frozen for the collector (daihou.gc_pause)
        with background_checkpoints(engine), gc_spaced():
            simulate_days(
                engine,
                ctx,
                days=days,
                hooks=default_hooks() if hooks is None else hooks,
                progress=progress,
            )
        with transaction(engine) as s:
            return summarise(s, ctx, start + timedelta(days=days - 1), pack=pack)


def default_hooks() -> list[DayHook]:
    """The day's work after end of day: the collections run, messages, collectors."""
    return [collections_day]
