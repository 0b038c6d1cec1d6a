"""Complaints in the demo: a borrower a collector reached may call the hotline that
evening (the segment's ``complaint`` rate per contact); the compliance officer takes the
complaint (``compliance.complaints``: SLA timers, a hold on collection for conduct and
dispute categories), answers the next morning and resolves it after a drawn number of
days — most within the 15-day regulatory limit, some not. Counted in the summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from daihou.auth.service import actor_for
from daihou.compliance.complaints.service import (
    close,
    create_complaint,
    record_investigation,
    resolve,
    respond,
)
from daihou.compliance.complaints.sla import Category
from daihou.demo.simulate import SimContext

ZONE = ZoneInfo("Asia/Shanghai")
# (category, cumulative share): what the complaints are about
TOPICS: tuple[tuple[Category, float], ...] = (
    ("fees-interest", 0.55),
    ("collection-conduct", 0.80),
    ("repayment-dispute", 0.92),
    ("harassment", 1.0),
)
MAX_HANDLING_DAYS = 20  # resolved 1..20 days after receipt (the limit is 15)


@dataclass(frozen=True, slots=True)
class Pending:
    complaint_id: int
    received: date
    resolve_on: date


def overhear(ctx: SimContext, loan_id: str, work: date, task_id: int, collector: str) -> None:
    """After a contact that reached the borrower: do they complain about it tonight?"""
    seg = ctx.behaviour.segments[ctx.segment(loan_id)]
    if ctx.u(loan_id, work, f"complaint-{task_id}") < seg.complaint:
        ctx.complaints_due.append((loan_id, collector))


def handle_complaints(s: Session, work: date, ctx: SimContext) -> None:
    """Take the complaints that came in on ``work`` evening; answer and resolve the
    earlier ones as their day comes."""
    officer = actor_for(s, "compliance")
    for p in sorted(ctx.complaints_open, key=lambda p: p.complaint_id):
        if p.received < work and p.complaint_id not in ctx.complaints_answered:
            respond(
                s, actor=officer, complaint_id=p.complaint_id, note="已致电客户，说明处理时限",
                at=datetime.combine(work, time(9, 30), ZONE),
            )  # fmt: skip
            ctx.complaints_answered.add(p.complaint_id)
        if p.resolve_on <= work and p.complaint_id in ctx.complaints_answered:
            at = datetime.combine(work, time(15, 0), ZONE)
            record_investigation(
                s, actor=officer, complaint_id=p.complaint_id, at=at,
                findings="调取通话录音与催收记录核实",
            )  # fmt: skip
            c = resolve(
                s, actor=officer, complaint_id=p.complaint_id, fed_back_at=at,
                result="已向客户反馈处理结果", upheld=False,
            )  # fmt: skip
            close(s, actor=officer, complaint_id=p.complaint_id, at=at)
            ctx.complaints_open.remove(p)
            late = at > _aware(c.regulatory_due_at)
            ctx.counts["complaints resolved late" if late else "complaints resolved in time"] += 1
    arrived, ctx.complaints_due = ctx.complaints_due, []
    for loan_id, collector in arrived:
        u = ctx.u(loan_id, work, "complaint-topic")
        category = next(c for c, share in TOPICS if u < share)
        complaint = create_complaint(
            s, actor=officer, channel="hotline", category=category, loan_id=loan_id,
            collector_user_id=collector, received_at=datetime.combine(work, time(19, 0), ZONE),
            description="客户来电投诉催收过程",
        )  # fmt: skip
        days = 1 + int(ctx.u(loan_id, work, "complaint-days") * MAX_HANDLING_DAYS)
        ctx.complaints_open.append(Pending(complaint.id, work, work + timedelta(days=days)))
        ctx.counts["complaints received"] += 1


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo("UTC"))
