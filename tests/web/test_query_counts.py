"""The case page and the task list cost a fixed number of SQL statements, whatever the
size of the book or of the collector's list: counted with a ``before_cursor_execute``
listener before and after the book grows (more loans, cases and tasks, for the same
collector and for others), on SQLite and PostgreSQL. A query per row (N+1) or a page
cut in Python after reading the whole list would change the count."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select

from daihou.collection.models import CollectionCase
from daihou.db.engine import transaction
from tests.factories import add_loans, loan_row
from tests.web.collector_data import task_for
from tests.web.conftest import Book, _build, login, open_book

GROWN: dict[str, bool] = {}


def build(engine: Engine, tmp: Path) -> dict[str, str]:
    tokens = _build(engine, tmp)
    for rank, loan_id in enumerate(("W1", "W3"), start=1):
        task_for(engine, loan_id, rank=rank)
    return tokens


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def book(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Book]:
    yield from open_book(str(request.param), tmp_path_factory, build)


def grow(engine: Engine, tmp: Path, n: int = 30) -> None:
    """``n`` more loans, each with a case and a task: the first half on col's list (the
    list grows), the rest on col2's (the book grows around it)."""
    ids = [f"G{i}" for i in range(1, n + 1)]
    add_loans(engine, tmp, [loan_row(i, first_due_on="2024-02-15") for i in ids])
    for i, loan_id in enumerate(ids):
        mine = i < n // 2
        task_for(
            engine,
            loan_id,
            collector="col" if mine else "col2",
            team="east" if mine else "west",
            rank=10 + i,
        )


class Counter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self) -> Counter:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)


def counts(web: TestClient, book: Book, case_id: int) -> dict[str, int]:
    requests = {
        "case page": lambda: web.get(f"/cases/{case_id}"),
        "case api": lambda: web.get(f"/api/v1/cases/{case_id}", headers=book.headers("col")),
        "task list page": lambda: web.get("/workbench"),
        "task list api": lambda: web.get("/api/v1/tasks?per_page=5", headers=book.headers("col")),
        "task list api, page 2": lambda: web.get(
            "/api/v1/tasks?per_page=1&page=2", headers=book.headers("col")
        ),
    }
    out = {}
    reads_of_case: dict[str, int] = {}
    for name, call in requests.items():
        assert call().status_code == 200, name  # warm: caches of settings and packs
        with Counter(book.engine) as seen:
            answer = call()
        assert answer.status_code == 200, (name, answer.text[:300])
        out[name] = len(seen.statements)
        if name.startswith("case"):  # the case read once: no part reads it, or the
            # customer's or loan's open cases, again
            reads_of_case[name] = sum(
                q.lstrip().startswith("SELECT collection_cases.") for q in seen.statements
            )
        if name.startswith("task list"):  # paged in SQL, not cut from the whole list
            listing = [
                q for q in seen.statements if "FROM collection_tasks" in q and "count(" not in q
            ]
            assert listing and all("LIMIT" in q for q in listing), listing
        if os.environ.get("SHOW_QUERIES"):
            print(name, *seen.statements, sep="\n---\n")
    assert reads_of_case == {"case page": 1, "case api": 1}, reads_of_case
    return out


def test_statements_per_request_do_not_grow_with_the_book(
    web: TestClient, book: Book, tmp_path: Path
) -> None:
    with transaction(book.engine) as s:
        case_id = s.scalars(select(CollectionCase.id).where(CollectionCase.loan_id == "W1")).one()
    login(web, "col")
    before = counts(web, book, case_id)
    grow(book.engine, tmp_path)
    listed = web.get("/api/v1/tasks?per_page=500", headers=book.headers("col")).json()
    assert len(listed["items"]) == 17  # W1, W3 and 15 grown tasks: the list did grow
    after = counts(web, book, case_id)
    assert after == before
    # the case page and API read the case once and hand it to the parts (on SQLite they
    # were 29 and 28, then 20 and 19 before the sign-in check read the session and its
    # user in one statement); the task list page and API list a page with its amounts and
    # next actions in one statement (9 and 8 before). SQLite runs one statement more per
    # request than PostgreSQL.
    expected = {"sqlite": (19, 18, 6, 5), "postgresql": (18, 17, 5, 4)}[book.engine.dialect.name]
    names = ("case page", "case api", "task list page", "task list api")
    assert tuple(after[n] for n in names) == expected, after
    assert all(n < 40 for n in after.values()), after
