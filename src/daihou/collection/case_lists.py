"""Lists of rows that belong to a collection case (promises, legal files, ...) limited
to the cases the actor may see: the same ``scope_filter`` rule as a single look-up, so
a list never holds a row its case's view would refuse."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import QueryableAttribute

from daihou.auth.actor import Actor
from daihou.auth.scopes import scope_filter
from daihou.collection.models import CollectionCase

_T = TypeVar("_T", bound=tuple[Any, ...])


def case_scope_filter(actor: Actor, action: str = "case.view") -> ColumnElement[bool]:
    """SQL condition on ``CollectionCase``: the case lies in the actor's scope for
    ``action``."""
    c = CollectionCase
    return scope_filter(
        actor,
        owner_col=c.owner_user_id,
        team_col=c.team,
        agency_col=c.agency_id,
        territory_col=c.territory,
        action=action,
    )


def in_case_scope(
    query: Select[_T], case_id: QueryableAttribute[int], actor: Actor, action: str = "case.view"
) -> Select[_T]:
    """``query`` joined to the case of ``case_id`` and limited to the cases in the
    actor's scope for ``action``."""
    c = CollectionCase
    return query.join(c, c.id == case_id).where(case_scope_filter(actor, action))
