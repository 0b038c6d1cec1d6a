"""What borrowers ask of their collector and how the office answers, in the demo.

A collector who reaches a borrower may hear a request: a borrower in short-term hardship
asks to pay what is overdue in instalments (分期还款), a first-time late payer asks for
the late charges to be waived (减免罚息). Neither a call-desk nor a junior collector may
file those, so the case goes to the supervisor's list; the supervisor hands it to the
team's senior collector (the negotiation desk: ``reassign_case``), who files the request
through the real services (``collection.plans`` / ``collection.waivers``, so the plan
rules, the waiver eligibility and the audit apply), and the supervisor decides it —
maker and checker are different people (``collection.approvals``); a plan above the
supervisor's limit goes to the manager. An approved plan is signed the same day: what
was overdue moves into the plan's instalments, which the borrower then pays or misses
by the behaviour model like any due date. Each day the plans in force are reviewed
(completed, or broken after the pack's grace days).

Every choice is a counter-based draw (``SimContext.u``), so the same seed gives the
same requests and decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import PermissionDenied
from daihou.auth.service import actor_for
from daihou.collection.approvals import ApprovalError, limit_for
from daihou.collection.assign import reassign_case
from daihou.collection.models import CollectionCase
from daihou.collection.plans import (
    PlanInvalid,
    approve_plan,
    overdue_total,
    request_plan,
    review_plans,
    sign_plan,
)
from daihou.collection.tables import Collector
from daihou.collection.waivers import decide_waiver, quote, request_waiver
from daihou.demo.simulate import SimContext
from daihou.payments.errors import ServicingError
from daihou.policy import load_pack

# Of a borrower reached by a call (and not promising a date): the chance to ask.
PLAN_ASK = {"short-liquidity": 0.25}  # hardship, once overdue at least PLAN_MIN_DPD days
PLAN_MIN_DPD = 10
WAIVER_ASK = {"never-late": 0.30, "forgetful": 0.15}  # first overdue, within max_dpd
PLAN_APPROVE, WAIVER_APPROVE = 0.85, 0.90  # the supervisor's yes, by draw
PLAN_FIRST_DUE_DAYS = 14


@dataclass(frozen=True, slots=True)
class Ask:
    kind: str  # plan | waiver
    case_id: int


def hear(ctx: SimContext, loan_id: str, case_id: int, work: date, segment: str) -> bool:
    """A reached borrower may ask for a plan or a waiver (at most once in the run);
    returns whether they asked (a borrower asking for a plan promises no date)."""
    kind = would_ask(ctx, loan_id, work, segment)
    if kind is not None:
        take_ask(ctx, loan_id, case_id, kind)
    return kind == "plan"


def would_ask(ctx: SimContext, loan_id: str, work: date, segment: str) -> str | None:
    """What a reached borrower would ask for today (``plan``, ``waiver`` or nothing),
    without noting it: ``take_ask`` notes it once the call is made."""
    if loan_id in ctx.asked:
        return None
    dpd = ctx.dpd.get(loan_id, 0)
    if dpd >= PLAN_MIN_DPD and ctx.u(loan_id, work, "ask-plan") < PLAN_ASK.get(segment, 0.0):
        return "plan"
    if dpd > 0 and ctx.u(loan_id, work, "ask-waiver") < WAIVER_ASK.get(segment, 0.0):
        return "waiver"
    return None


def take_ask(ctx: SimContext, loan_id: str, case_id: int, kind: str) -> None:
    ctx.asked.add(loan_id)
    ctx.asks[loan_id] = Ask(kind, case_id)
    ctx.counts[f"{kind}s asked"] += 1


def negotiate(s: Session, boss: Actor, work: date, ctx: SimContext) -> None:
    """The supervisor's part of the day: yesterday's asks filed and decided, and the
    review of the plans in force."""
    pack = ctx.pack or load_pack()
    asks, ctx.asks = sorted(ctx.asks.items()), {}
    senior_id = s.scalar(
        select(Collector.user_id).where(Collector.tier == "senior").order_by(Collector.user_id)
    )
    if asks and senior_id is not None:
        senior = actor_for(s, senior_id)
        manager = actor_for(s, "manager")
        for loan_id, ask in asks:
            try:
                with s.begin_nested():
                    case = s.get(CollectionCase, ask.case_id)
                    if case is None or case.status != "open":
                        raise ServicingError("the case is closed", field="case_id")
                    if case.owner_user_id != senior_id:
                        reassign_case(
                            s, case_id=case.id, to_user_id=senior_id, actor=boss,
                            reason=f"negotiation desk: the borrower asks for a {ask.kind}",
                        )  # fmt: skip
                    if ask.kind == "plan":
                        _plan(s, ctx, loan_id, work, senior, (boss, manager))
                    else:
                        _waiver(s, ctx, loan_id, work, senior, boss)
            except (ServicingError, ApprovalError, PlanInvalid, PermissionDenied, ValueError):
                ctx.counts[f"{ask.kind}s not filed"] += 1
    for what, n in review_plans(session=s, actor=SYSTEM, pack=pack).items():
        ctx.counts[f"plans {what}"] += n


def _checker(approvers: tuple[Actor, ...], kind: str, amount: Decimal, ctx: SimContext) -> Actor:
    """The first approver whose limit covers ``amount`` (supervisor, else manager)."""
    pack = ctx.pack or load_pack()
    for actor in approvers:
        try:
            limit_for(actor, kind, amount, pack)
            return actor
        except PermissionDenied:
            continue
    return approvers[-1]


def _plan(
    s: Session,
    ctx: SimContext,
    loan_id: str,
    work: date,
    senior: Actor,
    approvers: tuple[Actor, ...],
) -> None:
    total = overdue_total(s, loan_id, work)
    n = 3 + int(ctx.u(loan_id, work, "plan-n") * 4)  # 3..6 instalments
    # a declared income the instalment fits in (≤ 30 % of it), with some room
    room = Decimal(f"{1 + ctx.u(loan_id, work, 'plan-income'):.4f}")
    income = total / n / Decimal("0.30") * room
    income = income.quantize(Decimal("1"), rounding=ROUND_CEILING)
    plan = request_plan(
        session=s, actor=senior, loan_id=loan_id, installments=n, monthly_income=income,
        first_due_on=_first_due(work), pack=ctx.pack,
        reason="short-term hardship: asks to pay the overdue amount in instalments",
    )  # fmt: skip
    ctx.counts["plans requested"] += 1
    checker = _checker(approvers, "plan", plan.total, ctx)
    yes = ctx.u(loan_id, work, "plan-approve") < PLAN_APPROVE
    approve_plan(
        session=s, actor=checker, plan_id=plan.id, approve=yes, pack=ctx.pack,
        reason="income and hardship evidenced" if yes else "income not evidenced",
    )  # fmt: skip
    if not yes:
        ctx.counts["plans rejected"] += 1
        return
    sign_plan(session=s, actor=senior, plan_id=plan.id, pack=ctx.pack)
    ctx.counts["plans signed"] += 1
    ctx.promises.pop(loan_id, None)  # the plan replaces what a promise covered
    ctx.reach(loan_id, "plan")


def _first_due(work: date) -> date:
    """Two weeks on, on a day every month has."""
    first = work + timedelta(days=PLAN_FIRST_DUE_DAYS)
    while first.day > 28:
        first += timedelta(days=1)
    return first


def _waiver(
    s: Session, ctx: SimContext, loan_id: str, work: date, senior: Actor, boss: Actor
) -> None:
    pack = ctx.pack or load_pack()
    cap = quote(s, loan_id, pack).cap
    if cap <= 0:
        raise ServicingError("no 罚息 to waive", field="amount")
    req = request_waiver(
        session=s, actor=senior, loan_id=loan_id, amount=cap, pack=ctx.pack,
        reason="first overdue; the customer asks for the late charges to be waived",
    )  # fmt: skip
    ctx.counts["waivers requested"] += 1
    yes = ctx.u(loan_id, work, "waiver-approve") < WAIVER_APPROVE
    decide_waiver(
        session=s, actor=boss, request_id=req.id, approve=yes, pack=ctx.pack,
        reason="first overdue, within the rules" if yes else "not justified",
    )  # fmt: skip
    if yes:
        ctx.counts["waivers granted"] += 1
        ctx.add("waived", req.amount)
    else:
        ctx.counts["waivers rejected"] += 1
