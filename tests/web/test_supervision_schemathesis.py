"""Schemathesis over the supervisor, agency and litigation operations on the
supervision book (real requests, cases, placements, legal files to find): whatever the
input, no 5xx, for a supervisor, a manager, an agency user and a collector, on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from tests.web.conftest import Book, open_book
from tests.web.fuzz import fuzz, operations
from tests.web.supervision_book import build

USERS = ("sup", "mgr", "agy", "col")
PREFIXES = (
    "/api/v1/approvals",
    "/api/v1/supervision",
    "/api/v1/agencies",
    "/api/v1/placement",
    "/api/v1/recalls",
    "/api/v1/portal",
    "/api/v1/legal-files",
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def book(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Book]:
    yield from open_book(str(request.param), tmp_path_factory, build)


def test_no_server_error(app: FastAPI, book: Book) -> None:
    ops = operations(app, PREFIXES)
    assert len(ops) >= 20
    statuses = fuzz(ops, book, USERS)
    assert sum(n for code, n in statuses.items() if code < 300) > 10, statuses
    assert statuses[403] > 0 and statuses[422] > 0, statuses
