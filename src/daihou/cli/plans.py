"""Plans, waivers, write-off and approvals: ``daihou plan|waiver|writeoff|approvals``.

Every command acts as ``--by USER`` (an active user; their roles decide what is
allowed); ``plan review`` and ``approvals expire`` run as the system by default.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.cli.common import (
    DbOption,
    OutputFormat,
    console,
    err_console,
    parse_date,
    print_json,
    unit_of_work,
)
from daihou.collection.approval_models import ApprovalRequest, PlanStatusChange, RepaymentPlan
from daihou.kernel.money import fmt

plan_app = typer.Typer(help="Repayment plans (分期还款): request, approve, sign, review.")
approvals_app = typer.Typer(help="Approval requests: inbox, cancel, expire.")

By = Annotated[
    str | None,
    typer.Option("--by", envvar="DAIHOU_USER", help="Username acting", show_default=False),
]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept with the decision)")]
Fmt = Annotated[OutputFormat, typer.Option("--format", help="table or json")]


def register(app: typer.Typer) -> None:
    from daihou.cli.writeoffs import waiver_app, writeoff_app

    app.add_typer(plan_app, name="plan")
    app.add_typer(waiver_app, name="waiver")
    app.add_typer(writeoff_app, name="writeoff")
    app.add_typer(approvals_app, name="approvals")


@contextmanager
def acting(
    db: str | None, by: str | None, *, required: bool = True
) -> Iterator[tuple[Session, Actor]]:
    """A unit of work and the actor; a refusal is a red message and exit code 1."""
    if by is None and required:
        err_console.print("[bold red]error:[/] --by USER is required", highlight=False)
        raise typer.Exit(2)
    try:
        with unit_of_work(db) as session:
            from daihou.auth.service import actor_for

            yield session, (actor_for(session, by) if by is not None else SYSTEM)
    except PermissionError as exc:
        err_console.print(f"[bold red]refused:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None


def request_data(r: ApprovalRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "status": r.status,
        "loan_id": r.loan_id,
        "case_id": r.case_id,
        "amount": r.amount,
        "requested_by": r.requested_by,
        "requested_on": r.requested_on,
        "expires_on": r.expires_on,
        "decided_by": r.decided_by,
        "decided_basis": r.decided_basis,
        "decision_reason": r.decision_reason,
        "transaction_id": r.transaction_id,
        "payload": r.payload,
    }


def say_request(r: ApprovalRequest, output: OutputFormat) -> None:
    if output is OutputFormat.json:
        print_json(request_data(r))
        return
    who = f" by {r.decided_by}" if r.decided_by else ""
    console.print(
        f"{r.kind} request [bold]{r.id}[/] for loan {r.loan_id}: {fmt(r.amount)} — {r.status}{who}"
    )


# -- plans -------------------------------------------------------------------------------
@plan_app.command("request")
def plan_request(
    loan_id: Annotated[str, typer.Argument(help="Loan id")],
    installments: Annotated[int, typer.Option("--installments", help="Number (3-6 by default)")],
    income: Annotated[str, typer.Option("--income", help="Declared monthly income")],
    first_due: Annotated[str, typer.Option("--first-due", help="First plan due date")],
    amounts: Annotated[
        str | None,
        typer.Option("--amounts", help="Fixed amounts, comma separated (default: equal)"),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    by: By = None,
    db: DbOption = None,
    output: Fmt = OutputFormat.table,
) -> None:
    """Propose a plan replacing what is overdue; it waits for approval."""
    from daihou.collection.plans import request_plan

    due = parse_date(first_due, field="--first-due")
    with acting(db, by) as (session, actor):
        plan = request_plan(
            session=session,
            actor=actor,
            loan_id=loan_id,
            installments=installments,
            monthly_income=income,
            first_due_on=due,
            amounts=[a.strip() for a in amounts.split(",")] if amounts else None,
            reason=reason,
        )
        _say_plan(session, plan, output)


@plan_app.command("approve")
def plan_approve(plan_id: int, reason: Reason, by: By = None, db: DbOption = None) -> None:
    """Approve a plan (someone other than the requester, within their limit)."""
    from daihou.collection.plans import approve_plan

    with acting(db, by) as (session, actor):
        plan = approve_plan(session=session, actor=actor, plan_id=plan_id, reason=reason)
        console.print(f"plan {plan.id} approved by {actor.user_id}")


@plan_app.command("reject")
def plan_reject(plan_id: int, reason: Reason, by: By = None, db: DbOption = None) -> None:
    from daihou.collection.plans import approve_plan

    with acting(db, by) as (session, actor):
        approve_plan(session=session, actor=actor, plan_id=plan_id, approve=False, reason=reason)
        console.print(f"plan {plan_id} rejected by {actor.user_id}")


@plan_app.command("sign")
def plan_sign(
    plan_id: int, by: By = None, db: DbOption = None, output: Fmt = OutputFormat.table
) -> None:
    """Record the signed agreement: the plan replaces the overdue amounts."""
    from daihou.collection.plans import sign_plan

    with acting(db, by) as (session, actor):
        plan = sign_plan(session=session, actor=actor, plan_id=plan_id)
        _say_plan(session, plan, output)


@plan_app.command("show")
def plan_show(
    plan_id: int, by: By = None, db: DbOption = None, output: Fmt = OutputFormat.table
) -> None:
    """A plan, its installments as the loan has them now, and its status history."""
    from daihou.auth.permissions import authorize
    from daihou.collection.approvals import case_scope
    from daihou.collection.models import CollectionCase

    with acting(db, by) as (session, actor):
        plan = session.get(RepaymentPlan, plan_id)
        if plan is None:
            raise LookupError(f"plan_id: no repayment plan {plan_id}")
        case = session.get(CollectionCase, plan.case_id) if plan.case_id else None
        authorize(actor, "case.view", resource=case_scope(case))
        _say_plan(session, plan, output)


def _say_plan(session: Session, plan: RepaymentPlan, output: OutputFormat) -> None:
    from daihou.collection.plans import plan_rows

    session.flush()
    rows = plan_rows(session, plan) if plan.signed_on else []
    history = session.scalars(
        select(PlanStatusChange)
        .where(PlanStatusChange.plan_id == plan.id)
        .order_by(PlanStatusChange.id)
    ).all()
    data = {
        "id": plan.id,
        "loan_id": plan.loan_id,
        "status": plan.status,
        "approval_id": plan.approval_id,
        "monthly_income": plan.monthly_income,
        "total": plan.total,
        "schedule": plan.schedule,
        "signed_on": plan.signed_on,
        "installments": [
            {
                "period": r.period,
                "due_date": r.due_date,
                "status": r.status,
                "due": sum((getattr(r, f"{c}_due") for c in _C), r.principal_due * 0),
                "paid": sum((getattr(r, f"{c}_paid") for c in _C), r.principal_due * 0),
            }
            for r in rows
        ],
        "history": [
            {
                "on": h.business_date,
                "from": h.old_status,
                "to": h.new_status,
                "by": h.actor,
                "reason": h.reason,
            }
            for h in history
        ],
    }
    if output is OutputFormat.json:
        print_json(data)
        return
    console.print(
        f"plan [bold]{plan.id}[/] for loan {plan.loan_id}: {plan.status}, total "
        f"{fmt(plan.total)}, income {fmt(plan.monthly_income)} (approval {plan.approval_id})"
    )
    table = Table(title="installments" if rows else "schedule (not signed)")
    for col in ("#", "due date", "amount", "paid", "status"):
        table.add_column(col, justify="right")
    if rows:
        for item in data["installments"]:  # type: ignore[attr-defined]
            table.add_row(
                str(item["period"]),
                str(item["due_date"]),
                fmt(item["due"]),
                fmt(item["paid"]),
                item["status"],
            )
    else:
        for k, (d, a) in enumerate(plan.schedule, start=1):
            table.add_row(str(k), d, a, "", "")
    console.print(table)
    for h in data["history"]:  # type: ignore[attr-defined]
        console.print(f"{h['on']} {h['from'] or '—'} → {h['to']} by {h['by']}: {h['reason'] or ''}")


_C = ("principal", "interest", "fee", "penalty", "compound")


@plan_app.command("review")
def plan_review(by: By = None, db: DbOption = None) -> None:
    """After end of day: complete paid-up plans, break plans with a missed installment."""
    from daihou.collection.plans import review_plans

    with acting(db, by, required=False) as (session, actor):
        counts = review_plans(session=session, actor=actor)
        console.print(
            f"plans completed: {counts['completed']}, broken: {counts['broken']}, "
            f"lapsed unsigned: {counts['lapsed']}"
        )


# -- approvals ---------------------------------------------------------------------------
@approvals_app.command("inbox")
def approvals_inbox(by: By = None, db: DbOption = None, output: Fmt = OutputFormat.table) -> None:
    """Pending requests you may decide (your roles, limits and scope; not your own)."""
    from daihou.collection.approvals import inbox

    with acting(db, by) as (session, actor):
        items = inbox(session, actor=actor)
        if output is OutputFormat.json:
            print_json([request_data(r) for r in items])
            return
        table = Table(title=f"approvals for {actor.user_id}")
        for col in ("id", "kind", "loan", "amount", "requested by", "on", "expires"):
            table.add_column(col)
        for r in items:
            table.add_row(
                str(r.id),
                r.kind,
                r.loan_id,
                fmt(r.amount),
                r.requested_by,
                str(r.requested_on),
                str(r.expires_on),
            )
        console.print(table)


@approvals_app.command("cancel")
def approvals_cancel(request_id: int, reason: Reason, by: By = None, db: DbOption = None) -> None:
    """Withdraw your own pending request."""
    from daihou.collection import approvals

    with acting(db, by) as (session, actor):
        req = approvals.load_pending(session, request_id)
        approvals.cancel(session, actor=actor, req=req, reason=reason)
        console.print(f"request {request_id} cancelled")


@approvals_app.command("expire")
def approvals_expire(db: DbOption = None) -> None:
    """Mark pending requests past their expiry date expired."""
    from daihou.collection.approvals import expire
    from daihou.eod.calendar import business_date

    with unit_of_work(db) as session:
        n = expire(session, today=business_date(session))
        console.print(f"{n} requests expired")
