"""The ordinary day's snapshot finds each loan's night in ``accruals`` by its key on
PostgreSQL whatever the table's statistics say.

Statistics taken before the night (autovacuum's, or an ``ANALYZE`` of an earlier day)
know no row of the date being closed, so the planner estimates that date at one row. With
an index on the date alone it then read the loan's night through that index, filtering by
loan — the whole night's ~100k rows once per loan, minutes at 1 M loans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.dialects import postgresql

from daihou.eod.steps import StepContext, snapshot_from_work
from daihou.policy.loader import load_pack

NIGHT = date(2026, 4, 1)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_nights_accruals_found_by_loan_and_date_with_stale_statistics(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        # 40 earlier nights of 500 loans each, analysed: the statistics know none of NIGHT
        conn.execute(
            text(
                "INSERT INTO accruals (loan_id, business_date, penalty, compound, source) "
                "SELECT 'L' || lpad(k::text, 6, '0'), DATE '2026-02-20' + n, 100, 10, 'eod' "
                "FROM generate_series(0, 39) AS n, generate_series(1, 500) AS k"
            )
        )
        conn.execute(text("ANALYZE accruals"))
    ctx = StepContext(NIGHT, False, load_pack())
    stmt = snapshot_from_work(ctx, accrued=True, sqlite=False).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    with engine.connect() as conn:
        doc = conn.execute(text(f"EXPLAIN (FORMAT JSON) {stmt}")).scalar_one()
    plan = (json.loads(doc) if isinstance(doc, str) else doc)[0]["Plan"]
    reads = [n for n in _nodes(plan) if n.get("Relation Name") == "accruals"]
    assert len(reads) == 1, plan  # penalty and compound in one lookup per loan
    for node in reads:
        assert node["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), node
        cond = node.get("Index Cond") or next(
            c.get("Index Cond", "") for c in node.get("Plans", [])
        )
        assert "loan_id" in cond and "business_date" in cond, node
