"""The authority matrix: every action × every role against a table written by hand.

The table below is the specification (POLICY.md §6 and segregation of duties), typed
independently of ``daihou.auth.permissions.ACTIONS``: a change to the matrix that
is not also made here fails the test.
"""

from __future__ import annotations

import pytest

from daihou.auth.actor import ROLES, SYSTEM, Actor
from daihou.auth.permissions import (
    ACTIONS,
    PermissionDenied,
    UnknownAction,
    authorize,
    authorize_approval,
    ensure_not_maker,
    is_allowed,
)
from daihou.auth.scopes import ResourceScope

COLUMNS = ("JR", "SR", "SV", "MG", "OP", "RI", "CO", "AU", "AG", "AD", "SY")
ROLE_OF = dict(
    zip(
        COLUMNS,
        (
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
            "system",
        ),
        strict=True,
    )
)

EXPECTED = """
action                   JR SR SV MG OP RI CO AU AG AD SY
loan.view                 Y  Y  Y  Y  Y  Y  Y  Y  Y  .  Y
loan.import               .  .  .  .  Y  .  .  .  .  .  Y
payment.post              .  .  .  .  Y  .  .  .  .  .  Y
payment.reverse           .  .  .  .  Y  .  .  .  .  .  Y
payment.prepay            .  .  .  .  Y  .  .  .  .  .  Y
payment.refund            .  .  .  .  Y  .  .  .  .  .  Y
fee.charge                .  .  .  .  Y  .  .  .  .  .  Y
lpr.add                   .  .  .  .  Y  .  .  .  .  .  Y
ledger.view               .  .  .  Y  Y  Y  .  Y  .  .  Y
eod.run                   .  .  .  .  Y  .  .  .  .  .  Y
collections.run           .  .  .  .  Y  .  .  .  .  .  Y
customer.reveal           Y  Y  Y  .  Y  .  Y  .  .  .  Y
hold.place                .  .  Y  Y  .  .  Y  .  .  .  Y
hold.release              .  .  Y  Y  .  .  Y  .  .  .  .
template.activate         .  .  .  .  .  .  Y  .  .  .  .
template.edit             .  .  Y  Y  .  .  Y  .  .  .  .
message.manage            .  .  Y  .  Y  .  Y  .  .  .  Y
document.generate         .  .  Y  Y  Y  .  Y  .  .  .  Y
letter.export             .  .  .  .  Y  .  .  .  .  .  Y
qa.view                   .  .  Y  Y  .  .  Y  .  .  .  .
privacy.purge             .  .  .  .  .  .  Y  .  .  .  Y
key.rotate                .  .  .  .  .  .  .  .  .  Y  Y
audit.verify              .  .  .  .  .  .  Y  Y  .  .  Y
audit.view                .  .  .  .  .  .  Y  Y  .  .  .
complaint.create          Y  Y  Y  Y  Y  .  Y  .  .  .  Y
complaint.view            .  .  .  Y  .  .  Y  Y  .  .  Y
complaint.handle          .  .  .  .  .  .  Y  .  .  .  .
case.view                 Y  Y  Y  Y  .  Y  Y  Y  Y  .  Y
case.assign               .  .  Y  Y  .  .  .  .  .  .  Y
task.view                 Y  Y  Y  Y  .  .  .  .  Y  .  Y
contact.log               Y  Y  Y  .  .  .  .  .  Y  .  Y
message.send              Y  Y  Y  .  .  .  .  .  .  .  Y
promise.record            Y  Y  Y  .  .  .  .  .  Y  .  .
visit.record              Y  Y  Y  .  .  .  .  .  Y  .  .
plan.request              .  Y  Y  .  .  .  .  .  .  .  .
plan.approve              .  .  Y  Y  .  .  .  .  .  .  .
waiver.request            .  Y  Y  .  .  .  .  .  .  .  .
waiver.approve            .  .  Y  Y  .  .  .  .  .  .  .
placement.create          .  .  Y  Y  .  .  .  .  .  .  .
placement.propose         Y  Y  Y  .  .  .  .  .  .  .  .
placement.approve         .  .  Y  Y  .  .  .  .  .  .  .
placement.recall          .  .  Y  Y  .  .  .  .  .  .  .
agency.manage             .  .  Y  Y  .  .  .  .  .  .  .
legal.refer               .  .  Y  Y  .  .  .  .  .  .  .
legal.propose             Y  Y  Y  .  .  .  .  .  .  .  .
legal.approve             .  .  Y  Y  .  .  .  .  .  .  .
legal.update              .  .  Y  Y  .  .  .  .  .  .  .
writeoff.propose          .  .  Y  .  .  .  .  .  .  .  .
writeoff.approve          .  .  .  Y  .  .  .  .  .  .  .
classification.override   .  .  .  Y  .  Y  .  .  .  .  .
classification.approve    .  .  .  Y  .  .  .  .  .  .  .
kpi.view                  .  .  Y  Y  .  Y  Y  Y  .  .  .
policy.view               Y  Y  Y  Y  Y  Y  Y  Y  .  Y  Y
user.manage               .  .  .  .  .  .  .  .  .  Y  Y
"""


def expected_table() -> dict[tuple[str, str], bool]:
    lines = [line.split() for line in EXPECTED.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert tuple(header[1:]) == COLUMNS
    table = {}
    for row in rows:
        assert len(row) == len(COLUMNS) + 1, row
        for code, mark in zip(COLUMNS, row[1:], strict=True):
            assert mark in {"Y", "."}
            table[(row[0], ROLE_OF[code])] = mark == "Y"
    return table


TABLE = expected_table()
EXPECTED_ACTIONS = sorted({action for action, _ in TABLE})


def actor_with(role: str) -> Actor:
    return Actor(
        user_id=f"u-{role}",
        roles=frozenset({role}),
        team="team-a",
        agency_id="agency-x" if role == "agency-user" else None,
    )


def test_table_covers_every_action_and_role() -> None:
    assert set(ROLE_OF.values()) == set(ROLES)
    assert set(EXPECTED_ACTIONS) == set(ACTIONS), "matrix and expected table list other actions"


@pytest.mark.parametrize("action", EXPECTED_ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_every_action_for_every_role(action: str, role: str) -> None:
    actor = actor_with(role)
    if TABLE[(action, role)]:
        basis = authorize(actor, action)
        assert basis.role == role and basis.action == action and basis.user_id == actor.user_id
        assert basis.rule_id.endswith(f":{action}")
    else:
        with pytest.raises(PermissionDenied) as caught:
            authorize(actor, action)
        assert action in str(caught.value) and role in str(caught.value)
        assert isinstance(caught.value, PermissionError)


def test_segregation_of_duties() -> None:
    writes = [a for a, rule in ACTIONS.items() if rule.writes]
    auditor = actor_with("auditor")
    assert not [a for a in writes if is_allowed(auditor, a)], "auditors only read"
    admin = actor_with("admin")
    assert not is_allowed(admin, "payment.post") and not is_allowed(admin, "customer.reveal")
    agency = actor_with("agency-user")
    assert not is_allowed(agency, "customer.reveal"), "data to agencies is masked"
    for action, rule in ACTIONS.items():
        if rule.approves:
            assert rule.approves in ACTIONS, action


def test_unknown_action_is_an_error_not_a_permission() -> None:
    with pytest.raises(UnknownAction):
        authorize(SYSTEM, "payment.teleport")


# --- data scopes ----------------------------------------------------------------------

JUNIOR = Actor("li", frozenset({"collector-junior"}), team="team-a")
SENIOR = Actor("wang", frozenset({"collector-senior"}), team="team-a")
SUPERVISOR = Actor("zhao", frozenset({"supervisor"}), team="team-a")
AGENCY = Actor("agent-1", frozenset({"agency-user"}), agency_id="agency-x")
MANAGER_NORTH = Actor("boss", frozenset({"manager"}), territory="north")
MANAGER_HQ = Actor("hq", frozenset({"manager"}))

OWN_CASE = ResourceScope(owner_user_id="li", team="team-a", territory="north")
TEAMMATE_CASE = ResourceScope(owner_user_id="wang", team="team-a", territory="north")
OTHER_TEAM_CASE = ResourceScope(owner_user_id="chen", team="team-b", territory="south")
PLACED_X = ResourceScope(owner_user_id="li", team="team-a", agency_id="agency-x")
PLACED_Y = ResourceScope(owner_user_id="chen", team="team-b", agency_id="agency-y")


def test_collector_acts_on_own_cases_only() -> None:
    basis = authorize(JUNIOR, "contact.log", resource=OWN_CASE)
    assert (basis.scope, basis.checked_resource) == ("own", True)
    for case in (OTHER_TEAM_CASE, TEAMMATE_CASE):
        with pytest.raises(PermissionDenied, match=r"contact\.log.*outside"):
            authorize(JUNIOR, "contact.log", resource=case)
    with pytest.raises(PermissionDenied, match="collector-senior"):
        authorize(SENIOR, "promise.record", resource=OTHER_TEAM_CASE)


def test_supervisor_acts_on_their_team_only() -> None:
    assert authorize(SUPERVISOR, "plan.approve", resource=TEAMMATE_CASE).scope == "team"
    with pytest.raises(PermissionDenied, match="supervisor"):
        authorize(SUPERVISOR, "placement.create", resource=OTHER_TEAM_CASE)


def test_agency_user_sees_only_cases_placed_with_their_agency() -> None:
    assert authorize(AGENCY, "case.view", resource=PLACED_X).scope == "agency"
    for case in (PLACED_Y, OWN_CASE):  # another agency's, and a case not placed at all
        with pytest.raises(PermissionDenied, match="agency-user"):
            authorize(AGENCY, "case.view", resource=case)
    no_agency = Actor("stray", frozenset({"agency-user"}))
    with pytest.raises(PermissionDenied):
        authorize(no_agency, "case.view", resource=ResourceScope(agency_id=None))


def test_manager_territory_or_everything() -> None:
    assert authorize(MANAGER_NORTH, "writeoff.approve", resource=OWN_CASE).scope == "territory"
    with pytest.raises(PermissionDenied):
        authorize(MANAGER_NORTH, "writeoff.approve", resource=OTHER_TEAM_CASE)
    assert authorize(MANAGER_HQ, "writeoff.approve", resource=OTHER_TEAM_CASE).scope == "all"


def test_several_roles_use_the_one_that_covers_the_case() -> None:
    both = Actor("li", frozenset({"collector-junior", "supervisor"}), team="team-a")
    assert authorize(both, "promise.record", resource=OWN_CASE).scope == "team"
    assert authorize(both, "promise.record", resource=TEAMMATE_CASE).role == "supervisor"
    # plan.request comes from supervisor only (juniors may not negotiate plans)
    assert authorize(both, "plan.request", resource=OWN_CASE).role == "supervisor"


def test_scoped_action_without_resource_reports_the_scope_to_filter_by() -> None:
    basis = authorize(SUPERVISOR, "case.view")
    assert (basis.scope, basis.checked_resource) == ("team", False)
    assert authorize(SYSTEM, "eod.run").scope is None


def test_maker_checker_refuses_self_approval() -> None:
    authorize(SUPERVISOR, "plan.approve", resource=TEAMMATE_CASE)
    ensure_not_maker(SUPERVISOR, "wang")
    with pytest.raises(PermissionDenied, match="maker–checker"):
        ensure_not_maker(SUPERVISOR, "zhao")
    basis = authorize(SUPERVISOR, "plan.request", resource=TEAMMATE_CASE)
    assert basis.as_dict()["rule_id"].endswith("plan.request")
    approval = authorize_approval(
        SUPERVISOR, "waiver.approve", maker_user_id="wang", resource=TEAMMATE_CASE
    )
    assert approval.role == "supervisor"
    with pytest.raises(PermissionDenied, match="maker–checker"):
        authorize_approval(SUPERVISOR, "waiver.approve", maker_user_id="zhao")
    with pytest.raises(UnknownAction, match="not an approval"):
        authorize_approval(SUPERVISOR, "waiver.request", maker_user_id="wang")
