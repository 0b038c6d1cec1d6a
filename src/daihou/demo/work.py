"""The demo's working day after end of day: the collections run plans tomorrow's
treatments and task lists; messages go out; collectors work their lists within
capacity, through the same services people use (so the contact gate, the note check,
the audit and the promise book all apply); what reached a borrower is remembered in
``SimContext.reached`` and drives the next day's payments.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import PermissionDenied
from daihou.auth.service import actor_for
from daihou.collection.agencies.placement import place_batch
from daihou.collection.contacts import ContactDenied, log_contact
from daihou.collection.legal.service import refer
from daihou.collection.models import CollectionCase
from daihou.collection.run import run_collections
from daihou.collection.tables import CollectionTask
from daihou.collection.tasks import mark_task_feedback
from daihou.collection.visits import record_visit
from daihou.compliance.gate.schema import ContactRequest
from daihou.compliance.gate.service import check_contact, record_attempt
from daihou.db.engine import transaction
from daihou.demo.complaints import handle_complaints, overhear
from daihou.demo.negotiate import hear, negotiate
from daihou.demo.simulate import Promise, SimContext, owed_today
from daihou.demo.staff import SUPERVISOR
from daihou.loans.models import Loan

CALLS = ("call", "contact-call")
PROMISE_PROPENSITY = {  # of a borrower reached, by segment: agrees to a date
    "never-late": 0.85,
    "forgetful": 0.75,
    "short-liquidity": 0.6,
    "unwilling": 0.2,
    "lost-contact": 0.0,
}


def collections_day(engine: Engine, d: date, ctx: SimContext) -> None:
    """The day hook: collections run for the closed date ``d``, then tomorrow's work."""
    with ctx.timed("collections run"):
        report = run_collections(engine, d, ctx.pack)
    cases = report.counts.get("cases", {})
    ctx.counts["cases opened"] += int(cases.get("opened", 0))
    work = d + timedelta(days=1)
    with ctx.timed("collectors"):
        with transaction(engine) as s:  # the book as closed on d: what a promise covers
            owed = owed_today(s, d)
        ctx.owed = {loan: amount for loan, (amount, dpd, _) in owed.items() if dpd > 0}
        ctx.dpd = {loan: dpd for loan, (_, dpd, _) in owed.items() if dpd > 0}
    if ctx.post is not None:
        with ctx.timed("messages"):
            ctx.post.deliver(engine, work, ctx)
    with ctx.timed("collectors"):
        work_task_lists(engine, work, ctx)
    with ctx.timed("supervisor"):
        supervise(engine, work, ctx)


def work_task_lists(engine: Engine, work: date, ctx: SimContext) -> None:
    """Each collector works their queued tasks for ``work`` in rank order.

    One unit of work for the day's lists (a savepoint per task, so a contact the gate
    refuses undoes only that task's writes): a commit per task cost more than the
    work itself."""
    zone = ZoneInfo((ctx.pack.collections.timezone if ctx.pack else None) or "Asia/Shanghai")
    with transaction(engine) as s:
        queued = s.execute(
            select(
                CollectionTask.id,
                CollectionTask.collector_user_id,
                CollectionTask.case_id,
                CollectionTask.loan_id,
                CollectionTask.kind,
                CollectionTask.rank,
                Loan.customer_id,
            )
            .join(Loan, Loan.id == CollectionTask.loan_id)
            .where(
                CollectionTask.work_date == work,
                CollectionTask.status == "queued",
                CollectionTask.collector_user_id.is_not(None),
            )
            .order_by(CollectionTask.collector_user_id, CollectionTask.rank)
        ).all()
        actors: dict[str, Actor] = {}
        for task_id, user, case_id, loan_id, kind, rank, customer_id in queued:
            if user is None:
                continue
            at = datetime.combine(work, time(9, 30), zone) + timedelta(minutes=4 * (rank or 0))
            at = min(at, datetime.combine(work, time(17, 30), zone))
            actor = actors.get(user) or actors.setdefault(user, actor_for(s, user))
            try:
                with s.begin_nested():
                    if case_id is None:
                        _reminder_call(s, ctx, loan_id, customer_id, at)
                    else:
                        _work_one(s, ctx, task_id, actor, case_id, loan_id, kind, at)
            except ContactDenied:
                ctx.counts["gate denials (collectors)"] += 1
            try:
                mark_task_feedback(s, task_id, at, actor=actor)
            except PermissionDenied:  # the case went to a colleague since the list was made
                ctx.counts["task feedback refused"] += 1


def _reminder_call(
    s: Session, ctx: SimContext, loan_id: str, customer_id: str, at: datetime
) -> None:
    """A call before a due date (no case yet): asked of the contact gate and recorded
    by it like every contact; a borrower reached counts as reminded."""
    request = ContactRequest(
        customer_id=customer_id, channel="call", party="borrower", at=at,
        loan_id=loan_id, purpose="reminder",
    )  # fmt: skip
    decision = check_contact(s, request)
    ctx.counts["call"] += 1
    if not decision.allowed:
        ctx.counts["gate denials (collectors)"] += 1
        return
    seg = ctx.behaviour.segments[ctx.segment(loan_id)]
    reached = ctx.u(loan_id, at.date(), "reminder-call") < seg.reachable
    record_attempt(s, request=request, outcome="connected" if reached else "unanswered")
    if reached:
        ctx.reminded[loan_id] = at.date()
        ctx.reach(loan_id, "reminder")


def _work_one(
    s: Session,
    ctx: SimContext,
    task_id: int,
    actor: Actor,
    case_id: int,
    loan_id: str,
    kind: str,
    at: datetime,
) -> None:
    user = actor.user_id
    seg_name = ctx.segment(loan_id)
    seg = ctx.behaviour.segments[seg_name]
    work = at.date()
    reached = ctx.u(loan_id, work, f"reach-{task_id}") < seg.reachable
    if kind in CALLS:
        party = "borrower" if kind == "call" else "contact-person"
        ctx.counts["call"] += 1
        ctx.counts["contacts"] += 1
        if not reached:
            outcome = "invalid-number" if seg.reachable == 0 else "no-answer"
            log_contact(
                s, actor=actor, case_id=case_id, channel="call", party=party,
                outcome=outcome, at=at, task_id=task_id, pack=ctx.pack,
            )  # fmt: skip
            return
        if party == "borrower":
            ctx.reach(loan_id, "call")
            overhear(ctx, loan_id, work, task_id, user)
        case = s.get(CollectionCase, case_id)
        open_promise = case is not None and case.promise_until is not None
        promise = None
        asks_plan = party == "borrower" and hear(ctx, loan_id, case_id, work, seg_name)
        if party == "borrower" and not open_promise and not asks_plan:
            promise = _promise(ctx, loan_id, work, seg_name)
        if promise is not None:
            log_contact(
                s, actor=actor, case_id=case_id, channel="call", party=party,
                outcome="promise", at=at, task_id=task_id, duration_seconds=180,
                promise_amount=promise.amount, promise_date=promise.due_on, pack=ctx.pack,
            )  # fmt: skip
            ctx.promises[loan_id] = promise
            ctx.counts["promises made"] += 1
            return
        outcome = "refused" if seg_name == "unwilling" else "rpc"
        log_contact(
            s, actor=actor, case_id=case_id, channel="call", party=party, outcome=outcome,
            at=at, task_id=task_id, duration_seconds=120, pack=ctx.pack,
        )  # fmt: skip
    elif kind == "visit":
        ctx.counts["visit"] += 1
        ctx.counts["contacts"] += 1
        result = "met-borrower" if reached else ("moved" if seg.reachable == 0 else "not-at-home")
        record_visit(
            s, actor=actor, case_id=case_id, at=at, result=result, kind="home",
            place="registered address", visitors=[user], pack=ctx.pack,
        )  # fmt: skip
        if reached:
            ctx.reach(loan_id, "visit")
            overhear(ctx, loan_id, work, task_id, user)
    else:
        ctx.counts[kind] += 1


def _promise(ctx: SimContext, loan_id: str, work: date, segment: str) -> Promise | None:
    owed = ctx.owed.get(loan_id)
    if owed is None or owed <= 0:
        return None
    if ctx.u(loan_id, work, "promise") >= PROMISE_PROPENSITY.get(segment, 0.0):
        return None
    due = work + timedelta(days=2 + int(ctx.u(loan_id, work, "promise-days") * 5))
    keeps = ctx.u(loan_id, work, "promise-keep") < ctx.behaviour.segments[segment].promise_keep
    amount = owed.quantize(Decimal("1"), rounding=ROUND_DOWN) or owed  # round sums
    return Promise(due_on=due, amount=amount, keeps=keeps)


def supervise(engine: Engine, work: date, ctx: SimContext) -> None:
    """The office's day: the supervisor decides the litigation referrals on their list,
    places the eligible cases with the agencies every Monday (placed cases hear from the
    agency), files and decides the plans and waivers borrowers asked for; compliance
    takes and handles complaints."""
    t = CollectionTask
    with transaction(engine) as s:
        boss = actor_for(s, SUPERVISOR)
        at = datetime.combine(work, time(11, 0), ZoneInfo("Asia/Shanghai"))
        reviews = s.execute(
            select(t.id, t.case_id, t.kind).where(
                t.work_date == work, t.status == "queued", t.assignee_role == "supervisor"
            )
        ).all()
        for task_id, case_id, kind in reviews:
            if kind == "legal-referral" and case_id is not None:
                try:
                    with s.begin_nested():
                        refer(s, actor=boss, case_id=case_id, note="demo: 90+ DPD, rules met")
                    ctx.counts["legal referrals"] += 1
                    ctx.counts["legal"] += 1
                except ValueError:
                    ctx.counts["legal referrals declined"] += 1
            mark_task_feedback(s, task_id, at, actor=boss)
        if work.weekday() == 0:
            batch = place_batch(s, actor=boss, business_date=work)
            ctx.counts["placed with agencies"] += batch.cases
        placed = s.scalars(
            select(CollectionCase.loan_id).where(
                CollectionCase.status == "open", CollectionCase.agency_id.is_not(None)
            )
        )
        for loan_id in placed:
            ctx.reach(loan_id, "agency")
        negotiate(s, boss, work, ctx)
        handle_complaints(s, work, ctx)
