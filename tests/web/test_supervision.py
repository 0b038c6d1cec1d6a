"""Supervisor and agency API and pages on their own book (``supervision_book``), on
SQLite and PostgreSQL: every route signed out (401 / login page), refused (403) and
allowed; maker–checker; the team board's figures; all-or-none reassignment; the
agency portal refusing cases not placed with the user's agency; statements."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from daihou.collection.approval_models import ApprovalRequest, RepaymentPlan
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.collection.tables import Collector
from daihou.db.engine import transaction
from tests.web.conftest import Book, check_route, login, open_book
from tests.web.labels import unlabelled
from tests.web.supervision_book import build, facts


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def book(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Book]:
    yield from open_book(str(request.param), tmp_path_factory, build)


def ids(book: Book) -> dict[str, Any]:
    f = facts(book.engine)
    return {**f.cases, **f.plans, "on": f.on.isoformat(), "month": f.on.strftime("%Y-%m")}


# (method, path, json body, allowed user, refused user); {S3} is the case of loan S3,
# {A} the approval request of plan A (see supervision_book)
ROUTES: list[tuple[str, str, dict[str, Any] | None, str, str]] = [
    ("GET", "/api/v1/approvals", None, "sup", "col"),
    ("GET", "/api/v1/approvals?kind=plan", None, "mgr", "agy"),
    ("GET", "/api/v1/approvals/{A}", None, "sup", "col"),
    ("POST", "/api/v1/approvals/{A}/approve", {"comment": "affordable"}, "sup", "col"),
    ("POST", "/api/v1/approvals/{B}/reject", {"comment": "income unproven"}, "mgr", "sen"),
    ("GET", "/api/v1/supervision/board?on={on}", None, "sup", "col"),
    ("GET", "/api/v1/supervision/collectors", None, "mgr", "agy"),
    (
        "POST",
        "/api/v1/supervision/reassignments",
        {"case_ids": ["{S9}"], "to_user_id": "sen", "reason": "balance the load"},
        "sup",
        "col2",
    ),
    (
        "POST",
        "/api/v1/supervision/transfers",
        {"from_user_id": "col3", "to_user_id": "col", "reason": "left the bank"},
        "sup",
        "sup2",
    ),
    ("GET", "/api/v1/agencies", None, "sup", "col"),
    ("GET", "/api/v1/agencies/ranking", None, "sup", "agy"),
    ("GET", "/api/v1/agencies/agy-1", None, "mgr", "col"),
    (
        "POST",
        "/api/v1/agencies/agy-3/status",
        {"status": "suspended", "reason": "licence review"},
        "mgr",
        "col",
    ),
    ("GET", "/api/v1/placement-batches", None, "mgr", "col"),
    ("POST", "/api/v1/placement-batches", {"limit": 1}, "sup2", "col"),
    ("GET", "/api/v1/agencies/agy-1/statements/{month}", None, "sup", "col"),
    ("GET", "/api/v1/agencies/agy-1/statements/{month}/xlsx", None, "mgr", "agy"),
    ("GET", "/api/v1/portal/cases", None, "agy", "col"),
    ("GET", "/api/v1/portal/cases/{S6}", None, "agy", "agy2"),
    ("GET", "/api/v1/portal/cases/{S6}/actions", None, "agy", "agy2"),
    (
        "POST",
        "/api/v1/portal/cases/{S6}/actions",
        {"kind": "call", "note": "borrower will pay on Friday"},
        "agy",
        "agy2",
    ),
    ("GET", "/api/v1/legal-files", None, "sup", "adm"),
    ("GET", "/api/v1/legal-files/1", None, "sup", "col2"),
    (
        "POST",
        "/api/v1/legal-files/1/costs",
        {"kind": "court-fee", "amount": "350.00", "incurred_on": "2024-04-02"},
        "sup",
        "sen",
    ),
]


def fill(value: Any, known: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+)\}", value)
        if whole and isinstance(known[whole.group(1)], int):
            return known[whole.group(1)]
        return value.format(**known)
    if isinstance(value, list):
        return [fill(v, known) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, known) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body", "allowed", "refused"), ROUTES)
def test_route_signed_out_refused_allowed(
    client: TestClient,
    book: Book,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    allowed: str,
    refused: str,
) -> None:
    known = ids(book)
    check_route(client, book, method, fill(path, known), fill(body, known), allowed, refused)


def test_maker_checker_requester_cannot_approve(client: TestClient, book: Book) -> None:
    known = ids(book)
    own = known["C"]  # requested by sup himself
    inbox = client.get("/api/v1/approvals", headers=book.headers("sup")).json()
    assert own not in {i["id"] for i in inbox["items"]}
    assert all(i["requested_by"] != "sup" for i in inbox["items"])
    seen = client.get(f"/api/v1/approvals/{own}", headers=book.headers("sup")).json()
    assert seen["can_decide"] is False and "maker–checker" in seen["cannot_decide_because"]
    refused = client.post(
        f"/api/v1/approvals/{own}/approve", json={"comment": "mine"}, headers=book.headers("sup")
    )
    assert refused.status_code == 403
    assert "maker–checker" in refused.json()["message"]
    assert refused.json()["action"] == "plan.approve"
    with transaction(book.engine) as s:
        req = s.get(ApprovalRequest, own)
        assert req is not None and req.status == "pending" and req.decided_by is None
    mgr = client.get(f"/api/v1/approvals/{own}", headers=book.headers("mgr")).json()
    assert mgr["can_decide"] is True
    done = client.post(
        f"/api/v1/approvals/{own}/approve", json={"comment": "ok"}, headers=book.headers("mgr")
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "approved" and body["decided_by"] == "mgr"
    assert body["decided_basis"]["role"] == "manager"
    assert body["decided_basis"]["limit_rule"] == "approvals.limits.plan.manager"
    assert body["requested_basis"]["role"] == "supervisor"
    with transaction(book.engine) as s:
        plan = s.scalars(select(RepaymentPlan).where(RepaymentPlan.approval_id == own)).one()
        assert plan.status == "approved"
    twice = client.post(
        f"/api/v1/approvals/{own}/reject", json={"comment": "x"}, headers=book.headers("sup2")
    )
    assert twice.status_code in (403, 422)


def test_approval_bad_input_names_the_field(client: TestClient, book: Book) -> None:
    known = ids(book)
    blank = client.post(
        f"/api/v1/approvals/{known['D']}/approve", json={"comment": ""}, headers=book.headers("sup")
    )
    assert blank.status_code == 422 and blank.json()["field"] == "comment"
    missing = client.get("/api/v1/approvals/999999", headers=book.headers("sup"))
    assert missing.status_code == 404 and missing.json()["field"] == "request_id"
    wrong_kind = client.get("/api/v1/approvals?kind=bribe", headers=book.headers("sup"))
    assert wrong_kind.status_code == 422 and wrong_kind.json()["field"] == "kind"
    other_team = client.get(f"/api/v1/approvals/{known['D']}", headers=book.headers("sup2"))
    assert other_team.status_code == 403


def test_board_figures(client: TestClient, book: Book) -> None:
    on = ids(book)["on"]
    board = client.get(f"/api/v1/supervision/board?on={on}", headers=book.headers("sup")).json()
    rows = {r["collector"]: r for r in board["rows"]}
    assert "col2" not in rows  # team west
    assert {"col", "sen"} <= set(rows)
    col = rows["col"]
    assert (col["tasks_done"], col["tasks_pending"]) == (2, 1)
    assert (col["contacts"], col["rpc"], col["rpc_rate"]) == (3, 2, "66.67")
    assert (col["promises_kept"], col["promises_broken"], col["promise_kept_rate"]) == (
        1,
        1,
        "50.00",
    )
    assert col["recovered"] == "100.00"
    sen = rows["sen"]
    assert (sen["tasks_done"], sen["tasks_pending"], sen["contacts"], sen["rpc_rate"]) == (
        0,
        1,
        1,
        "100.00",
    )
    assert sen["promise_kept_rate"] is None and sen["recovered"] == "200.00"  # S6, placed
    total = board["total"]
    assert total["contacts"] == sum(r["contacts"] for r in board["rows"])
    assert Decimal(total["recovered"]) == sum(Decimal(r["recovered"]) for r in board["rows"])
    west = client.get(f"/api/v1/supervision/board?on={on}", headers=book.headers("sup2")).json()
    assert {r["collector"] for r in west["rows"]} == {"col2"}
    bad = client.get(
        f"/api/v1/supervision/board?on={on}&since=2099-01-01", headers=book.headers("sup")
    )
    assert bad.status_code == 422 and bad.json()["field"] == "since"


def test_bulk_reassignment_is_all_or_none(client: TestClient, book: Book) -> None:
    known = ids(book)
    answer = client.post(
        "/api/v1/supervision/reassignments",
        json={"case_ids": [known["S10"], known["S4"]], "to_user_id": "sen", "reason": "x"},
        headers=book.headers("sup"),
    )
    assert answer.status_code == 403  # S4 is team west's
    with transaction(book.engine) as s:
        case = s.get(CollectionCase, known["S10"])
        assert case is not None and case.owner_user_id == "col"
    nobody = client.post(
        "/api/v1/supervision/reassignments",
        json={"case_ids": [known["S10"]], "to_user_id": "ghost", "reason": "x"},
        headers=book.headers("sup"),
    )
    assert nobody.status_code == 404
    empty = client.post(
        "/api/v1/supervision/reassignments",
        json={"case_ids": [], "to_user_id": "sen", "reason": "x"},
        headers=book.headers("sup"),
    )
    assert empty.status_code == 422 and empty.json()["field"] == "case_ids"


def test_transfer_hands_over_and_deactivates(client: TestClient, book: Book) -> None:
    """The route table makes the same hand-over; whichever runs first, afterwards S5
    is col's, col3 is inactive and the history says who had it."""
    known = ids(book)
    with transaction(book.engine) as s:
        leaver = s.get(Collector, "col3")
        active = leaver is not None and leaver.active
    if active:
        moved = client.post(
            "/api/v1/supervision/transfers",
            json={"from_user_id": "col3", "to_user_id": "col", "reason": "left the bank"},
            headers=book.headers("sup"),
        )
        assert moved.status_code == 200 and moved.json()["case_ids"] == [known["S5"]]
    with transaction(book.engine) as s:
        case = s.get(CollectionCase, known["S5"])
        leaver = s.get(Collector, "col3")
        assert case is not None and case.owner_user_id == "col"
        assert leaver is not None and leaver.active is False
        change = s.scalars(
            select(CaseStatusChange).where(
                CaseStatusChange.case_id == known["S5"], CaseStatusChange.field == "owner"
            )
        ).one()
        assert (change.old_value, change.new_value) == ("col3", "col")
        assert change.reason == "transfer: left the bank"
    again = client.post(
        "/api/v1/supervision/transfers",
        json={"from_user_id": "col", "to_user_id": "col3", "reason": "back"},
        headers=book.headers("sup"),
    )
    assert again.status_code == 404  # col3 is no longer an active collector


def test_portal_refuses_cases_not_placed_with_the_agency(client: TestClient, book: Book) -> None:
    known = ids(book)
    mine = client.get("/api/v1/portal/cases", headers=book.headers("agy")).json()
    assert known["S6"] in {c["case_id"] for c in mine}
    assert known["S3"] not in {c["case_id"] for c in mine}
    assert all(c["customer"]["masked"] for c in mine)
    assert all("*" in (c["customer"]["phone"] or "*") for c in mine)
    assert client.get("/api/v1/portal/cases", headers=book.headers("agy2")).json() == []
    for user, case_id in (("agy", known["S3"]), ("agy2", known["S6"])):
        refused = client.get(f"/api/v1/portal/cases/{case_id}", headers=book.headers(user))
        assert refused.status_code == 403, refused.text
        logged = client.post(
            f"/api/v1/portal/cases/{case_id}/actions",
            json={"kind": "call", "note": "x"},
            headers=book.headers(user),
        )
        assert logged.status_code == 403
    missing = client.get("/api/v1/portal/cases/999999", headers=book.headers("agy"))
    assert missing.status_code == 404
    bad = client.post(
        f"/api/v1/portal/cases/{known['S6']}/actions",
        json={"kind": "threat", "note": "x"},
        headers=book.headers("agy"),
    )
    assert bad.status_code == 422 and bad.json()["field"] == "kind"


def test_place_recall_and_the_portal_follows(client: TestClient, book: Book) -> None:
    known = ids(book)
    body = {"case_id": known["S11"], "agency_id": "agy-2", "reason": "specialist"}
    assert client.post("/api/v1/placements", json=body).status_code == 401
    assert (
        client.post("/api/v1/placements", json=body, headers=book.headers("col")).status_code == 403
    )
    placed = client.post("/api/v1/placements", json=body, headers=book.headers("sup"))
    assert placed.status_code == 201, placed.text
    assert placed.json()["agency_id"] == "agy-2" and placed.json()["status"] == "active"
    seen = client.get(f"/api/v1/portal/cases/{known['S11']}", headers=book.headers("agy2"))
    assert seen.status_code == 200 and seen.json()["loan_id"] == "S11"
    recall = {"case_id": known["S11"], "reason": "poor contact"}
    assert client.post("/api/v1/recalls", json=recall).status_code == 401
    assert (
        client.post("/api/v1/recalls", json=recall, headers=book.headers("agy2")).status_code == 403
    )
    done = client.post("/api/v1/recalls", json=recall, headers=book.headers("sup"))
    assert done.status_code == 200 and done.json()["placement_id"] == placed.json()["id"]
    gone = client.get(f"/api/v1/portal/cases/{known['S11']}", headers=book.headers("agy2"))
    assert gone.status_code == 403
    again = client.post("/api/v1/recalls", json=recall, headers=book.headers("sup"))
    assert again.status_code in (404, 422)


def test_agency_detail_and_statement(client: TestClient, book: Book) -> None:
    known = ids(book)
    detail = client.get("/api/v1/agencies/agy-1", headers=book.headers("sup")).json()
    assert detail["active_placements"] >= 1 and detail["kpis"]["placements"] >= 1
    assert isinstance(detail["kpis"]["eliminate"], bool)
    statement = client.get(
        f"/api/v1/agencies/agy-1/statements/{known['month']}", headers=book.headers("sup")
    ).json()
    [line] = statement["lines"]
    assert (line["case_id"], line["loan_id"], line["recovered"]) == (known["S6"], "S6", "200.00")
    commission = (Decimal("200.00") * Decimal(line["rate"])).quantize(Decimal("0.01"))
    assert Decimal(line["commission"]) == commission > 0
    assert statement["commission"] == line["commission"] and statement["recovered"] == "200.00"
    xlsx = client.get(
        f"/api/v1/agencies/agy-1/statements/{known['month']}/xlsx", headers=book.headers("sup")
    )
    assert xlsx.status_code == 200
    assert {"lines", "summary"} <= set(load_workbook(io.BytesIO(xlsx.content)).sheetnames)
    bad = client.get("/api/v1/agencies/agy-1/statements/2024-13", headers=book.headers("sup"))
    assert bad.status_code == 422 and bad.json()["field"] == "month"
    assert client.get("/api/v1/agencies/nope", headers=book.headers("sup")).status_code == 404


def test_legal_file_stage_and_refusal(client: TestClient, book: Book) -> None:
    known = ids(book)
    files = client.get("/api/v1/legal-files", headers=book.headers("sup")).json()["items"]
    assert [f["case_id"] for f in files] == [known["S10"]]
    assert client.get("/api/v1/legal-files", headers=book.headers("col2")).json()["items"] == []
    early = client.post(
        "/api/v1/legal-files/1/stage", json={"to_stage": "filed"}, headers=book.headers("sup")
    )
    assert early.status_code == 422 and "referred" in early.json()["message"]
    refer = client.post(
        "/api/v1/legal-files",
        json={"case_id": known["S9"], "note": "won't pay"},
        headers=book.headers("sup"),
    )
    assert refer.status_code == 422 and "dpd" in refer.json()["message"]
    closed = client.post(
        "/api/v1/legal-files/1/stage",
        json={"to_stage": "closed", "note": "settled out of court"},
        headers=book.headers("mgr"),
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["stage"] == "closed"
    assert [h["to"] for h in closed.json()["history"]][-1] == "closed"


PAGES = [
    ("/supervisor", "sup", "col"),
    ("/approvals", "sup", "agy"),
    ("/approvals/{A}", "mgr", "col"),
    ("/reassign", "sup", "sen"),
    ("/agencies", "mgr", "col"),
    ("/agencies/agy-1", "sup", "agy"),
    ("/portal", "agy", "col"),
    ("/portal/cases/{S6}", "agy", "agy2"),
]


@pytest.mark.parametrize(("path", "allowed", "refused"), PAGES)
def test_page_signed_out_refused_allowed(
    web: TestClient, book: Book, path: str, allowed: str, refused: str
) -> None:
    path = path.format(**ids(book))
    out = web.get(path, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith("/login?next=")
    login(web, refused)
    no = web.get(path)
    assert no.status_code == 403 and "无权访问" in no.text
    login(web, allowed)
    ok = web.get(path)
    assert ok.status_code == 200, ok.text[:500]
    assert 'lang="zh-CN"' in ok.text
    for form in re.findall(r"<form method=\"post\".*?</form>", ok.text, flags=re.S):
        assert 'name="csrf_token"' in form
    assert unlabelled(ok.text) == []  # every form field has a label


def test_board_page_table_and_chart(web: TestClient, book: Book) -> None:
    login(web, "sup")
    text = web.get(f"/supervisor?date={ids(book)['on']}").text
    assert 'id="team-board"' in text and 'data-collector="col"' in text
    assert "/static/vendor/echarts.min.js" in text and 'id="board-data"' in text
    assert "https://" not in text and "66.67%" in text
    assert web.get("/static/board.js").status_code == 200


def test_page_decision_and_maker_checker(web: TestClient, book: Book) -> None:
    known = ids(book)
    csrf = login(web, "sup")
    own = web.get(f"/approvals/{known['E']}").text  # E: only this test touches it
    assert "四眼原则" in own and 'id="decision-form"' not in own
    forged = web.post(
        f"/approvals/{known['D']}/decision",
        data={"decision": "approve", "comment": "ok"},
    )
    assert forged.status_code == 403
    page = web.get(f"/approvals/{known['D']}").text  # D: only this test decides it
    assert 'id="decision-form"' in page and 'name="comment"' in page
    done = web.post(
        f"/approvals/{known['D']}/decision",
        data={"decision": "approve", "comment": "affordable", "csrf_token": csrf},
    )
    assert done.status_code == 200 and "已批准" in done.text
    assert 'id="decision-form"' not in done.text
    blank = web.post(
        f"/approvals/{known['D']}/decision",
        data={"decision": "reject", "comment": "", "csrf_token": csrf},
    )
    assert blank.status_code == 422 and "comment" in blank.text


def test_page_reassign_and_bad_case_numbers(web: TestClient, book: Book) -> None:
    csrf = login(web, "sup")
    bad = web.post(
        "/reassign",
        data={"case_ids": "12, abc", "to_user_id": "sen", "reason": "x", "csrf_token": csrf},
    )
    assert bad.status_code == 422 and "case_ids" in bad.text


def test_portal_pages_log_an_action(web: TestClient, book: Book) -> None:
    known = ids(book)
    csrf = login(web, "agy")
    listing = web.get("/portal").text
    assert f'href="/portal/cases/{known["S6"]}"' in listing
    assert f'href="/portal/cases/{known["S3"]}"' not in listing
    nav = re.search(r'<nav aria-label="[^"]+">(.*?)</nav>', listing, flags=re.S)
    assert nav is not None and "委外案件" in nav.group(1)
    logged = web.post(
        f"/portal/cases/{known['S6']}/actions",
        data={"kind": "visit", "note": "visited the home address", "csrf_token": csrf},
    )
    assert logged.status_code == 200 and "visited the home address" in logged.text
    refused = web.get(f"/portal/cases/{known['S3']}")
    assert refused.status_code == 403
    login(web, "col")
    assert "委外案件" not in web.get("/account").text.split("</nav>")[0]
