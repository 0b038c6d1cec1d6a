"""Property-based requests from the OpenAPI document (schemathesis): whatever the input,
the API answers without a server error (no 5xx), signed in as users of several roles,
on SQLite and PostgreSQL. Kept small for CI (a few examples per operation)."""

from __future__ import annotations

from collections import Counter

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from tests.web.conftest import Book

USERS = ("ops", "risk", "comp", "col")
EXAMPLES = 4


def test_no_server_error(app: FastAPI, book: Book) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
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
    # the generated requests got through authentication and reached the services
    assert sum(n for code, n in statuses.items() if code < 300) > 50, statuses
    assert statuses[403] > 0 and statuses[422] > 0, statuses
