"""The demo's staff: one user per role (printed at the end so people can sign in to the
workbench) and the collectors who work the task lists, sized to the book."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM
from daihou.auth.passwords import hash_password
from daihou.auth.service import actor_for, create_user
from daihou.collection.agencies.registry import AgencyTerms, add_agency
from daihou.collection.assign import register_collector

SUPERVISOR = "supervisor"
DEMO_PASSWORD = "daihou-demo-2026"  # a throw-away demo database only
TEAM, TERRITORY, AGENCY = "east", "shanghai", "AG-DEMO-1"
AGENCIES = (("AG-DEMO-1", "示例催收服务有限公司"), ("AG-DEMO-2", "样例资产管理有限公司"))


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    role: str
    tier: str | None = None  # collectors: desk | junior | senior


def staff_for(loans: int) -> list[DemoUser]:
    """One user per office role and collectors in proportion to the book: about one
    call-desk collector per 2,500 loans, one junior per 5,000, one senior per 8,000."""
    users = [
        DemoUser("supervisor", "supervisor"),
        DemoUser("manager", "manager"),
        DemoUser("operations", "operations"),
        DemoUser("risk", "risk-analyst"),
        DemoUser("compliance", "compliance-officer"),
        DemoUser("auditor", "auditor"),
        DemoUser("admin", "admin"),
        DemoUser("agency", "agency-user"),
    ]
    for tier, per in (("desk", 2_500), ("junior", 5_000), ("senior", 8_000)):
        role = "collector-senior" if tier == "senior" else "collector-junior"
        for n in range(1, max(1, -(-loans // per)) + 1):
            users.append(DemoUser(f"{tier}{n}", role, tier))
    return users


def create_agencies(session: Session, start: date) -> None:
    """Two whitelisted outsourcing agencies (委外) with a year's contract, admitted by
    the demo manager."""
    manager = actor_for(session, "manager")
    for agency_id, name in AGENCIES:
        add_agency(
            session,
            actor=manager,
            agency_id=agency_id,
            terms=AgencyTerms(
                name=name,
                licence_no=f"LIC-{agency_id}",
                licence_expires_on=start + timedelta(days=730),
                contract_from=start - timedelta(days=30),
                contract_until=start + timedelta(days=365),
                max_cases=5_000,
            ),
            reason="demo agency",
        )


def create_staff(session: Session, users: list[DemoUser], *, capacity: int = 80) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    # They all share the one printed password: argon2 it once (about 0.2 s a hash, 16
    # users at 10k loans), not once per user. Signing in still verifies it for real.
    hashed = hash_password(DEMO_PASSWORD)
    for u in users:
        create_user(
            session,
            actor=SYSTEM,
            username=u.username,
            password=DEMO_PASSWORD,
            password_hash=hashed,
            roles=[u.role],
            now=now,
            display_name=u.username,
            team=TEAM if u.role not in ("agency-user", "admin", "auditor") else None,
            territory=TERRITORY if u.role == "manager" else None,
            agency_id=AGENCY if u.role == "agency-user" else None,
        )
        if u.tier is not None:
            register_collector(
                session,
                user_id=u.username,
                tier=u.tier,
                actor=SYSTEM,
                team=TEAM,
                territory=TERRITORY,
                daily_capacity=capacity,
            )
