"""Who performs an action. Service functions take an ``Actor`` and ask
``daihou.auth.permissions.authorize`` before they act."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = (
    "collector-junior",
    "collector-senior",
    "supervisor",
    "manager",
    "operations",
    "risk-analyst",
    "compliance-officer",
    "auditor",
    "agency-user",
    "admin",
    "system",  # batch jobs: end of day, collections run, workers, imports from the CLI
)


@dataclass(frozen=True, slots=True)
class Actor:
    """The user (or the batch ``SYSTEM``) on whose behalf a service runs.

    ``team``, ``agency_id`` and ``territory`` (属地: branch or region) bound the data
    the actor may touch; which of them applies depends on the role
    (``daihou.auth.scopes.ROLE_SCOPES``).
    """

    user_id: str
    roles: frozenset[str]
    team: str | None = None
    agency_id: str | None = None
    display: str = field(default="", compare=False)
    territory: str | None = None

    def has(self, role: str) -> bool:
        return role in self.roles


SYSTEM = Actor(user_id="system", roles=frozenset({"system"}), display="system")
