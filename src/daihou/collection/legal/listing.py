"""Legal files the actor may see (``case.view`` on the file's case), newest first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.auth.permissions import authorize
from daihou.collection.case_lists import in_case_scope
from daihou.collection.legal.models import LegalFile
from daihou.collection.legal.service import STAGES


def list_files(
    session: Session,
    *,
    actor: Actor,
    stage: str | None = None,
    referred_only: bool = False,
    limit: int = 200,
    offset: int = 0,
) -> list[LegalFile]:
    """One query: the files whose case lies in the actor's scope (the list never holds
    a file ``legal_file_view`` would refuse)."""
    authorize(actor, "case.view")
    if stage is not None and stage not in STAGES:
        raise ValueError(f"stage: {stage!r} is not one of {list(STAGES)}")
    query = in_case_scope(select(LegalFile), LegalFile.case_id, actor)
    if stage is not None:
        query = query.where(LegalFile.stage == stage)
    if referred_only:
        query = query.where(LegalFile.referred_on.is_not(None))
    return list(session.scalars(query.order_by(LegalFile.id.desc()).limit(limit).offset(offset)))
