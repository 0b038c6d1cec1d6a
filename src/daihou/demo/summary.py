"""The figures a simulation ends with: the book, delinquency, recoveries and cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daihou.analytics.kpis import daily_kpis, roll_rates
from daihou.compliance.complaints.models import Complaint
from daihou.compliance.gate.models import ContactDenial
from daihou.demo.simulate import SimContext
from daihou.kernel.money import ZERO, fmt, q2
from daihou.ledger.service import trial_balance
from daihou.policy import PolicyPack, load_pack


@dataclass
class SimSummary:
    start: date
    end: date
    loans: int
    kpis: dict[str, Any]
    roll: dict[str, Any] | None
    counts: dict[str, int]
    recovered: Decimal
    cost: Decimal
    denials: int
    complaints: int
    balanced: bool
    segments: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # not printed: varies run to run

    @property
    def overdue_loans(self) -> int:
        """Active loans past due (every bucket but the first, M0)."""
        cells = list(self.kpis["by_bucket"].values())
        return sum(int(cell["count"]) for cell in cells[1:])

    @property
    def overdue_count_rate(self) -> str:
        """Overdue loans over active loans, as the KPIs give ratios ("0.012345")."""
        return f"{Decimal(self.overdue_loans) / self.loans:.6f}" if self.loans else "0.000000"

    @property
    def waived(self) -> Decimal:
        return self.amounts.get("waived", ZERO)

    @property
    def net_recovered(self) -> Decimal:
        return self.recovered - self.cost

    @property
    def cost_rate(self) -> str:
        if self.recovered == ZERO:
            return "-"
        return f"{q2(self.cost / self.recovered * 100)}%"

    @staticmethod
    def pct(ratio: str) -> str:
        """A ratio as the KPIs give it ("0.0123") in percent ("1.23%")."""
        try:
            return f"{q2(Decimal(ratio) * 100)}%"
        except ArithmeticError:
            return ratio

    def rows(self) -> list[tuple[str, str]]:
        """Label and value, in the order they are printed (side by side for two runs)."""
        k = self.kpis

        def c(what: str) -> int:
            return self.counts.get(what, 0)

        out = [
            ("period", f"{self.start} .. {self.end}"),
            ("loans", str(self.loans)),
            ("balance", k["balance"]),
            ("overdue balance", k["overdue_balance"]),
            ("overdue rate", self.pct(k["overdue_rate"])),
            ("overdue loans", f"{self.overdue_loans} ({self.pct(self.overdue_count_rate)})"),
            ("NPL ratio", self.pct(k["npl_ratio"])),
        ]
        for bucket, cell in k["by_bucket"].items():
            out.append((f"  {bucket}", f"{cell['count']} / {cell['balance']}"))
        if self.roll:
            out.append(("M1 cure (count)", self.pct(self.roll["m1_cure_rate_by_count"])))
            out.append(("M1 cure (amount)", self.pct(self.roll["m1_cure_rate_by_amount"])))
            for src in ("M1", "M2", "M3"):
                cell = self.roll["matrix"].get(src, {})
                nxt = {"M1": "M2", "M2": "M3", "M3": "M4"}[src]
                if cell:
                    rate = cell.get(nxt, {}).get("rate_by_count", "0")
                    out.append((f"roll {src}→{nxt}", self.pct(rate)))
        out += [
            ("payments", str(self.counts.get("payments", 0))),
            ("recovered", fmt(self.recovered)),
            ("cost", fmt(self.cost)),
            ("net recovered", fmt(self.net_recovered)),
            ("cost rate", self.cost_rate),
            ("promises kept", f"{self.counts.get('promises kept', 0)}/"
             f"{self.counts.get('promises due', 0)}"),
            ("contacts made", str(self.counts.get("contacts", 0))),
            ("guardrail denials", str(self.denials)),
            ("repayment plans", f"{c('plans signed')} signed / {c('plans requested')} requested"
             f" ({c('plans rejected')} rejected, {c('plans completed')} completed,"
             f" {c('plans broken')} broken)"),
            ("penalty waivers", f"{c('waivers granted')} granted / {c('waivers requested')}"
             f" requested ({fmt(self.waived)} waived)"),
            ("complaints", f"{self.complaints} ({c('complaints resolved in time')} resolved in"
             f" time, {c('complaints resolved late')} late)"),
            ("ledger", "balanced" if self.balanced else "NOT BALANCED"),
        ]  # fmt: skip
        return out


def month_ends(start: date, end: date) -> list[date]:
    out, d = [], start
    while d <= end:
        if (d + timedelta(days=1)).day == 1:
            out.append(d)
        d += timedelta(days=1)
    return out


def summarise(
    session: Session, ctx: SimContext, end: date, *, pack: PolicyPack | None = None
) -> SimSummary:
    pack = pack or load_pack()
    buckets = [b.name for b in pack.delinquency.buckets]
    ends = month_ends(ctx.start, end)
    roll = roll_rates(session, ends[-2], ends[-1], buckets) if len(ends) >= 2 else None
    kpis = daily_kpis(session, end, buckets)
    cost = sum(
        (ctx.behaviour.costs.get(what, ZERO) * n for what, n in ctx.counts.items()), ZERO
    ) + ctx.amounts.get("cost", ZERO)
    segments: dict[str, int] = {}
    for seg in ctx.segments.values():
        segments[seg] = segments.get(seg, 0) + 1
    return SimSummary(
        start=ctx.start,
        end=end,
        loans=int(kpis["loans"]),
        kpis=kpis,
        roll=roll,
        counts=dict(ctx.counts),
        recovered=ctx.amounts.get("recovered", ZERO),
        cost=q2(cost),
        denials=session.scalar(select(func.count()).select_from(ContactDenial)) or 0,
        complaints=session.scalar(select(func.count()).select_from(Complaint)) or 0,
        balanced=trial_balance(session).balanced,
        segments=segments,
        amounts=dict(ctx.amounts),
        cpu=dict(ctx.cpu),
    )
