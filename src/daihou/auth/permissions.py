"""The permission matrix, as data, and the one function that applies it.

Every service action has a name (``payment.post``) and a rule: the roles that may
perform it and whether it acts on one case, loan or customer (then the actor's data
scope is checked, see ``daihou.auth.scopes``). Services call ``authorize`` before they
act and store the returned ``AuthorizationBasis`` with what they did (audit trail).

The matrix follows POLICY.md §6 (junior: calls and letters; senior: negotiates plans,
which a supervisor approves; supervisor: agency placement, litigation, write-off
proposals) and keeps duties apart: auditors only read, the admin manages users and
keys but sees no customer and posts nothing, agency users only touch cases placed with
their agency and never see personal data in full, and whoever requests an approval
cannot approve it (``ensure_not_maker``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from daihou.auth.actor import ROLES, Actor
from daihou.auth.scopes import (
    SCOPE_ORDER,
    ResourceScope,
    Scope,
    effective_scope,
    in_scope,
    widest,
)

MATRIX_VERSION = "authz-2026.1"

JR, SR, SV, MG = "collector-junior", "collector-senior", "supervisor", "manager"
OPS, RISK, COMP, AUD = "operations", "risk-analyst", "compliance-officer", "auditor"
AGY, ADM, SYS = "agency-user", "admin", "system"

COLLECTORS = (JR, SR)
FIELD = (JR, SR, SV, AGY)  # work a case: calls, records, visits
INTERNAL = tuple(r for r in ROLES if r != AGY)


@dataclass(frozen=True, slots=True)
class ActionRule:
    """Who may perform one action.

    ``scoped``: the action concerns one case, loan or customer, and the resource must
    lie in the actor's data scope. ``approves``: the request action this one approves;
    the approver must not be the requester (maker–checker).
    """

    roles: frozenset[str]
    scoped: bool
    description: str
    approves: str | None = None
    writes: bool = True


def _rule(
    description: str,
    *roles: str,
    scoped: bool = False,
    approves: str | None = None,
    writes: bool = True,
) -> ActionRule:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles in rule {description!r}: {sorted(unknown)}")
    return ActionRule(frozenset(roles), scoped, description, approves, writes)


def _read(description: str, *roles: str, scoped: bool = False) -> ActionRule:
    return _rule(description, *roles, scoped=scoped, writes=False)


ACTIONS: dict[str, ActionRule] = {
    # loan book, servicing, ledger, end of day (operations)
    "loan.view": _read(
        "see a loan, its schedule and payments", *FIELD, MG, OPS, RISK, COMP, AUD, SYS, scoped=True
    ),
    "loan.import": _rule("import a loan file", OPS, SYS),
    "payment.post": _rule("post a repayment (还款)", OPS, SYS),
    "payment.reverse": _rule("reverse a transaction (冲正)", OPS, SYS),
    "payment.prepay": _rule("post a prepayment (提前还款)", OPS, SYS),
    "payment.refund": _rule("refund customer credit (溢缴款退款)", OPS, SYS),
    "fee.charge": _rule("charge a fee", OPS, SYS),
    "lpr.add": _rule("record an LPR fixing", OPS, SYS),
    "ledger.view": _read("trial balance, journal, balances", MG, OPS, RISK, AUD, SYS),
    "eod.run": _rule("run end of day (日终)", OPS, SYS),
    "collections.run": _rule("run the daily collections strategy", OPS, SYS),
    # personal data, holds, compliance
    "customer.reveal": _read(
        "see personal data in full (logged)", *COLLECTORS, SV, OPS, COMP, SYS, scoped=True
    ),
    "hold.place": _rule("stop collection on a case (停催)", SV, MG, COMP, SYS, scoped=True),
    "hold.release": _rule("release a hold", SV, MG, COMP, scoped=True),
    "template.activate": _rule("activate a message template (after the language check)", COMP),
    "template.edit": _rule("write and preview message templates (drafts)", SV, MG, COMP),
    "message.manage": _rule("retry or cancel a queued message", SV, OPS, COMP, SYS),
    "document.generate": _rule(
        "generate a letter, certificate or evidence bundle (PDF)", SV, MG, OPS, COMP, SYS
    ),
    "letter.export": _rule("export a day's letters for print and mail", OPS, SYS),
    "qa.view": _read("script-compliance scores per collector and agency", SV, MG, COMP),
    "privacy.purge": _rule("destroy personal data past retention", COMP, SYS),
    "key.rotate": _rule("rotate the personal-data encryption key", ADM, SYS),
    "audit.verify": _read("verify the audit hash chain", COMP, AUD, SYS),
    "audit.view": _read("read the audit trail", COMP, AUD),
    "complaint.create": _rule("take a complaint (投诉受理)", *COLLECTORS, SV, MG, OPS, COMP, SYS),
    "complaint.view": _read("list and read complaints, SLA report", MG, COMP, AUD, SYS),
    "complaint.handle": _rule("respond, investigate, resolve, extend, close a complaint", COMP),
    # collections work (POLICY.md §6)
    "case.view": _read("see a collection case", *FIELD, MG, RISK, COMP, AUD, SYS, scoped=True),
    "case.assign": _rule("assign, reassign or transfer cases (离职移交)", SV, MG, SYS, scoped=True),
    "task.view": _read("a collector's task list (催收任务单)", *FIELD, MG, SYS, scoped=True),
    "contact.log": _rule("log a contact attempt and its outcome", *FIELD, SYS, scoped=True),
    "message.send": _rule(
        "send an SMS, email or letter on a case", *COLLECTORS, SV, SYS, scoped=True
    ),
    "promise.record": _rule("record a promise to pay (承诺还款)", *FIELD, scoped=True),
    "visit.record": _rule("record a field visit with photos", *FIELD, scoped=True),
    "plan.request": _rule("negotiate a repayment plan (分期还款)", SR, SV, scoped=True),
    "plan.approve": _rule("approve a repayment plan", SV, MG, scoped=True, approves="plan.request"),
    "waiver.request": _rule("request a penalty waiver (减免罚息)", SR, SV, scoped=True),
    "waiver.approve": _rule(
        "approve a penalty waiver", SV, MG, scoped=True, approves="waiver.request"
    ),
    "placement.create": _rule("place a case with an agency (委外)", SV, MG, scoped=True),
    "placement.propose": _rule(
        "propose placing a case with an agency, for a supervisor's decision",
        *COLLECTORS,
        SV,
        scoped=True,
    ),
    "placement.approve": _rule(
        "approve a proposed placement", SV, MG, scoped=True, approves="placement.propose"
    ),
    "placement.recall": _rule("recall a case from an agency", SV, MG, scoped=True),
    "agency.manage": _rule("agency whitelist, contracts, commission statements", SV, MG),
    "legal.refer": _rule("refer a case to litigation (诉讼)", SV, MG, scoped=True),
    "legal.propose": _rule(
        "propose referring a case to litigation, for a supervisor's decision",
        *COLLECTORS,
        SV,
        scoped=True,
    ),
    "legal.approve": _rule(
        "approve a proposed litigation referral", SV, MG, scoped=True, approves="legal.propose"
    ),
    "legal.update": _rule("record litigation stages and costs", SV, MG, scoped=True),
    "writeoff.propose": _rule("propose a write-off (核销)", SV, scoped=True),
    "writeoff.approve": _rule("approve a write-off", MG, scoped=True, approves="writeoff.propose"),
    "classification.override": _rule(
        "override a loan's risk class (五级分类)", MG, RISK, scoped=True
    ),
    "classification.approve": _rule(
        "approve a risk-class override", MG, scoped=True, approves="classification.override"
    ),
    # analytics, administration
    "kpi.view": _read(
        "dashboards and KPIs (aggregates, no personal data)", SV, MG, RISK, COMP, AUD
    ),
    "policy.view": _read("read the active policy packs", *INTERNAL),
    "user.manage": _rule("create users, set roles, reset passwords, unlock", ADM, SYS),
}


class UnknownAction(LookupError):
    """An action name missing from the matrix: a programming error, never allowed."""


class PermissionDenied(PermissionError):
    """The actor's roles do not grant the action, or the resource is out of scope."""

    def __init__(self, message: str, *, action: str, roles: frozenset[str]) -> None:
        super().__init__(message)
        self.action = action
        self.roles = roles


@dataclass(frozen=True, slots=True)
class AuthorizationBasis:
    """Why an action was allowed; stored with the action (授权依据).

    ``scope`` is the data scope the role gave; for a scoped action authorised without a
    resource (a list) the caller must filter with ``scopes.scope_filter``.
    """

    action: str
    user_id: str
    role: str
    rule_id: str
    scope: Scope | None
    checked_resource: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "user_id": self.user_id,
            "role": self.role,
            "rule_id": self.rule_id,
            "scope": self.scope,
            "checked_resource": self.checked_resource,
        }


def rule_for(action: str) -> ActionRule:
    try:
        return ACTIONS[action]
    except KeyError:
        raise UnknownAction(f"no permission rule for action {action!r}") from None


def granting_roles(actor: Actor, action: str) -> list[str]:
    """The actor's roles that grant ``action``, in ``ROLES`` order."""
    allowed = rule_for(action).roles
    return [role for role in ROLES if role in actor.roles and role in allowed]


def _names(roles: frozenset[str] | list[str]) -> str:
    return ", ".join(sorted(roles)) or "no role"


def authorize(
    actor: Actor, action: str, *, resource: ResourceScope | None = None
) -> AuthorizationBasis:
    """Allow ``action`` for ``actor`` (on ``resource``) or raise ``PermissionDenied``.

    Several roles: the first that grants the action and covers the resource is the
    basis (widest scope first).
    """
    rule = rule_for(action)
    roles = granting_roles(actor, action)
    if not roles:
        raise PermissionDenied(
            f"{actor.user_id} ({_names(actor.roles)}) may not {action}; "
            f"allowed roles: {_names(rule.roles)}",
            action=action,
            roles=actor.roles,
        )
    by_scope: dict[Scope, str] = {}
    for role in roles:
        scope = effective_scope(actor, role)
        if scope is not None:
            by_scope.setdefault(scope, role)
    if not rule.scoped:
        return _basis(actor, action, roles[0], None, checked=False)
    if resource is None:
        best = widest(set(by_scope))
        assert best is not None  # every role in ROLES has a scope
        return _basis(actor, action, by_scope[best], best, checked=False)
    for scope, role in sorted(by_scope.items(), key=lambda kv: SCOPE_ORDER.index(kv[0])):
        if in_scope(actor, scope, resource):
            return _basis(actor, action, role, scope, checked=True)
    # the refusal names the caller's scope, never the case's owner, team, agency or
    # territory: those are what the caller may not see
    raise PermissionDenied(
        f"{actor.user_id} ({_names(roles)}) may not {action} on this case: it is outside "
        f"their scope ({', '.join(sorted(by_scope, key=SCOPE_ORDER.index))})",
        action=action,
        roles=actor.roles,
    )


def _basis(
    actor: Actor, action: str, role: str, scope: Scope | None, *, checked: bool
) -> AuthorizationBasis:
    return AuthorizationBasis(
        action=action,
        user_id=actor.user_id,
        role=role,
        rule_id=f"{MATRIX_VERSION}:{action}",
        scope=scope,
        checked_resource=checked,
    )


def is_allowed(actor: Actor, action: str, *, resource: ResourceScope | None = None) -> bool:
    """``authorize`` as a yes/no, for showing or hiding a button."""
    try:
        authorize(actor, action, resource=resource)
    except PermissionDenied:
        return False
    return True


def ensure_not_maker(actor: Actor, maker_user_id: str | None, *, action: str = "approve") -> None:
    """Maker–checker (四眼原则): nobody approves their own request."""
    if maker_user_id is not None and maker_user_id == actor.user_id:
        raise PermissionDenied(
            f"{actor.user_id} made this request and may not also {action} it (maker–checker)",
            action=action,
            roles=actor.roles,
        )


def authorize_approval(
    actor: Actor,
    action: str,
    *,
    maker_user_id: str | None,
    resource: ResourceScope | None = None,
) -> AuthorizationBasis:
    """``authorize`` for an approval action plus maker–checker against the requester."""
    if rule_for(action).approves is None:
        raise UnknownAction(f"{action!r} is not an approval action")
    basis = authorize(actor, action, resource=resource)
    ensure_not_maker(actor, maker_user_id, action=action)
    return basis
