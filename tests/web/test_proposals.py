"""Placement and litigation proposals (``/api/v1/proposals``) on the supervision book,
SQLite and PostgreSQL: a collector proposes, the proposal waits in the supervisor's
approvals inbox (API and page) and is decided there; maker–checker refuses the
proposer (403 naming the rule); an approval the case no longer allows changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from daihou.collection.agencies.models import Placement
from daihou.collection.approval_models import ApprovalRequest
from daihou.collection.legal.models import LegalFile
from daihou.collection.models import CollectionCase
from daihou.collection.tables import CollectionTask
from daihou.db.engine import transaction
from tests.web.conftest import Book, check_route, login, open_book
from tests.web.supervision_book import build, facts


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def book(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Book]:
    yield from open_book(str(request.param), tmp_path_factory, build)


def case_of(book: Book, loan_id: str) -> int:
    return facts(book.engine).cases[loan_id]


def propose(client: TestClient, book: Book, user: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/api/v1/proposals", json=body, headers=book.headers(user))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_routes_signed_out_refused_allowed(client: TestClient, book: Book) -> None:
    body = {"kind": "legal", "case_id": case_of(book, "S11"), "reason": "refuses to pay"}
    # col2 (team west) may not propose on col's case; col may
    check_route(client, book, "POST", "/api/v1/proposals", body, "col", "col2")
    # an operator may neither propose nor decide; the supervisor sees it waiting
    check_route(client, book, "GET", "/api/v1/proposals", None, "sup", "ops")
    check_route(client, book, "GET", "/api/v1/proposals?kind=legal", None, "col", "agy")


def test_placement_proposal_is_decided_in_the_inbox(client: TestClient, book: Book) -> None:
    case_id = case_of(book, "S9")
    made = propose(
        client,
        book,
        "col",
        {"kind": "placement", "case_id": case_id, "reason": "no contact for weeks"},
    )
    assert (made["kind"], made["status"], made["requested_by"]) == ("placement", "pending", "col")
    assert made["amount"] != "0.00"  # the overdue amount when proposed
    with transaction(book.engine) as s:  # the strategy's review task for the supervisor
        loan = s.get(CollectionCase, case_id)
        assert loan is not None
        s.add(
            CollectionTask(
                business_date=facts(book.engine).on,
                work_date=facts(book.engine).on,
                case_id=case_id,
                loan_id="S9",
                customer_id="C-S9",
                kind="agency-placement",
                assignee_role="supervisor",
                team="east",
                slots=1,
                dpd=47,
                priority=1,
                rank=1,
                status="queued",
            )
        )
    mine = client.get("/api/v1/proposals", headers=book.headers("col")).json()
    assert made["id"] in {p["id"] for p in mine["items"]}
    inbox = client.get("/api/v1/approvals?kind=placement", headers=book.headers("sup")).json()
    assert made["id"] in {r["id"] for r in inbox["items"]}
    west = client.get("/api/v1/approvals", headers=book.headers("sup2")).json()
    assert made["id"] not in {r["id"] for r in west["items"]}  # another team's case
    refused = client.post(
        f"/api/v1/approvals/{made['id']}/approve",
        json={"comment": "yes"},
        headers=book.headers("sup2"),
    )
    assert refused.status_code == 403
    done = client.post(
        f"/api/v1/approvals/{made['id']}/approve",
        json={"comment": "agreed: over 31 DPD"},
        headers=book.headers("sup"),
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["decided_by"]) == ("approved", "sup")
    assert body["decided_basis"]["limit_rule"] == "approvals.limits.placement.supervisor"
    with transaction(book.engine) as s:
        case = s.get(CollectionCase, case_id)
        assert case is not None and case.agency_id is not None and case.stage == "agency"
        placement = s.scalars(
            select(Placement).where(Placement.case_id == case_id, Placement.status == "active")
        ).one()
        assert placement.placed_by == "sup" and placement.agency_id == case.agency_id
        task = s.scalars(
            select(CollectionTask).where(
                CollectionTask.case_id == case_id, CollectionTask.kind == "agency-placement"
            )
        ).one()
        assert task.status == "done" and task.feedback_at is not None
    gone = client.get("/api/v1/proposals", headers=book.headers("sup")).json()
    assert made["id"] not in {p["id"] for p in gone["items"]}


def test_maker_checker_refuses_the_proposer(client: TestClient, book: Book) -> None:
    """A supervisor may propose too; the proposal then waits for another person."""
    case_id = case_of(book, "S12")  # sup's own case
    made = propose(
        client, book, "sup", {"kind": "placement", "case_id": case_id, "reason": "moved away"}
    )
    inbox = client.get("/api/v1/approvals", headers=book.headers("sup")).json()
    assert made["id"] not in {r["id"] for r in inbox["items"]}
    refused = client.post(
        f"/api/v1/approvals/{made['id']}/approve",
        json={"comment": "mine"},
        headers=book.headers("sup"),
    )
    assert refused.status_code == 403
    answer = refused.json()
    assert answer["error"] == "forbidden" and "maker–checker" in answer["message"]
    assert answer["action"] == "placement.approve"
    seen = client.get(f"/api/v1/approvals/{made['id']}", headers=book.headers("sup")).json()
    assert seen["can_decide"] is False and "maker–checker" in seen["cannot_decide_because"]
    with transaction(book.engine) as s:
        req = s.get(ApprovalRequest, made["id"])
        case = s.get(CollectionCase, case_id)
        assert req is not None and req.status == "pending"
        assert case is not None and case.agency_id is None
    rejected = client.post(
        f"/api/v1/approvals/{made['id']}/reject",
        json={"comment": "keep it in house"},
        headers=book.headers("mgr"),
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"


def test_referral_the_rules_do_not_allow_changes_nothing(client: TestClient, book: Book) -> None:
    """S10 is 47 days past due: approving its referral is refused with refer()'s
    reason (4xx, not 500) and the proposal still waits; rejecting it closes it."""
    case_id = case_of(book, "S10")
    made = propose(
        client, book, "col", {"kind": "legal", "case_id": case_id, "reason": "refuses to pay"}
    )
    assert made["kind"] == "legal"
    again = client.post(
        "/api/v1/proposals",
        json={"kind": "legal", "case_id": case_id, "reason": "twice"},
        headers=book.headers("col"),
    )
    assert again.status_code == 422 and again.json()["field"] == "case_id"
    no = client.post(
        f"/api/v1/approvals/{made['id']}/approve",
        json={"comment": "to court"},
        headers=book.headers("sup"),
    )
    assert no.status_code == 422, no.text
    assert "may not be referred" in no.json()["message"]
    with transaction(book.engine) as s:
        req = s.get(ApprovalRequest, made["id"])
        case = s.get(CollectionCase, case_id)
        file = s.scalars(select(LegalFile).where(LegalFile.case_id == case_id)).one()
        assert req is not None and req.status == "pending" and req.decided_by is None
        assert case is not None and case.stage != "legal" and file.referred_on is None
    rejected = client.post(
        f"/api/v1/approvals/{made['id']}/reject",
        json={"comment": "not yet 90 days"},
        headers=book.headers("sup"),
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"


def test_bad_proposals_name_the_field(client: TestClient, book: Book) -> None:
    case_id = case_of(book, "S3")
    for body, field in (
        ({"kind": "bribe", "case_id": case_id, "reason": "x"}, "kind"),
        ({"kind": "placement", "case_id": case_id, "reason": ""}, "reason"),
        ({"kind": "placement", "case_id": case_id, "reason": " "}, "reason"),
        ({"kind": "legal", "case_id": case_id, "reason": "x", "agency_id": "agy-1"}, "agency_id"),
        (
            {"kind": "placement", "case_id": case_id, "reason": "x", "agency_id": "nope"},
            "agency_id",
        ),
        ({"kind": "placement", "case_id": 999999, "reason": "x"}, "case_id"),
    ):
        answer = client.post("/api/v1/proposals", json=body, headers=book.headers("col"))
        assert answer.status_code in (404, 422), (body, answer.text)
        assert answer.json()["field"] == field, (body, answer.text)
    placed = case_of(book, "S6")  # already with agy-1 (sen's case)
    answer = client.post(
        "/api/v1/proposals",
        json={"kind": "placement", "case_id": placed, "reason": "x"},
        headers=book.headers("sen"),
    )
    assert answer.status_code == 422 and answer.json()["field"] == "case_id"


def test_inbox_page_lists_and_decides_a_proposal(web: TestClient, book: Book) -> None:
    case_id = case_of(book, "S3")
    made = propose(
        web, book, "col", {"kind": "placement", "case_id": case_id, "reason": "lost contact"}
    )
    csrf = login(web, "sup")
    inbox = web.get("/approvals?kind=placement")
    assert inbox.status_code == 200
    assert f'data-request="{made["id"]}"' in inbox.text
    detail = web.get(f"/approvals/{made['id']}")
    assert 'id="decision-form"' in detail.text
    answer = web.post(
        f"/approvals/{made['id']}/decision",
        data={"decision": "reject", "comment": "call again first", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    with transaction(book.engine) as s:
        req = s.get(ApprovalRequest, made["id"])
        assert req is not None and req.status == "rejected" and req.decided_by == "sup"
    csrf = login(web, "col")
    own = web.get(f"/approvals/{made['id']}")
    assert own.status_code == 200 and 'id="decision-form"' not in own.text


def test_scope_refusals_do_not_name_the_owner(client: TestClient, book: Book) -> None:
    """A collector asking for another team's case (S1: sen, team east) or proposing on
    it hears that it is outside their scope, not whose case it is."""
    case_id = case_of(book, "S1")
    for answer in (
        client.get(f"/api/v1/cases/{case_id}", headers=book.headers("col2")),
        client.post(
            "/api/v1/proposals",
            json={"kind": "legal", "case_id": case_id, "reason": "x"},
            headers=book.headers("col2"),
        ),
        client.get(f"/api/v1/portal/cases/{case_id}", headers=book.headers("agy")),
    ):
        assert answer.status_code == 403, answer.text
        message = answer.json()["message"]
        assert "sen" not in message and "east" not in message, message


def test_case_page_form_sends_a_proposal(web: TestClient, book: Book) -> None:
    case_id = case_of(book, "S11")
    csrf = login(web, "col")
    form = web.get(f"/cases/{case_id}")
    assert 'id="proposal-form"' in form.text
    blank = web.post(
        f"/cases/{case_id}/proposals",
        data={"kind": "placement", "reason": " ", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert blank.status_code == 422 and "reason" in blank.text
    sent = web.post(
        f"/cases/{case_id}/proposals",
        data={"kind": "placement", "reason": "三次外访未遇", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    with transaction(book.engine) as s:
        req = s.scalars(
            select(ApprovalRequest).where(
                ApprovalRequest.case_id == case_id, ApprovalRequest.kind == "placement"
            )
        ).one()
        assert (req.status, req.requested_by, req.reason) == ("pending", "col", "三次外访未遇")
    login(web, "ops")  # may neither propose nor see the case
    assert web.get(f"/cases/{case_id}").status_code == 403
