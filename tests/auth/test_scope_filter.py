"""``scope_filter`` selects in SQL exactly the rows ``authorize`` allows one by one."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, insert, select

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import is_allowed
from daihou.auth.scopes import ResourceScope, scope_filter

meta = MetaData()
cases = Table(
    "scope_test_cases",
    meta,
    Column("id", String(8), primary_key=True),
    Column("owner", String(64)),
    Column("team", String(64)),
    Column("agency", String(64)),
    Column("territory", String(64)),
)
ROWS = [
    {"id": "c1", "owner": "li", "team": "team-a", "agency": None, "territory": "north"},
    {"id": "c2", "owner": "wang", "team": "team-a", "agency": "agency-x", "territory": "north"},
    {"id": "c3", "owner": "chen", "team": "team-b", "agency": "agency-y", "territory": "south"},
    {"id": "c4", "owner": "li", "team": "team-b", "agency": None, "territory": "south"},
    {"id": "c5", "owner": None, "team": None, "agency": None, "territory": None},
]

ACTORS = {
    "junior li": Actor("li", frozenset({"collector-junior"}), team="team-a"),
    "supervisor a": Actor("zhao", frozenset({"supervisor"}), team="team-a"),
    "agency x": Actor("agent", frozenset({"agency-user"}), agency_id="agency-x"),
    "manager north": Actor("boss", frozenset({"manager"}), territory="north"),
    "auditor": Actor("audit", frozenset({"auditor"})),
    "system": SYSTEM,
    "admin": Actor("root", frozenset({"admin"})),
}
EXPECTED = {
    "junior li": {"c1", "c4"},
    "supervisor a": {"c1", "c2"},
    "agency x": {"c2"},
    "manager north": {"c1", "c2"},
    "auditor": {"c1", "c2", "c3", "c4", "c5"},
    "system": {"c1", "c2", "c3", "c4", "c5"},
    "admin": set(),  # admin has no case.view at all
}


@pytest.mark.parametrize("who", sorted(ACTORS))
def test_filter_matches_authorize(engine: Engine, who: str) -> None:
    meta.create_all(engine)
    actor = ACTORS[who]
    with engine.begin() as conn:
        conn.execute(insert(cases), ROWS)
        where = scope_filter(
            actor,
            owner_col=cases.c.owner,
            team_col=cases.c.team,
            agency_col=cases.c.agency,
            territory_col=cases.c.territory,
            action="case.view",
        )
        seen = set(conn.scalars(select(cases.c.id).where(where)))
    assert seen == EXPECTED[who]
    one_by_one = {
        row["id"]
        for row in ROWS
        if is_allowed(
            actor,
            "case.view",
            resource=ResourceScope(row["owner"], row["team"], row["agency"], row["territory"]),
        )
    }
    assert one_by_one == seen


def test_territory_scope_without_a_territory_column_shows_nothing() -> None:
    where = scope_filter(
        ACTORS["manager north"],
        owner_col=cases.c.owner,
        team_col=cases.c.team,
        agency_col=cases.c.agency,
    )
    assert str(where) == "false"
