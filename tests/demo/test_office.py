"""The demo's office work: plans and waivers pass maker–checker approval through the
real services, plan instalments are paid by the behaviour model, complaints arrive and
are handled; all counted in the summary and fixed by the seed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from daihou.collection.approval_models import ApprovalRequest, RepaymentPlan
from daihou.compliance.complaints.models import Complaint
from daihou.db.engine import make_engine, transaction
from daihou.demo.behaviour import BehaviourModel, load_behaviour
from daihou.demo.run import run_simulation
from daihou.demo.summary import SimSummary
from daihou.payments.models import Transaction

START = date(2026, 5, 1)


def troubled_book() -> BehaviourModel:
    """Half the borrowers in hardship, half late now and then; complaints common."""
    base = load_behaviour()
    hard = base.segments["short-liquidity"].model_copy(
        update={"share": 0.5, "on_time": 0.2, "complaint": 0.05}
    )
    forgetful = base.segments["forgetful"].model_copy(
        update={"share": 0.5, "on_time": 0.4, "complaint": 0.05}
    )
    return base.model_copy(update={"segments": {"short-liquidity": hard, "forgetful": forgetful}})


def run(url: str) -> SimSummary:
    return run_simulation(url, loans=60, days=40, seed=11, start=START, behaviour=troubled_book())


def test_plans_waivers_and_complaints_go_through_the_services(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/office.db"
    summary = run(url)
    counts = summary.counts
    assert summary.balanced
    engine = make_engine(url)
    with transaction(engine) as s:
        requests = s.scalars(select(ApprovalRequest)).all()
        plans = s.scalars(select(RepaymentPlan)).all()
        # every plan and waiver the summary counts was filed and decided: maker ≠ checker
        assert counts["plans requested"] == sum(r.kind == "plan" for r in requests) > 0
        assert counts["waivers requested"] == sum(r.kind == "waiver" for r in requests) > 0
        for r in requests:
            assert r.status in ("approved", "rejected"), r.id
            assert r.decided_by is not None and r.decided_by != r.requested_by
        signed = [p for p in plans if p.signed_on is not None]
        assert counts["plans signed"] == len(signed) > 0
        assert counts.get("plans rejected", 0) == sum(p.status == "rejected" for p in plans)
        # a signed plan restructured the loan; its instalments were paid by borrowers
        restructures = s.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.kind == "restructure")
        )
        assert restructures == len(signed)
        waivers = s.scalars(select(Transaction.amount).where(Transaction.kind == "waiver")).all()
        assert len(waivers) == counts["waivers granted"]
        assert sum(waivers) == summary.waived > 0
        # complaints: taken by compliance, answered, and the resolved ones closed
        complaints = s.scalars(select(Complaint)).all()
        assert summary.complaints == len(complaints) == counts["complaints received"] > 0
        done = counts.get("complaints resolved in time", 0) + counts.get(
            "complaints resolved late", 0
        )
        assert done == sum(c.state == "closed" for c in complaints) > 0
        for c in complaints:
            if c.state == "closed":
                assert c.responded_at is not None and c.fed_back_at is not None
    engine.dispose()
    labels = dict(summary.rows())
    assert labels["repayment plans"].startswith(f"{len(signed)} signed")
    # the same seed gives the same office work
    again = run(f"sqlite:///{tmp_path}/again.db")
    assert again.rows() == summary.rows()
