"""Collections commands (催收): the daily run, task lists, cases, collectors, assignment.

``--as USER`` (or ``DAIHOU_USER``) names the person acting (default: system); lists show
only what that person may see.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from daihou.cli.common import (
    DbOption,
    OutputFormat,
    console,
    engine_for,
    friendly_errors,
    jsonable,
    parse_date,
    print_json,
    unit_of_work,
)
from daihou.cli.complaints import AsUser, acting, refused

collections_app = typer.Typer(help="Collections (催收): daily run, task lists, cases.")
case_app = typer.Typer(help="Collection cases.")
collector_app = typer.Typer(help="Collectors (催收员): tier, team, territory, capacity.")
collections_app.add_typer(case_app, name="case")
collections_app.add_typer(collector_app, name="collector")

DateOpt = Annotated[str | None, typer.Option("--date", help="Business date (YYYY-MM-DD)")]
Fmt = Annotated[OutputFormat, typer.Option("--format", help="table or json")]


@collections_app.command("run")
def run(date_: DateOpt = None, db: DbOption = None) -> None:
    """Run collections for a closed date (default: the latest closed one): open and close
    cases, assign collectors, plan treatments through the contact gate, build task lists.
    Running a date again changes nothing and prints the first run's counts."""
    from daihou.collection.run import run_collections

    engine = engine_for(db)
    with friendly_errors():
        report = run_collections(engine, parse_date(date_, field="--date") if date_ else None)
    engine.dispose()
    c = report.counts
    word = "already run" if report.already_run else f"done in {report.seconds:.2f} s"
    console.print(f"collections {report.business_date}: {word}")
    console.print(f"  cases: {c['cases']}")
    console.print(f"  assignment: {c['assignment']}")
    console.print(f"  treatments: {c['treatments']}")
    console.print(f"  tasks: {c['tasks']}")
    for key in sorted(c.keys() - {"cases", "assignment", "treatments", "tasks"}):
        console.print(f"  {key}: {c[key]}")


def _work_date(session: Any, date_: str | None) -> Any:
    from daihou.eod.calendar import business_date

    return parse_date(date_, field="--date") if date_ else business_date(session)


def _task_rows(tasks: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "work_date": t.work_date,
            "collector": t.collector_user_id
            or ("supervisor" if t.assignee_role != "collector" else ""),
            "team": t.team,
            "rank": t.rank,
            "kind": t.kind,
            "slots": t.slots,
            "case": t.case_id,
            "loan": t.loan_id,
            "dpd": t.dpd,
            "priority": t.priority,
            "status": t.status,
        }
        for t in tasks
    ]


def _print_tasks(title: str, rows: list[dict[str, Any]], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        print_json(rows)
        return
    table = Table(title=title)
    for col in (
        "id",
        "collector",
        "rank",
        "kind",
        "slots",
        "case",
        "loan",
        "dpd",
        "priority",
        "status",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            *(
                str(r[k] if r[k] is not None else "")
                for k in (
                    "id",
                    "collector",
                    "rank",
                    "kind",
                    "slots",
                    "case",
                    "loan",
                    "dpd",
                    "priority",
                    "status",
                )
            )
        )
    console.print(table)


@collections_app.command("tasks")
def tasks(
    collector: Annotated[str | None, typer.Option("--collector", help="One collector")] = None,
    date_: Annotated[str | None, typer.Option("--date", help="Work date (default: today)")] = None,
    deferred: Annotated[
        bool, typer.Option("--deferred", help="Also the work beyond capacity (no task rows)")
    ] = False,
    fmt: Fmt = OutputFormat.table,
    as_user: AsUser = None,
    db: DbOption = None,
) -> None:
    """The task list (催收任务单) of a work date, by collector and rank."""
    from daihou.collection.tasks import deferred_work, task_list

    with refused(), unit_of_work(db) as session:
        day = _work_date(session, date_)
        actor = acting(session, as_user)
        found: list[Any] = task_list(session, actor=actor, work_date=day, collector=collector)
        if deferred:  # the work beyond capacity (no task rows) after each collector's tasks
            found += deferred_work(session, actor=actor, work_date=day, collector=collector)
            found.sort(key=lambda t: (t.assignee_role, t.collector_user_id or "", t.rank or 0))
        rows = _task_rows(found)
    _print_tasks(f"tasks {day}", rows, fmt)


@collections_app.command("no-feedback")
def no_feedback_cmd(
    date_: Annotated[str | None, typer.Option("--date", help="Work date (default: today)")] = None,
    fmt: Fmt = OutputFormat.table,
    as_user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Tasks of a work date without feedback by the deadline (17:00, §6)."""
    from daihou.collection.tasks import no_feedback
    from daihou.policy.loader import load_pack

    with refused(), unit_of_work(db) as session:
        day = _work_date(session, date_)
        rows = _task_rows(
            no_feedback(
                session,
                actor=acting(session, as_user),
                work_date=day,
                settings=load_pack().collections,
            )
        )
    _print_tasks(f"no feedback by the deadline, {day}", rows, fmt)


@case_app.command("show")
def case_show(
    case_id: int, fmt: Fmt = OutputFormat.table, as_user: AsUser = None, db: DbOption = None
) -> None:
    """A case, its loan, the customer's other loans (共债) and the case history."""
    from daihou.collection.cases import case_view

    with refused(), unit_of_work(db) as session:
        view = case_view(session, case_id=case_id, actor=acting(session, as_user))
        c = view.case
        data: dict[str, Any] = {
            "case": {
                "id": c.id,
                "loan": c.loan_id,
                "customer": c.customer_id,
                "status": c.status,
                "close_reason": c.close_reason,
                "opened_on": c.opened_on,
                "closed_on": c.closed_on,
                "stage": c.stage,
                "arm": c.arm,
                "strategy": c.strategy,
                "owner": c.owner_user_id,
                "team": c.team,
                "contact_status": c.contact_status,
                "promise_until": c.promise_until,
            },
            "loan": vars_of(view.loan),
            "other_loans": [vars_of(x) for x in view.other_loans],
            "history": [
                {
                    "date": h.business_date,
                    "field": h.field,
                    "from": h.old_value,
                    "to": h.new_value,
                    "reason": h.reason,
                    "by": h.actor,
                }
                for h in view.history
            ],
        }
    if fmt is OutputFormat.json:
        print_json(data)
        return
    console.print(jsonable(data["case"]))
    console.print({"loan": jsonable(data["loan"])})
    console.print({"other loans (共债)": jsonable(data["other_loans"])})
    for h in data["history"]:
        console.print(
            f"  {h['date']} {h['field']}: {h['from']} → {h['to']} ({h['reason']}, {h['by']})"
        )


def vars_of(line: Any) -> dict[str, Any]:
    return {k: getattr(line, k) for k in line.__slots__}


@collections_app.command("reassign")
def reassign(
    case_id: int,
    to: Annotated[str, typer.Option("--to", help="The collector who takes the case")],
    reason: Annotated[str, typer.Option("--reason", help="Why (stored with the change)")],
    as_user: AsUser = None,
    db: DbOption = None,
) -> None:
    """A supervisor moves one case to another collector."""
    from daihou.collection.assign import reassign_case

    with refused(), unit_of_work(db) as session:
        case = reassign_case(
            session, case_id=case_id, to_user_id=to, reason=reason, actor=acting(session, as_user)
        )
        console.print(f"case {case.id} → {case.owner_user_id}")


collections_app.command("assign", help="Assign a case to a collector (same as reassign).")(reassign)


@collections_app.command("transfer")
def transfer(
    from_: Annotated[str, typer.Option("--from", help="The collector who leaves (离职)")],
    to: Annotated[str, typer.Option("--to", help="The collector who takes the cases")],
    reason: Annotated[str, typer.Option("--reason", help="Why")] = "collector leaves",
    as_user: AsUser = None,
    db: DbOption = None,
) -> None:
    """离职移交: move every open case of a leaving collector to another."""
    from daihou.collection.assign import transfer_cases

    with refused(), unit_of_work(db) as session:
        ids = transfer_cases(
            session,
            from_user_id=from_,
            to_user_id=to,
            reason=reason,
            actor=acting(session, as_user),
        )
    console.print(f"transferred {len(ids)} cases from {from_} to {to}; {from_} is inactive")


@collector_app.command("add")
def collector_add(
    user: str,
    tier: Annotated[str, typer.Option("--tier", help="desk, junior or senior")],
    team: Annotated[str | None, typer.Option("--team")] = None,
    territory: Annotated[str | None, typer.Option("--territory", help="属地")] = None,
    capacity: Annotated[int, typer.Option("--capacity", help="Tasks a day")] = 80,
    as_user: AsUser = None,
    db: DbOption = None,
) -> None:
    """Make an existing user a collector (or change their tier, team, capacity)."""
    from daihou.collection.assign import register_collector

    with refused(), unit_of_work(db) as session:
        register_collector(
            session,
            user_id=user,
            tier=tier,
            team=team,
            territory=territory,
            daily_capacity=capacity,
            actor=acting(session, as_user),
        )
    console.print(f"{user}: {tier} collector, team {team or '-'}, capacity {capacity}")


@collections_app.command("arms")
def arms(
    since: Annotated[str, typer.Option("--since", help="Cases opened from")],
    until: Annotated[str | None, typer.Option("--until", help="… through (default: today)")] = None,
    db: DbOption = None,
) -> None:
    """Champion–challenger outcomes per arm: cases, cured, recovered, contacts."""
    from daihou.collection.arms import arm_outcomes

    with unit_of_work(db) as session:
        end = (
            parse_date(until, field="--until")
            if until
            else _work_date(session, None) - timedelta(days=1)
        )
        rows = arm_outcomes(session, since=parse_date(since, field="--since"), until=end)
    print_json([vars_of(r) for r in rows])


def register(app: typer.Typer) -> None:
    app.add_typer(collections_app, name="collections")
