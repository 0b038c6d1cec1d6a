"""Data scopes: which cases, loans and customers an actor may touch.

Every role has one scope (data, below): a collector works their *own* cases, a
supervisor their *team*'s, a manager their *territory*'s (属地; all when the manager
has no territory), an agency user only cases currently placed with their *agency*,
and head-office roles *all*. A resource (case, loan, customer) is described by a
``ResourceScope``; ``in_scope`` checks one resource and ``scope_filter`` turns the
same rule into a SQL condition for list queries, so a list never shows what a single
look-up would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.orm import QueryableAttribute

from daihou.auth.actor import Actor

Scope = Literal["own", "team", "territory", "agency", "all"]

# Widest first: when several of an actor's roles grant an action, the widest wins.
SCOPE_ORDER: tuple[Scope, ...] = ("all", "territory", "team", "agency", "own")

ROLE_SCOPES: dict[str, Scope] = {
    "collector-junior": "own",
    "collector-senior": "own",
    "supervisor": "team",
    "manager": "territory",
    "operations": "all",
    "risk-analyst": "all",
    "compliance-officer": "all",
    "auditor": "all",
    "agency-user": "agency",
    "admin": "all",
    "system": "all",
}

Column = QueryableAttribute[Any] | ColumnElement[Any]


@dataclass(frozen=True, slots=True)
class ResourceScope:
    """Who a case (or its loan and customer) belongs to.

    ``agency_id`` is the agency the case is *currently* placed with (委外), ``None``
    when it is not placed; ``territory`` is the branch or region (属地).
    """

    owner_user_id: str | None = None
    team: str | None = None
    agency_id: str | None = None
    territory: str | None = None


def effective_scope(actor: Actor, role: str) -> Scope | None:
    """The scope ``role`` gives ``actor``; ``None`` for a role the actor lacks or an
    unknown role. A manager without a territory sees everything."""
    if role not in actor.roles:
        return None
    scope = ROLE_SCOPES.get(role)
    if scope == "territory" and actor.territory is None:
        return "all"
    return scope


def in_scope(actor: Actor, scope: Scope, resource: ResourceScope) -> bool:
    """Whether ``resource`` lies within ``scope`` as held by ``actor``."""
    own = resource.owner_user_id is not None and resource.owner_user_id == actor.user_id
    if scope == "all":
        return True
    if scope == "territory":
        return actor.territory is not None and resource.territory == actor.territory
    if scope == "team":
        return own or (actor.team is not None and resource.team == actor.team)
    if scope == "agency":
        return actor.agency_id is not None and resource.agency_id == actor.agency_id
    return own


def widest(scopes: set[Scope]) -> Scope | None:
    for scope in SCOPE_ORDER:
        if scope in scopes:
            return scope
    return None


def scope_filter(
    actor: Actor,
    *,
    owner_col: Column,
    team_col: Column,
    agency_col: Column,
    territory_col: Column | None = None,
    action: str | None = None,
) -> ColumnElement[bool]:
    """A WHERE condition selecting the rows ``actor`` may see.

    With ``action`` only the roles that grant that action count (use it: a user who is
    both auditor and collector lists cases for ``case.assign`` as a collector would).
    Without it every role of the actor counts. A territory scope needs
    ``territory_col``; without it the condition is false (nothing is shown) rather
    than everything.
    """
    if action is not None:
        from daihou.auth.permissions import granting_roles

        roles = granting_roles(actor, action)
    else:
        roles = sorted(actor.roles)
    clauses: list[ColumnElement[bool]] = []
    for role in roles:
        scope = effective_scope(actor, role)
        if scope == "all":
            return true()
        if scope == "territory":
            if territory_col is not None and actor.territory is not None:
                clauses.append(territory_col == actor.territory)
        elif scope == "team":
            clauses.append(owner_col == actor.user_id)
            if actor.team is not None:
                clauses.append(team_col == actor.team)
        elif scope == "agency":
            if actor.agency_id is not None:
                clauses.append(agency_col == actor.agency_id)
        elif scope == "own":
            clauses.append(owner_col == actor.user_id)
    if not clauses:
        return false()
    return or_(*clauses)
