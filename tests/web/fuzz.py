"""Schemathesis over the application's OpenAPI document: the operations to fuzz
(optionally only those under some path prefixes) and a run that calls each generated
request as several users, asserts no 5xx and returns how often each status came back,
so that each test can assert what its own book should produce."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from tests.web.conftest import Book

EXAMPLES = 4


def operations(app: FastAPI, prefixes: tuple[str, ...] = ("",)) -> list[schemathesis.APIOperation]:
    """The API operations whose path starts with one of ``prefixes`` (default: all)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if op.path.startswith(prefixes)
    ]


def fuzz(
    ops: Iterable[schemathesis.APIOperation],
    book: Book,
    users: Sequence[str],
    examples: int = EXAMPLES,
) -> Counter[int]:
    """Call ``examples`` generated requests of every operation as each of ``users``;
    fail on any 5xx (naming user, method, path, query and body); return the statuses."""
    statuses: Counter[int] = Counter()
    for operation in ops:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            for user in users:
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
    return statuses
