"""The demo's working day after end of day: the collections run plans tomorrow's
treatments and task lists; messages go out; collectors work their lists within
capacity, through the same services people use (so the contact gate, the note check,
the audit and the promise book all apply); what reached a borrower is remembered in
``SimContext.reached`` and drives the next day's payments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Row, select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.service import actor_for
from daihou.collection.agencies.placement import place_batch
from daihou.collection.contacts import ContactDenied
from daihou.collection.contacts_batch import Contact, log_contacts
from daihou.collection.gate_providers import case_providers
from daihou.collection.legal.service import refer
from daihou.collection.models import CollectionCase
from daihou.collection.run import run_collections
from daihou.collection.tables import CollectionTask
from daihou.collection.tasks import mark_tasks_feedback
from daihou.collection.visits import record_visit
from daihou.compliance.gate.batch import check_batch
from daihou.compliance.gate.packs import load_rules
from daihou.compliance.gate.schema import ContactRequest
from daihou.compliance.gate.schema import Outcome as GateOutcome
from daihou.db.engine import transaction
from daihou.demo.complaints import handle_complaints, overhear
from daihou.demo.negotiate import negotiate, take_ask, would_ask
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
        reminders = [row for row in queued if row.case_id is None and row.collector_user_id]
        done = _reminder_calls(s, ctx, reminders, work, zone)
        actors: dict[str, Actor] = {}
        calls: list[_Call] = []  # a run of one collector's calls (log_contacts)
        spoken: set[int] = set()  # the cases called in the run
        for task_id, user, case_id, loan_id, kind, rank, customer in queued:
            if user is None or case_id is None:
                continue
            at = _task_time(work, rank, zone)
            done.append((task_id, at))
            if kind not in CALLS and kind != "visit":
                ctx.counts[kind] += 1  # a task the simulation only counts
                continue
            actor = actors.get(user) or actors.setdefault(user, actor_for(s, user))
            # what a borrower call decides (a promise, an ask) reads what an earlier
            # borrower call of the case did: such a call starts a new run
            again = kind == "call" and case_id in spoken
            if calls and (kind == "visit" or calls[0].actor is not actor or again):
                _call_run(s, ctx, calls)
                calls, spoken = [], set()
            if kind in CALLS:
                calls.append(_Call(task_id, actor, case_id, loan_id, customer, kind, at))
                spoken.add(case_id)
                continue
            try:
                with s.begin_nested():
                    _visit(s, ctx, task_id, actor, case_id, loan_id, at)
            except ContactDenied:
                ctx.counts["gate denials (collectors)"] += 1
        if calls:
            _call_run(s, ctx, calls)
        mark_tasks_feedback(s, done)


@dataclass(frozen=True, slots=True)
class _Call:
    task_id: int
    actor: Actor
    case_id: int
    loan_id: str
    customer_id: str
    kind: str
    at: datetime


def _call_run(s: Session, ctx: SimContext, calls: list[_Call]) -> None:
    """A collector's consecutive calls, logged as one batch (``log_contacts``: the
    gate, the contact log, the promise book and the audit as one by one). The
    borrower's side — reached, complaint, asks, the promise kept or not — is drawn
    first and applied to ``ctx`` for the calls the gate allowed."""
    ids = sorted({c.case_id for c in calls})
    promised = {
        case_id: until
        for case_id, until in s.execute(
            select(CollectionCase.id, CollectionCase.promise_until).where(
                CollectionCase.id.in_(ids)
            )
        )
    }
    contacts: list[Contact] = []
    effects: list[Callable[[], None]] = []
    for call in calls:
        contact, effect = _call(ctx, call, open_promise=promised.get(call.case_id) is not None)
        contacts.append(contact)
        effects.append(effect)
    logged = log_contacts(s, actor=calls[0].actor, contacts=contacts, pack=ctx.pack)
    for result, effect in zip(logged, effects, strict=True):
        if result.logged is None:
            ctx.counts["gate denials (collectors)"] += 1
        else:
            effect()


def _call(
    ctx: SimContext, call: _Call, *, open_promise: bool
) -> tuple[Contact, Callable[[], None]]:
    """The contact a call comes to, and what it does to the simulation if made."""
    loan_id, work, user = call.loan_id, call.at.date(), call.actor.user_id
    seg_name = ctx.segment(loan_id)
    seg = ctx.behaviour.segments[seg_name]
    party = "borrower" if call.kind == "call" else "contact-person"
    reached = ctx.u(loan_id, work, f"reach-{call.task_id}") < seg.reachable
    ctx.counts["call"] += 1
    ctx.counts["contacts"] += 1
    base = Contact(call.case_id, "call", "no-answer", call.at, party, task_id=call.task_id)
    if not reached:
        outcome = "invalid-number" if seg.reachable == 0 else "no-answer"
        return replace(base, outcome=outcome), lambda: None
    ask = would_ask(ctx, loan_id, work, seg_name) if party == "borrower" else None
    promise = None
    if party == "borrower" and not open_promise and ask != "plan":
        promise = _promise(ctx, loan_id, work, seg_name)

    def effect() -> None:
        if party == "borrower":
            ctx.reach(loan_id, "call")
            overhear(ctx, loan_id, work, call.task_id, user)
            if ask is not None:
                take_ask(ctx, loan_id, call.case_id, ask)
        if promise is not None:
            ctx.promises[loan_id] = promise
            ctx.counts["promises made"] += 1

    if promise is not None:
        contact = replace(
            base, outcome="promise", duration_seconds=180, promise_amount=promise.amount,
            promise_date=promise.due_on,
        )  # fmt: skip
    else:
        outcome = "refused" if seg_name == "unwilling" else "rpc"
        contact = replace(base, outcome=outcome, duration_seconds=120)
    return contact, effect


def _task_time(work: date, rank: int | None, zone: ZoneInfo) -> datetime:
    """A collector works down the list from 09:30, four minutes a task, until 17:30."""
    at = datetime.combine(work, time(9, 30), zone) + timedelta(minutes=4 * (rank or 0))
    return min(at, datetime.combine(work, time(17, 30), zone))


def _reminder_calls(
    s: Session, ctx: SimContext, rows: Sequence[Row[Any]], work: date, zone: ZoneInfo
) -> list[tuple[int, datetime]]:
    """The call desk's calls before a due date (no case yet), asked of the contact gate
    as one batch (``check_batch``: the same decisions as one by one, in list order)
    and recorded by it like every contact; a borrower reached counts as reminded.
    Returns the (task, time) feedback of the calls."""
    requests: list[ContactRequest] = []
    outcomes: list[GateOutcome] = []
    feedback: list[tuple[int, datetime]] = []
    for task_id, _user, _case, loan_id, _kind, rank, customer_id in rows:
        at = _task_time(work, rank, zone)
        request = ContactRequest(
            customer_id=customer_id, channel="call", party="borrower", at=at,
            loan_id=loan_id, purpose="reminder",
        )  # fmt: skip
        requests.append(request)
        seg = ctx.behaviour.segments[ctx.segment(loan_id)]
        reached = ctx.u(loan_id, at.date(), "reminder-call") < seg.reachable
        outcomes.append("connected" if reached else "unanswered")
        feedback.append((task_id, at))
    rules = load_rules(on=work)
    decisions = check_batch(s, requests, rules=rules, providers=case_providers(), outcomes=outcomes)
    for request, outcome, decision in zip(requests, outcomes, decisions, strict=True):
        ctx.counts["call"] += 1
        if not decision.allowed:
            ctx.counts["gate denials (collectors)"] += 1
        elif outcome == "connected":
            assert request.loan_id is not None
            ctx.reminded[request.loan_id] = work
            ctx.reach(request.loan_id, "reminder")
    return feedback


def _visit(
    s: Session, ctx: SimContext, task_id: int, actor: Actor, case_id: int, loan_id: str,
    at: datetime,
) -> None:  # fmt: skip
    """A home visit through ``record_visit`` (the gate, the visit record, the audit)."""
    user = actor.user_id
    seg = ctx.behaviour.segments[ctx.segment(loan_id)]
    work = at.date()
    reached = ctx.u(loan_id, work, f"reach-{task_id}") < seg.reachable
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
        for _task_id, case_id, kind in reviews:
            if kind == "legal-referral" and case_id is not None:
                try:
                    with s.begin_nested():
                        refer(s, actor=boss, case_id=case_id, note="demo: 90+ DPD, rules met")
                    ctx.counts["legal referrals"] += 1
                    ctx.counts["legal"] += 1
                except ValueError:
                    ctx.counts["legal referrals declined"] += 1
        mark_tasks_feedback(s, [(task_id, at) for task_id, _, _ in reviews])
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
