"""Collector workbench: the case, task, contact, promise, plan, waiver, visit, reveal and
note-check API and the task list and case pages, on SQLite and PostgreSQL. Each test
works its own case (W3–W5 get cases here), so the order does not matter: an open
promise or a hold on one case blocks the contact gate for that case only."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from daihou.collection.contact_models import ContactLog, FieldVisit, VisitPhoto
from daihou.collection.models import CollectionCase
from daihou.collection.tables import CollectionTask
from daihou.compliance.gate.models import ContactDenial
from daihou.compliance.privacy.models import PrivacyReveal
from daihou.db.engine import transaction
from tests.web.collector_data import at, case_of, task_for
from tests.web.conftest import Book, login


def count(book: Book, model: type, *where: object) -> int:
    with transaction(book.engine) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def test_task_list_own_named_and_refused(client: TestClient, book: Book) -> None:
    mine = task_for(book.engine, "W1")
    task_for(
        book.engine, "W3", collector="col2", team="west", kind="contact-repair", with_case=False
    )
    assert client.get("/api/v1/tasks").status_code == 401
    page = client.get("/api/v1/tasks", headers=book.headers("col")).json()
    [line] = [t for t in page["items"] if t["id"] == mine]
    assert {t["loan_id"] for t in page["items"]} == {"W1"}  # never col2's
    loan = client.get("/api/v1/loans/W1", headers=book.headers("col")).json()
    overdue = sum(Decimal(v) for v in loan["overdue"].values())
    assert Decimal(line["overdue"]) == overdue > 0
    assert line["bucket"] == loan["bucket"] and line["medium"] == "call"
    # a collector cannot name another's list; a supervisor names their team's only
    assert (
        client.get("/api/v1/tasks?collector=col2", headers=book.headers("col")).status_code == 403
    )
    assert (
        client.get("/api/v1/tasks?collector=col2", headers=book.headers("sup")).status_code == 403
    )
    team = client.get("/api/v1/tasks?collector=col", headers=book.headers("sup")).json()
    assert [t["id"] for t in team["items"]] == [t["id"] for t in page["items"]]
    assert (
        client.get("/api/v1/tasks?collector=nobody", headers=book.headers("sup")).status_code == 404
    )
    assert client.get("/api/v1/tasks", headers=book.headers("ops")).status_code == 403
    filtered = client.get("/api/v1/tasks?kind=visit", headers=book.headers("col")).json()
    assert filtered["items"] == []


def test_contact_windows(client: TestClient, book: Book) -> None:
    windows = client.get("/api/v1/contact-windows", headers=book.headers("col")).json()
    call = next(w for w in windows if w["medium"] == "call")
    assert call["hours"] == [["08:00:00", "22:00:00"]]  # cn-2026 quiet-hours rule
    hour = int(call["local_time"][11:13])
    assert call["open_now"] == (8 <= hour < 22)


def test_case_list_filters_and_scope(client: TestClient, book: Book) -> None:
    w3 = case_of(book.engine, "W3")
    ids = lambda user, q="": {  # noqa: E731
        c["case"]["id"]
        for c in client.get(f"/api/v1/cases{q}", headers=book.headers(user)).json()["items"]
    }
    assert client.get("/api/v1/cases").status_code == 401
    assert 1 in ids("col") and w3 in ids("col") and 2 not in ids("col")
    assert ids("col2") == set()
    assert ids("agy") == {2}
    assert {1, 2} <= ids("sup")
    dpd = client.get("/api/v1/loans/W1", headers=book.headers("col")).json()["dpd"]
    assert 1 in ids("col", f"?dpd_min={dpd}&dpd_max={dpd}")
    assert ids("col", f"?dpd_min={dpd + 1}") == set()
    assert ids("col", "?owner=col2") == set()
    bad = client.get("/api/v1/cases?dpd_min=9&dpd_max=3", headers=book.headers("col"))
    assert bad.status_code == 422 and bad.json()["field"] == "dpd_min"
    first = client.get("/api/v1/cases?per_page=1", headers=book.headers("sup")).json()
    assert len(first["items"]) == 1 and first["has_more"] is True


def test_case_detail(client: TestClient, book: Book) -> None:
    answer = client.get("/api/v1/cases/1", headers=book.headers("col"))
    assert answer.status_code == 200, answer.text
    case = answer.json()
    assert case["loan"]["loan_id"] == "W1" and case["case"]["owner_user_id"] == "col"
    assert case["schedule"] and case["schedule"][0]["due_date"] == "2024-02-15"
    assert "*" in (case["customer"]["phone"] or "*") and case["customer"]["masked"] is True
    assert client.get("/api/v1/cases/1", headers=book.headers("col2")).status_code == 403
    assert client.get("/api/v1/cases/1", headers=book.headers("agy")).status_code == 403
    assert client.get("/api/v1/cases/2", headers=book.headers("agy")).status_code == 200
    assert client.get("/api/v1/cases/999999", headers=book.headers("col")).status_code == 404


def test_log_contact_marks_the_task_and_the_gate_refuses_at_night(
    client: TestClient, book: Book
) -> None:
    case_id = case_of(book.engine, "W3")
    task = task_for(book.engine, "W3", kind="call")
    path = f"/api/v1/cases/{case_id}/contacts"
    body = {
        "channel": "call",
        "outcome": "no-answer",
        "at": at(10).isoformat(),
        "duration_seconds": 30,
        "next_action": "call-back",
        "task_id": task,
    }
    assert client.post(path, json=body).status_code == 401
    assert client.post(path, json=body, headers=book.headers("col2")).status_code == 403
    logged = client.post(path, json=body, headers=book.headers("col"))
    assert logged.status_code == 201, logged.text
    assert logged.json()["gate_packs"] and logged.json()["contact"]["task_id"] == task
    with transaction(book.engine) as s:
        assert s.get(CollectionTask, task).status == "done"  # type: ignore[union-attr]
    history = client.get(path, headers=book.headers("col")).json()
    assert history[0]["id"] == logged.json()["contact"]["id"]
    # the task list shows the next action of the case's latest contact
    again = client.post(
        path,
        json={**body, "task_id": None, "at": at(11).isoformat(), "next_action": "visit"},
        headers=book.headers("col"),
    )
    assert again.status_code == 201, again.text
    listed = client.get("/api/v1/tasks?per_page=500", headers=book.headers("col")).json()
    [line] = [t for t in listed["items"] if t["id"] == task]
    assert (line["status"], line["next_action"]) == ("done", "visit")
    # the gate refuses 23:00 and keeps the denial; nothing is logged
    logs = count(book, ContactLog, ContactLog.case_id == case_id)
    denials = count(book, ContactDenial, ContactDenial.case_id == str(case_id))
    night = client.post(
        path, json={**body, "task_id": None, "at": at(23).isoformat()}, headers=book.headers("col")
    )
    assert night.status_code == 403 and night.json()["error"] == "contact-denied"
    assert night.json()["rule"].endswith("quiet-hours") and night.json()["next_allowed_at"]
    assert count(book, ContactDenial, ContactDenial.case_id == str(case_id)) == denials + 1
    assert count(book, ContactLog, ContactLog.case_id == case_id) == logs
    # bad input names the field and writes nothing
    other = task_for(book.engine, "W1")
    for bad, field in (
        ({**body, "task_id": other}, "task_id"),
        ({**body, "at": at(10, days_ago=-2).isoformat()}, "at"),
        ({**body, "outcome": "sent"}, None),
        ({**body, "outcome": "promise"}, None),
    ):
        answer = client.post(path, json=bad, headers=book.headers("col"))
        assert answer.status_code == 422, answer.text
        assert field is None or answer.json()["field"] == field
    assert count(book, ContactLog, ContactLog.case_id == case_id) == logs


def test_promise_by_contact_and_list(client: TestClient, book: Book) -> None:
    case_id = case_of(book.engine, "W4")
    promised = (at(10) + timedelta(days=5)).date().isoformat()
    answer = client.post(
        f"/api/v1/cases/{case_id}/contacts",
        json={
            "channel": "call",
            "outcome": "promise",
            "at": at(11).isoformat(),
            "promise_amount": "300.00",
            "promise_date": promised,
            "attitude": "cooperative",
        },
        headers=book.headers("col"),
    )
    assert answer.status_code == 201, answer.text
    promise = answer.json()["promise"]
    assert promise["amount"] == "300.00" and promise["promised_on"] == promised
    listed = client.get(f"/api/v1/promises?case_id={case_id}", headers=book.headers("col")).json()
    assert [p["id"] for p in listed["items"]] == [promise["id"]]
    assert (
        client.get(f"/api/v1/promises?case_id={case_id}", headers=book.headers("col2")).json()[
            "items"
        ]
        == []
    )
    again = client.post(
        f"/api/v1/cases/{case_id}/promises",
        json={"amount": "10.00", "promised_on": "2024-04-10"},
        headers=book.headers("col"),
    )
    assert again.status_code == 422 and "already has open promise" in again.json()["message"]
    assert client.get("/api/v1/promises", headers=book.headers("ops")).status_code == 403


def test_plan_and_waiver_requests(client: TestClient, book: Book) -> None:
    case_id = case_of(book.engine, "W5")
    plan = {"installments": 3, "monthly_income": "20000.00", "first_due_on": "2024-05-15"}
    path = f"/api/v1/cases/{case_id}/plans"
    assert client.post(path, json=plan).status_code == 401
    assert client.post(path, json=plan, headers=book.headers("col")).status_code == 403
    short = client.post(path, json={**plan, "installments": 2}, headers=book.headers("sup"))
    assert short.status_code == 422 and short.json()["field"] == "installments"
    made = client.post(path, json=plan, headers=book.headers("sup"))
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "requested" and len(made.json()["schedule"]) == 3
    waiver = client.post(
        f"/api/v1/cases/{case_id}/waivers",
        json={"amount": "1.00", "reason": "first overdue"},
        headers=book.headers("sup"),
    )
    # the book's loans are 48 days past due: beyond the pack's 30-day waiver limit
    assert waiver.status_code == 422 and "dpd" in waiver.json()["message"], waiver.text
    assert (
        client.post(
            f"/api/v1/cases/{case_id}/waivers", json={"amount": "1.00"}, headers=book.headers("col")
        ).status_code
        == 403
    )


def test_visit_with_photos(
    client: TestClient, book: Book, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAIHOU_VISIT_PHOTO_DIR", str(tmp_path))
    case_id = case_of(book.engine, "W3")
    path = f"/api/v1/cases/{case_id}/visits"
    photo = b"\x89PNG fake photo bytes"
    form = {
        "result": "not-at-home",
        "kind": "home",
        "place": "上海市某路1号",
        "at": at(15).isoformat(),
    }
    files = [
        ("photos", ("door.png", photo, "image/png")),
        ("photos", ("b.jpg", b"jpeg", "image/jpeg")),
    ]
    assert client.post(path, data=form, files=files).status_code == 401
    assert client.post(path, data=form, files=files, headers=book.headers("agy")).status_code == 403
    before = count(
        book, CollectionCase, CollectionCase.id == case_id, CollectionCase.failed_visits > 0
    )
    done = client.post(path, data=form, files=files, headers=book.headers("col"))
    assert done.status_code == 201, done.text
    visit = done.json()
    assert visit["result"] == "not-at-home" and visit["failed"] is True
    sha = hashlib.sha256(photo).hexdigest()
    assert (tmp_path / sha[:2] / f"{sha}.png").read_bytes() == photo
    assert count(book, VisitPhoto, VisitPhoto.visit_id == visit["id"]) == 2
    assert (
        before == 0
        and count(
            book, CollectionCase, CollectionCase.id == case_id, CollectionCase.failed_visits > 0
        )
        == 1
    )
    bad = client.post(path, data={**form, "kind": "castle"}, headers=book.headers("col"))
    assert bad.status_code == 422 and bad.json()["field"] == "kind"
    visits = count(book, FieldVisit, FieldVisit.case_id == case_id)
    empty = client.post(
        path,
        data=form,
        files=[("photos", ("x.png", b"", "image/png"))],
        headers=book.headers("col"),
    )
    assert empty.status_code == 422 and "empty" in empty.json()["message"]
    assert count(book, FieldVisit, FieldVisit.case_id == case_id) == visits


def test_reveal_is_logged(client: TestClient, book: Book) -> None:
    before = count(book, PrivacyReveal)
    answer = client.post(
        "/api/v1/cases/1/reveal",
        json={"field": "phone", "reason": "call back"},
        headers=book.headers("col"),
    )
    assert answer.status_code == 200, answer.text
    assert "*" not in answer.json()["value"] and answer.json()["customer_id"] == "C-W1"
    assert count(book, PrivacyReveal) == before + 1
    refused = client.post(
        "/api/v1/cases/1/reveal",
        json={"field": "phone", "reason": "x"},
        headers=book.headers("agy"),
    )
    assert refused.status_code == 403 and count(book, PrivacyReveal) == before + 1


def test_note_check(client: TestClient, book: Book) -> None:
    def check(note: str, user: str = "col") -> dict[str, object]:
        answer = client.post("/api/v1/notes/check", json={"note": note}, headers=book.headers(user))
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    assert check("客户称下周还款") == {
        "passed": True,
        "refused": False,
        "max_severity": None,
        "hits": [],
    }
    threat = check("再不还就去你单位闹")
    assert threat["refused"] is True and threat["max_severity"] == "high"
    assert threat["hits"][0]["category"] == "third_party"  # type: ignore[index]
    insult = check("你这个骗子")
    assert insult["passed"] is False and insult["refused"] is False
    assert client.post("/api/v1/notes/check", json={"note": "x"}).status_code == 401
    assert (
        client.post(
            "/api/v1/notes/check", json={"note": "x"}, headers=book.headers("risk")
        ).status_code
        == 403
    )


# --- pages --------------------------------------------------------------------------


def test_workbench_page(web: TestClient, book: Book) -> None:
    task = task_for(book.engine, "W1")
    assert web.get("/workbench", follow_redirects=False).status_code == 303
    login(web, "col")
    page = web.get("/workbench")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text
    assert f'data-href="/cases/1?task={task}"' in page.text
    assert "今日任务" in page.text and "允许联系时段" in page.text
    assert "/static/workbench.js" in page.text
    assert f"?task={task}" not in web.get("/workbench?kind=visit").text
    assert web.get("/workbench?collector=col2").status_code == 403
    login(web, "ops")
    assert web.get("/workbench").status_code == 403


def test_case_page_forms(web: TestClient, book: Book) -> None:
    case_id = case_of(book.engine, "W5")
    csrf = login(web, "col")
    page = web.get(f"/cases/{case_id}")
    assert page.status_code == 200
    for section in (
        "contact-form",
        "promise-form",
        "visit-form",
        "contact-history",
        "schedule",
        "loans",
    ):
        assert f'id="{section}"' in page.text
    assert 'id="plan-form"' not in page.text  # a junior collector does not negotiate plans
    logs = count(book, ContactLog, ContactLog.case_id == case_id)
    base = {"csrf_token": csrf, "channel": "call", "party": "borrower", "direction": "inbound"}
    # a bad promise with the contact: the form comes back with the field and the note
    bad = web.post(
        f"/cases/{case_id}/contacts",
        data={
            **base,
            "outcome": "promise",
            "promise_amount": "0",
            "promise_date": "",
            "note": "约下周",
        },
    )
    assert bad.status_code == 422 and 'id="err-contact"' in bad.text and "约下周" in bad.text
    assert count(book, ContactLog, ContactLog.case_id == case_id) == logs
    local = at(11).strftime("%Y-%m-%dT%H:%M")
    ok = web.post(
        f"/cases/{case_id}/contacts",
        data={
            **base,
            "outcome": "rpc",
            "at": local,
            "note": "客户称下周还款",
            "attitude": "cooperative",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303, ok.text[:800]
    shown = web.get(ok.headers["location"]).text
    assert "已记录催记" in shown and "客户称下周还款" in shown
    assert count(book, ContactLog, ContactLog.case_id == case_id) == logs + 1
    night = web.post(
        f"/cases/{case_id}/contacts",
        data={
            **base,
            "direction": "outbound",
            "outcome": "no-answer",
            "at": at(23).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert night.status_code == 403 and "不在允许的" in night.text
    stale = web.post(
        f"/cases/{case_id}/promises", data={"amount": "1.00", "promised_on": "2024-04-10"}
    )
    assert stale.status_code == 403  # no CSRF token
    login(web, "col2")
    assert web.get(f"/cases/{case_id}").status_code == 403
