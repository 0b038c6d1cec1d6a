"""Schemathesis over the supervisor, agency and litigation operations on the
supervision book (real requests, cases, placements, legal files to find): whatever the
input, no 5xx, for a supervisor, a manager, an agency user and a collector, on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from tests.web.conftest import Book, open_book
from tests.web.supervision_book import build

USERS = ("sup", "mgr", "agy", "col")
EXAMPLES = 4
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
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if op.path.startswith(PREFIXES)
    ]
    assert len(operations) >= 20
    statuses: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            for user in USERS:
                response = case.call(headers=book.headers(user))
                statuses[response.status_code] += 1
                assert response.status_code < 500, (
                    user,
                    case.method,
                    case.formatted_path,
                    case.query,
                    case.body,
                    response.text[:500],
                )

        check()
    assert sum(n for code, n in statuses.items() if code < 300) > 10, statuses
    assert statuses[403] > 0 and statuses[422] > 0, statuses
