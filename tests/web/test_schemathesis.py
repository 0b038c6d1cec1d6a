"""Property-based requests from the OpenAPI document (schemathesis): whatever the input,
the API answers without a server error (no 5xx), signed in as users of several roles,
on SQLite and PostgreSQL. Kept small for CI (a few examples per operation)."""

from __future__ import annotations

from fastapi import FastAPI

from tests.web.conftest import Book
from tests.web.fuzz import fuzz, operations

USERS = ("ops", "risk", "comp", "col")


def test_no_server_error(app: FastAPI, book: Book) -> None:
    ops = operations(app)
    assert len(ops) >= 25
    statuses = fuzz(ops, book, USERS)
    # the generated requests got through authentication and reached the services
    assert sum(n for code, n in statuses.items() if code < 300) > 50, statuses
    assert statuses[403] > 0 and statuses[422] > 0, statuses
