"""One contact gate (联系闸门): every SMS, e-mail, letter, call, visit and agency action
asks it first.

- ``decide`` (pure): request + history + effective rules → allow, or deny with the rule,
  a message (zh/en) and the next allowed time.
- ``packs``: compliance packs (YAML, ``packs/*.yaml``), ``combine`` — stricter wins.
- ``service``: ``check_contact`` / ``record_attempt`` against the database, race-safe
  per debtor when called in one transaction.
- ``holds``: holds (停催) and opt-outs (退订), with who and why, never deleted.
"""

from __future__ import annotations

from daihou.compliance.gate.decide import decide
from daihou.compliance.gate.holds import (
    active_holds,
    active_opt_outs,
    hold_history,
    opt_in,
    opt_out,
    place_hold,
    release_hold,
)
from daihou.compliance.gate.packs import (
    EffectiveRules,
    PackError,
    combine,
    load_contact_pack,
    load_rules,
)
from daihou.compliance.gate.schema import (
    ActiveHold,
    ContactHistory,
    ContactRequest,
    Decision,
    PastAttempt,
    address_key,
)
from daihou.compliance.gate.service import (
    Providers,
    check_contact,
    current_providers,
    load_history,
    record_attempt,
    register_providers,
)

__all__ = [
    "ActiveHold",
    "ContactHistory",
    "ContactRequest",
    "Decision",
    "EffectiveRules",
    "PackError",
    "PastAttempt",
    "Providers",
    "active_holds",
    "active_opt_outs",
    "address_key",
    "check_contact",
    "combine",
    "current_providers",
    "decide",
    "hold_history",
    "load_contact_pack",
    "load_history",
    "load_rules",
    "opt_in",
    "opt_out",
    "place_hold",
    "record_attempt",
    "register_providers",
    "release_hold",
]
