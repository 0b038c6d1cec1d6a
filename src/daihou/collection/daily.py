"""The steps every daily collections run takes besides its own (the defaults of
``run_collections``), kept here so ``run.py`` imports them lazily and the step modules
may import what they need without a cycle.

First (``FIRST_STEPS``), before the cases are synced:

- ``housekeeping``: expire approval requests past their date and review the plans in
  force — complete, lapse, or break a plan with a missed installment (revert or
  escalate) — ``collection.housekeeping``, which explains why it must come first: its
  row locks (requests, then loans) are taken before any step appends to the audit chain.

Before the strategy (``PRE_STEPS``), after the cases are synced:

- ``promises``: settle open promises to pay — kept when the payments reached the
  amount, broken when their last day passed (``collection.promises.evaluate_promises``),
  so today's treatments already see the result.

After the tasks (``DEFAULT_STEPS``):

- ``messages``: planned SMS, e-mail and letter treatments become outbox messages
  (``collection.outbox_link.queue_messages``);
- ``placements``: recall placements that expired, of closed cases, or with an agency no
  longer admitted (``collection.agencies.recall.expire_placements``);
- ``legal_files``: open the litigation file and its evidence checklist at 60+ DPD
  (``collection.legal.service.prepare_legal_files``).

``daihou plan review`` and ``daihou approvals expire`` remain for running those two on
their own (both idempotent, so running them besides the daily run changes nothing).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from daihou.collection.agencies.recall import expire_placements
from daihou.collection.housekeeping import housekeeping
from daihou.collection.legal.service import prepare_legal_files
from daihou.collection.outbox_link import queue_messages
from daihou.collection.promises import evaluate_promises
from daihou.collection.run import Hook
from daihou.policy.schema import PolicyPack


def _promises(session: Session, d: date, _pack: PolicyPack) -> dict[str, Any]:
    run = evaluate_promises(session, d)
    return {"kept": len(run.kept), "broken": len(run.broken)}


def _placements(session: Session, d: date, _pack: PolicyPack) -> dict[str, Any]:
    return {"recalled": expire_placements(session, d)}


def _legal_files(session: Session, d: date, pack: PolicyPack) -> dict[str, Any]:
    return {"opened": prepare_legal_files(session, d, config=pack.agencies_legal.legal)}


FIRST_STEPS: list[tuple[str, Hook]] = [("housekeeping", housekeeping)]
PRE_STEPS: list[tuple[str, Hook]] = [("promises", _promises)]
DEFAULT_STEPS: list[tuple[str, Hook]] = [
    ("messages", queue_messages),
    ("placements", _placements),
    ("legal_files", _legal_files),
]
