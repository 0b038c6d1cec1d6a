"""Collection cases after end of day: open, close, stage, lost contact; the case view.

``sync_cases`` works on whole sets: one query finds the loans past due without an open
case, one the open cases whose loan is cured, settled or written off; the stage of every
open case is derived from one read, and lost contact is one ``UPDATE`` by the rule of
``collection.lost_contact`` (shared with ``daihou contact evaluate``). Every change of
status, stage, owner or contact status is inserted into ``case_status_changes``. The
daily run asks the sync to assign as well (``assign``), so a new case is inserted with
its owner rather than inserted and then updated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.auth.scopes import ResourceScope
from daihou.collection.arms import arm_for
from daihou.collection.case_lists import case_scope_filter
from daihou.collection.casework import AuthorisedCase, authorise_case
from daihou.collection.clock import Clock
from daihou.collection.lost_contact import mark_lost
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.collection.overdue_amounts import unpaid_fen_expr
from daihou.collection.settings import CollectionsSettings
from daihou.collection.tables import FastRows
from daihou.loans.models import Installment, Loan, status_is

if TYPE_CHECKING:
    from daihou.collection.assign import AssignResult

SETTLED, WRITTEN_OFF = "closed", "written-off"


@dataclass
class CaseSync:
    opened: int = 0
    closed: dict[str, int] = field(default_factory=dict)  # reason → count
    stage_changes: int = 0
    lost_contact: int = 0
    assignment: AssignResult | None = None  # with ``assign``: the day's assignment


def history_row(
    case_id: int, d: date, fld: str, old: str | None, new: str | None, reason: str, actor: str
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "business_date": d,
        "field": fld,
        "old_value": old,
        "new_value": new,
        "reason": reason,
        "actor": actor,
    }


def sync_cases(
    session: Session,
    *,
    business_date: date,
    settings: CollectionsSettings,
    assign: bool = False,
    clock: Clock | None = None,
) -> CaseSync:
    """Close, open and stage the cases of ``business_date`` and mark lost contact.

    With ``assign``, the day's assignment (``assign.Assigner``) runs here as well: the
    open cases after the closes and stage changes, then each new case as it is built,
    so a new case is inserted with its owner (one write per case). Its owner rows follow
    the lost-contact rows in ``case_status_changes``, in case id order, as
    ``assign_cases`` after the sync would write them. ``clock`` adds the time spent on
    the assignment to its ``assignment`` lap and the rest to ``cases``."""
    d, out = business_date, CaseSync()
    lap = clock.lap if clock is not None else _no_lap
    history: list[dict[str, Any]] = []
    c = CollectionCase
    # close: cured (DPD back to 0), settled (结清), written off (核销)
    closing = session.execute(
        select(c.id, Loan.status, Loan.dpd)
        .join(Loan, Loan.id == c.loan_id)
        .where(
            c.status == "open",
            Loan.status.in_([SETTLED, WRITTEN_OFF]) | ((Loan.status == "active") & (Loan.dpd == 0)),
        )
    ).all()
    by_reason: dict[str, list[int]] = {}
    for case_id, loan_status, _dpd in closing:
        reason = (
            "written-off"
            if loan_status == WRITTEN_OFF
            else "settled"
            if loan_status == SETTLED
            else "cured"
        )
        by_reason.setdefault(reason, []).append(case_id)
        history.append(history_row(case_id, d, "status", "open", "closed", reason, "system"))
    for reason, ids in by_reason.items():
        for chunk in _chunks(ids):
            session.execute(
                update(c)
                .where(c.id.in_(chunk))
                .values(status="closed", close_reason=reason, closed_on=d)
                .execution_options(synchronize_session=False)
            )
        out.closed[reason] = len(ids)
    # open: past due, active, no open case
    has_open = select(c.id).where(c.loan_id == Loan.id, c.status == "open").exists()
    new = session.execute(
        select(Loan.id, Loan.customer_id, Loan.dpd).where(
            Loan.status == "active", Loan.dpd > 0, ~has_open
        )
    ).all()
    # the stage of every open case, from one read (a new case opens in its stage)
    names = {s.name for s in settings.stages}
    stage_moves: dict[str, list[int]] = {}
    moved: list[dict[str, Any]] = []
    for case_id, stage, dpd in session.execute(
        select(c.id, c.stage, Loan.dpd).join(Loan, Loan.id == c.loan_id).where(c.status == "open")
    ):
        target = settings.stage_for(max(dpd, 1)).name
        if stage in names and stage != target:
            stage_moves.setdefault(target, []).append(case_id)
            moved.append(history_row(case_id, d, "stage", stage, target, f"dpd {dpd}", "system"))
    for target, ids in stage_moves.items():
        for chunk in _chunks(ids):
            session.execute(
                update(c)
                .where(c.id.in_(chunk))
                .values(stage=target)
                .execution_options(synchronize_session=False)
            )
        out.stage_changes += len(ids)
    assigner = None
    if assign:
        from daihou.collection.assign import Assigner  # assign imports this module

        lap("cases")
        # the stage changes of the date already written, and this sync's (written below)
        assigner = Assigner(session, business_date=d, settings=settings)
        assigner.changed |= {row["case_id"] for row in moved}
        assigner.open_cases()
        assigner.apply()
        lap("assignment")
    pct, salt = settings.challenger_percent, settings.arm_salt
    fast = FastRows(session)
    day = fast.date(d)
    rows: list[tuple[Any, ...]] = []
    columns: tuple[str, ...] = ("loan_id", "customer_id", "status", "opened_on", "stage")
    columns += ("strategy", "arm")
    if assigner is not None:
        columns += ("owner_user_id", "team", "territory")
    for loan_id, customer_id, dpd in new:
        arm = arm_for(loan_id, percent=pct, salt=salt)
        stage = settings.stage_for(dpd).name
        rows.append((loan_id, customer_id, "open", day, stage, settings.strategy(arm).name, arm))
    if assigner is not None:
        lap("cases")
        new_case = assigner.new_case
        rows = [(*row, *new_case(row[4])) for row in rows]
        lap("assignment")
    opened_ids: list[int] = []
    if rows:
        fast.write(c, columns, rows)
        out.opened = len(rows)
        opened = session.execute(
            select(c.id, c.stage, c.arm, c.loan_id).where(c.opened_on == d, c.status == "open")
        ).all()
        seen = set(
            session.scalars(
                select(CaseStatusChange.case_id).where(
                    CaseStatusChange.business_date == d,
                    CaseStatusChange.field == "status",
                    CaseStatusChange.new_value == "open",
                )
            )
        )
        for case_id, stage, arm, _loan in opened:
            if case_id not in seen:
                history.append(
                    history_row(case_id, d, "status", None, "open", f"dpd>0; {arm}", "system")
                )
                history.append(history_row(case_id, d, "stage", None, stage, "opened", "system"))
        if assigner is not None:
            by_loan = {loan: case_id for case_id, _s, _a, loan in opened}
            opened_ids = [by_loan[row[0]] for row in rows]
    history += moved
    write_history(session, history)
    # lost contact (失联): the one rule, shared with ``daihou contact evaluate``
    lost = mark_lost(session, d, days=settings.lost_contact_after_days, actor_id="system")
    out.lost_contact = len(lost)
    if assigner is not None:
        lap("cases")
        write_history(session, assigner.history + assigner.new_history(opened_ids))
        out.assignment = assigner.result
        lap("assignment")
    return out


def _no_lap(_name: str) -> None:
    return None


HISTORY_COLUMNS = (
    "case_id",
    "business_date",
    "field",
    "old_value",
    "new_value",
    "reason",
    "actor",
)


def write_history(session: Session, rows: list[dict[str, Any]]) -> None:
    fast = FastRows(session)
    days: dict[date, Any] = {}
    values = itemgetter(*HISTORY_COLUMNS)
    tuples = []
    for r in rows:
        case_id, d, *rest = values(r)
        day = days.get(d)
        if day is None:
            day = days[d] = fast.date(d)
        tuples.append((case_id, day, *rest))
    fast.write(CaseStatusChange, HISTORY_COLUMNS, tuples)


def _chunks(ids: list[int], size: int = 5000) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


# --- overdue amounts --------------------------------------------------------------------


def owed_fen() -> Any:
    """Per installment: Σ (due − paid) over the components, in fen."""
    return unpaid_fen_expr()


def overdue_fen_by_loan() -> Any:
    """Subquery (loan_id, overdue_fen): everything owed on fallen-due installments."""
    i = Installment
    return (
        select(i.loan_id, func.sum(owed_fen()).label("overdue_fen"))
        .where(status_is(i.status, "due"))
        .group_by(i.loan_id)
        .subquery()
    )


# --- the case view ----------------------------------------------------------------------


def case_scope(case: CollectionCase) -> ResourceScope:
    return ResourceScope(
        owner_user_id=case.owner_user_id,
        team=case.team,
        agency_id=case.agency_id,
        territory=case.territory,
    )


@dataclass(frozen=True, slots=True)
class LoanLine:
    loan_id: str
    product: str
    status: str
    outstanding_principal: Decimal
    overdue: Decimal
    dpd: int
    bucket: str
    open_case_id: int | None


@dataclass(frozen=True, slots=True)
class CaseView:
    case: CollectionCase
    loan: LoanLine
    other_loans: list[LoanLine]  # 共债: the customer's other loans
    history: list[CaseStatusChange]


@lru_cache(maxsize=256)
def _lines_statement(actor: Actor) -> Any:
    """``_lines``'s statement for ``actor``, built once and kept: it depends on the
    actor's scope only (customer and loan are bound at execution), and building it and
    its cache key costs more Python than running it."""
    c = CollectionCase
    i = Installment
    customer_id = bindparam("customer_id", type_=String)
    theirs = select(Loan.id).where(Loan.customer_id == customer_id)
    od = (
        select(i.loan_id, func.sum(owed_fen()).label("overdue_fen"))
        .where(status_is(i.status, "due"), i.loan_id.in_(theirs))
        .group_by(i.loan_id)
        .subquery()
    )
    visible = or_(
        Loan.id == bindparam("loan_id", type_=String),
        select(c.id)
        .where(c.loan_id == Loan.id, c.status == "open", case_scope_filter(actor, "loan.view"))
        .exists(),
    )
    return (
        select(
            Loan.id,
            Loan.product,
            Loan.status,
            Loan.outstanding_principal,
            func.coalesce(od.c.overdue_fen, 0),
            Loan.dpd,
            Loan.bucket,
            # the loan's latest open case: the one ``access.loan_resource`` authorises on
            select(c.id)
            .where(c.loan_id == Loan.id, c.status == "open")
            .order_by(c.id.desc())
            .limit(1)
            .scalar_subquery(),
        )
        .outerjoin(od, od.c.loan_id == Loan.id)
        .where(Loan.customer_id == customer_id, visible)
        .order_by(Loan.id)
    )


def _lines(session: Session, customer_id: str, *, actor: Actor, loan_id: str) -> list[LoanLine]:
    """The customer's loans the actor may see: the case's own loan, and each other loan
    whose open case lies in the actor's ``loan.view`` scope — the rule of the loan
    search and the loan page, so the 共债 table never shows a loan, or links a case, that
    a look-up would refuse. Overdue is summed over this customer's loans only."""
    rows = session.execute(
        _lines_statement(actor), {"customer_id": customer_id, "loan_id": loan_id}
    ).all()
    return [
        LoanLine(r[0], r[1], r[2], r[3], Decimal(int(r[4])) / 100, r[5], r[6], r[7]) for r in rows
    ]


def case_view(session: Session, *, case_id: int, actor: Actor) -> CaseView:
    """The case, its loan and the customer's other loans (共债) the actor may see."""
    authorised = authorise_case(session, actor=actor, case_id=case_id)
    return case_view_of(session, authorised, actor=actor)


def case_view_of(session: Session, authorised: AuthorisedCase, *, actor: Actor) -> CaseView:
    """``case_view`` of a case already read and authorised for ``case.view``."""
    case = authorised.require("case.view")
    case_id = case.id
    lines = _lines(session, case.customer_id, actor=actor, loan_id=case.loan_id)
    own = next(line for line in lines if line.loan_id == case.loan_id)
    history = list(
        session.scalars(
            select(CaseStatusChange)
            .where(CaseStatusChange.case_id == case_id)
            .order_by(CaseStatusChange.id)
        )
    )
    return CaseView(case, own, [line for line in lines if line.loan_id != case.loan_id], history)


def list_cases(
    session: Session,
    *,
    actor: Actor,
    status: str | None = "open",
    stage: str | None = None,
    limit: int = 200,
) -> list[CollectionCase]:
    """Cases the actor may see (the same rule as ``case_view``), newest first."""
    authorize(actor, "case.view")
    c = CollectionCase
    cond = [case_scope_filter(actor, "case.view")]
    if status:
        cond.append(c.status == status)
    if stage:
        cond.append(c.stage == stage)
    return list(session.scalars(select(c).where(and_(*cond)).order_by(c.id.desc()).limit(limit)))
