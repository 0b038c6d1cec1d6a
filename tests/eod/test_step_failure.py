"""A step that fails part-way through one of its bulk statements leaves nothing written.

On SQLite end of day's bulk ``UPDATE``s and ``INSERT … SELECT``s run as ``… OR FAIL``
(``db.sqlfn.no_statement_journal``): a failing row no longer undoes the statement's
earlier rows by itself, the step's transaction must. Each case here makes the second
row a statement writes fail (a trigger raising ``FAIL`` on SQLite, an exception on
PostgreSQL), then checks that the table, the step's run rows and the business date are
as before, and that the same date closes once the fault is gone.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from daihou.db.engine import transaction
from tests.eod.helpers import eod, today
from tests.factories import add_loans, init_book, loan_row

# (step, table, trigger event, date closed before, date that fails): the three loans
# fall due on the 15th of each month and pay nothing, so on 19 February each accrues
# 罚息 on its first installment, moves a day past due and gets a snapshot, and on
# 15 March each has its second installment falling due
CASES = [
    ("due", "installments", "UPDATE OF status", date(2024, 3, 14), date(2024, 3, 15)),
    ("delinquency", "loans", "UPDATE OF dpd", date(2024, 2, 18), date(2024, 2, 19)),
    # the first night an installment accrues (its due date) adds its row, later nights
    # rewrite it
    ("accrual", "installment_accruals", "INSERT", date(2024, 2, 14), date(2024, 2, 15)),
    (
        "accrual",
        "installment_accruals",
        "UPDATE OF penalty_base",
        date(2024, 2, 19),
        date(2024, 2, 20),
    ),
    ("accrual", "accruals", "INSERT", date(2024, 2, 18), date(2024, 2, 19)),
    ("snapshot", "loan_snapshots", "INSERT", date(2024, 2, 18), date(2024, 2, 19)),
]


def _fail_on_second_row(engine: Engine, table: str, event: str) -> None:
    """Make the second row ``event`` writes into ``table`` fail."""
    with engine.begin() as c:
        c.execute(text("CREATE TABLE fault_budget (n INTEGER)"))
        c.execute(text("INSERT INTO fault_budget VALUES (1)"))
        if engine.dialect.name == "sqlite":
            c.execute(
                text(
                    f"CREATE TRIGGER fault BEFORE {event} ON {table} BEGIN"
                    " UPDATE fault_budget SET n = n - 1;"
                    " SELECT RAISE(FAIL, 'injected fault')"
                    " WHERE (SELECT n FROM fault_budget) < 0; END"
                )
            )
            return
        c.execute(
            text(
                "CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                " UPDATE fault_budget SET n = n - 1;"
                " IF (SELECT n FROM fault_budget) < 0 THEN"
                " RAISE EXCEPTION 'injected fault'; END IF;"
                " RETURN NEW; END $$"
            )
        )
        c.execute(
            text(
                f"CREATE TRIGGER fault BEFORE {event} ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION fault()"
            )
        )


def _remove_fault(engine: Engine, table: str) -> None:
    with engine.begin() as c:
        if engine.dialect.name == "sqlite":
            c.execute(text("DROP TRIGGER fault"))
        else:
            c.execute(text(f"DROP TRIGGER fault ON {table}"))
            c.execute(text("DROP FUNCTION fault()"))
        c.execute(text("DROP TABLE fault_budget"))


def _rows(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))]


def _runs(engine: Engine, d: date) -> list[str]:
    with engine.connect() as c:
        return list(
            c.scalars(
                text("SELECT step FROM eod_runs WHERE business_date = :d ORDER BY id"), {"d": d}
            )
        )


@pytest.mark.parametrize(("step", "table", "event", "before", "failing"), CASES)
def test_a_statement_failing_part_way_leaves_nothing_written(
    engine: Engine,
    tmp_path: Path,
    step: str,
    table: str,
    event: str,
    before: date,
    failing: date,
) -> None:
    init_book(engine, date(2024, 2, 10))
    add_loans(engine, tmp_path, [loan_row("L1"), loan_row("L2"), loan_row("L3")])
    eod(engine, before)
    assert today(engine) == failing
    kept, done_before = _rows(engine, table), _runs(engine, failing)
    assert step not in done_before

    _fail_on_second_row(engine, table, event)
    with pytest.raises(Exception, match="injected fault"):
        eod(engine, failing)

    # the first row the statement wrote is gone with the rest of the step
    assert _rows(engine, table) == kept
    assert step not in _runs(engine, failing)
    assert today(engine) == failing

    _remove_fault(engine, table)
    eod(engine, failing)
    assert step in _runs(engine, failing)
    assert today(engine) == date.fromordinal(failing.toordinal() + 1)
    with transaction(engine) as s:
        assert s.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0
    # and the faulted statement does write that table when it runs clean, so the failed
    # run above had written its first row before the fault
    assert _rows(engine, table) != kept
