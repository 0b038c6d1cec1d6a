"""REST API: every route signed out (401), by a role without the right (403) and by
one with it, on SQLite and PostgreSQL; scope, bad input and tokens."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from daihou.compliance.privacy.models import PrivacyReveal
from daihou.db.engine import transaction
from tests.web.conftest import Book, check_route

# (method, path, json body, allowed user, refused user)
ROUTES: list[tuple[str, str, dict[str, Any] | None, str, str]] = [
    ("GET", "/api/v1/loans", None, "ops", "adm"),
    ("GET", "/api/v1/loans/W3", None, "ops", "col"),
    ("GET", "/api/v1/loans/W3/schedule", None, "risk", "col"),
    ("GET", "/api/v1/loans/W3/transactions", None, "aud", "agy"),
    ("GET", "/api/v1/loans/W3/ledger", None, "ops", "comp"),
    ("GET", "/api/v1/loans/W3/payoff-quote", None, "ops", "adm"),
    (
        "POST",
        "/api/v1/loans/W4/payments",
        {"amount": "10.00", "channel": "counter", "reference": "route-pay"},
        "ops",
        "risk",
    ),
    ("POST", "/api/v1/loans/W5/prepayments", {"amount": "50.00"}, "ops", "sup"),
    (
        "POST",
        "/api/v1/loans/W3/class-overrides",
        {"risk_class": "loss", "reason": "borrower absconded"},
        "risk",
        "col",
    ),
    ("GET", "/api/v1/eod/runs", None, "ops", "col"),
    ("GET", "/api/v1/eod/business-date", None, "col", "agy"),
    ("GET", "/api/v1/kpis/daily", None, "risk", "ops"),
    ("GET", "/api/v1/kpis/trend", None, "sup", "col"),
    ("GET", "/api/v1/kpis/roll-rates", None, "aud", "agy"),
    ("GET", "/api/v1/kpis/recoveries", None, "risk", "col"),
    ("GET", "/api/v1/kpis/report.xlsx", None, "risk", "adm"),
    ("GET", "/api/v1/complaints", None, "comp", "col"),
    (
        "POST",
        "/api/v1/complaints",
        {"channel": "hotline", "category": "harassment", "description": "calls at night"},
        "col",
        "risk",
    ),
    ("GET", "/api/v1/customers/C-W1", None, "col", "col2"),
    ("POST", "/api/v1/customers/C-W1/reveal", {"field": "phone", "reason": "call"}, "col", "risk"),
    ("GET", "/api/v1/customers/C-W2/holds", None, "agy", "col"),
    (
        "POST",
        "/api/v1/customers/C-W2/holds",
        {"kind": "dispute", "reason": "disputes the amount"},
        "sup",
        "ops",
    ),
    ("GET", "/api/v1/me", None, "agy", "agy"),
    ("GET", "/api/v1/users", None, "adm", "ops"),
    (
        "POST",
        "/api/v1/users",
        {"username": "newbie", "password": "a-long-password-1", "roles": ["auditor"]},
        "adm",
        "comp",
    ),
    ("PUT", "/api/v1/users/col2/roles", {"roles": ["collector-senior"]}, "adm", "sup"),
    ("GET", "/api/v1/tokens?everyone=true", None, "adm", "ops"),
    ("POST", "/api/v1/tokens", {"name": "x", "username": "ops"}, "adm", "risk"),
    ("GET", "/api/v1/audit/verify", None, "aud", "ops"),
    ("GET", "/api/v1/policy", None, "risk", "agy"),
    # collector workbench (case 1: loan W1, owner col, team east; case 2: W2, agency agy-1)
    ("GET", "/api/v1/cases", None, "col", "ops"),
    ("GET", "/api/v1/cases/1", None, "col", "col2"),
    ("GET", "/api/v1/cases/2", None, "agy", "col"),
    ("GET", "/api/v1/cases/1/contacts", None, "sup", "agy"),
    (
        "POST",
        "/api/v1/cases/1/contacts",
        {"channel": "in-branch", "direction": "inbound", "outcome": "rpc", "note": "came in"},
        "col",
        "col2",
    ),
    (
        "POST",
        "/api/v1/cases/1/promises",
        {"amount": "10.00", "promised_on": "2024-04-10"},
        "col",
        "agy",
    ),
    ("GET", "/api/v1/promises?case_id=1", None, "col", "ops"),
    (
        "POST",
        "/api/v1/cases/2/plans",
        {"installments": 3, "monthly_income": "20000.00", "first_due_on": "2024-05-15"},
        "sup",
        "col",
    ),
    ("POST", "/api/v1/cases/1/reveal", {"field": "phone", "reason": "call back"}, "col", "agy"),
    ("POST", "/api/v1/notes/check", {"note": "客户称下周还款"}, "col", "risk"),
    ("GET", "/api/v1/tasks", None, "col", "ops"),
    ("GET", "/api/v1/contact-windows", None, "col", "risk"),
]


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
    check_route(client, book, method, path, body, allowed, refused)


def test_reverse_route(client: TestClient, book: Book) -> None:
    posted = client.post(
        "/api/v1/loans/W3/payments",
        json={"amount": "30.00", "channel": "online", "reference": "to-reverse"},
        headers=book.headers("ops"),
    ).json()
    path = f"/api/v1/transactions/{posted['transaction_id']}/reversal"
    assert client.post(path, json={"reason": "x"}).status_code == 401
    assert client.post(path, json={"reason": "x"}, headers=book.headers("risk")).status_code == 403
    done = client.post(path, json={"reason": "wrong loan"}, headers=book.headers("ops"))
    assert done.status_code == 201, done.text
    assert done.json()["kind"] == "reversal"
    txns = client.get("/api/v1/loans/W3/transactions", headers=book.headers("ops")).json()
    assert {t["id"]: t["status"] for t in txns}[posted["transaction_id"]] == "reversed"
    again = client.post(path, json={"reason": "twice"}, headers=book.headers("ops"))
    assert again.status_code == 422
    assert again.json()["field"] == "transaction_id"


def test_lists_never_show_more_than_scope(client: TestClient, book: Book) -> None:
    def ids(user: str) -> set[str]:
        page = client.get("/api/v1/loans", headers=book.headers(user)).json()
        return {i["loan_id"] for i in page["items"]}

    assert ids("ops") == {"W1", "W2", "W3", "W4", "W5"}
    assert ids("col") == {"W1"}
    assert ids("col2") == set()
    assert ids("agy") == {"W2"}
    assert ids("sup") == {"W1", "W2"}  # team east
    assert client.get("/api/v1/loans/W1", headers=book.headers("agy")).status_code == 403
    assert client.get("/api/v1/loans/W2", headers=book.headers("agy")).status_code == 200


def test_payment_shows_on_loan_and_is_idempotent(client: TestClient, book: Book) -> None:
    h = book.headers("ops")
    before = client.get("/api/v1/loans/W1", headers=h).json()
    body = {"amount": "250.50", "channel": "counter", "reference": "api-idem-1"}
    first = client.post("/api/v1/loans/W1/payments", json=body, headers=h)
    assert first.status_code == 201, first.text
    posted = first.json()
    assert posted["amount"] == "250.50" and posted["created"] is True
    assert sum(Decimal(a["amount"]) for a in posted["allocation"]) == Decimal("250.50")
    again = client.post("/api/v1/loans/W1/payments", json=body, headers=h).json()
    assert again["created"] is False and again["transaction_id"] == posted["transaction_id"]
    txns = client.get("/api/v1/loans/W1/transactions", headers=h).json()
    assert [t["id"] for t in txns].count(posted["transaction_id"]) == 1
    after = client.get("/api/v1/loans/W1", headers=h).json()
    overdue_before = sum(Decimal(v) for v in before["overdue"].values())
    overdue_after = sum(Decimal(v) for v in after["overdue"].values())
    assert overdue_before - overdue_after == Decimal("250.50")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-1", "channel": "counter", "reference": "r"}, "amount"),
        ({"amount": "1.001", "channel": "counter", "reference": "r"}, "amount"),
        ({"amount": "1.00", "channel": "pigeon", "reference": "r"}, "channel"),
        ({"amount": "1.00", "channel": "counter", "reference": ""}, "reference"),
        ({"amount": "1.00", "channel": "counter"}, "reference"),
        (
            {"amount": "1.00", "channel": "counter", "reference": "r", "value_date": "2099-01-01"},
            "on",
        ),
        ({"amount": "0.00", "channel": "counter", "reference": "zero"}, "amount"),
    ],
)
def test_bad_payment_names_the_field(
    client: TestClient, book: Book, body: dict[str, Any], field: str
) -> None:
    answer = client.post("/api/v1/loans/W1/payments", json=body, headers=book.headers("ops"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field


def test_not_found_and_malformed(client: TestClient, book: Book) -> None:
    h = book.headers("ops")
    missing = client.get("/api/v1/loans/NOPE", headers=h)
    assert missing.status_code == 404 and missing.json()["field"] == "loan_id"
    assert client.get("/api/v1/loans?per_page=0", headers=h).json()["field"] == "per_page"
    assert (
        client.get("/api/v1/loans/W1/payoff-quote?on=2999-01-01", headers=h).json()["field"] == "on"
    )
    broken = client.post(
        "/api/v1/loans/W1/payments",
        content=b"{not json",
        headers={**h, "content-type": "application/json"},
    )
    assert broken.status_code == 422
    assert (
        client.post(
            "/api/v1/transactions/999999/reversal", json={"reason": "x"}, headers=h
        ).status_code
        == 404
    )


def test_reveal_is_logged_and_limited_to_the_field(client: TestClient, book: Book) -> None:
    with transaction(book.engine) as s:
        before = s.scalar(select(func.count()).select_from(PrivacyReveal))
    masked = client.get("/api/v1/customers/C-W1", headers=book.headers("col")).json()
    assert masked["masked"] is True and "*" in masked["phone"]
    shown = client.post(
        "/api/v1/customers/C-W1/reveal",
        json={"field": "phone", "reason": "calling about the arrears"},
        headers=book.headers("col"),
    )
    assert shown.status_code == 200
    assert "*" not in shown.json()["value"] and len(shown.json()["value"]) == 11
    refused = client.post(
        "/api/v1/customers/C-W1/reveal",
        json={"field": "id_number", "reason": "curious"},
        headers=book.headers("col"),
    )
    assert refused.status_code == 403
    with transaction(book.engine) as s:
        after = s.scalar(select(func.count()).select_from(PrivacyReveal))
    assert after == before + 1


def test_tokens_create_use_revoke(client: TestClient, book: Book) -> None:
    made = client.post("/api/v1/tokens", json={"name": "script"}, headers=book.headers("risk"))
    assert made.status_code == 201
    secret, token_id = made.json()["token"], made.json()["id"]
    mine = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=mine).json()["username"] == "risk"
    listed = client.get("/api/v1/tokens", headers=book.headers("risk")).json()
    assert token_id in {t["id"] for t in listed} and all("token" not in t for t in listed)
    other = client.delete(f"/api/v1/tokens/{token_id}", headers=book.headers("ops"))
    assert other.status_code == 403
    gone = client.delete(f"/api/v1/tokens/{token_id}", headers=mine)
    assert gone.status_code == 200 and gone.json()["revoked_at"]
    assert client.get("/api/v1/me", headers=mine).status_code == 401


def test_me_lists_allowed_actions(client: TestClient, book: Book) -> None:
    me = client.get("/api/v1/me", headers=book.headers("ops")).json()
    assert "payment.post" in me["allowed_actions"]
    assert "kpi.view" not in me["allowed_actions"]


def test_complaint_timers_count_down(client: TestClient, book: Book) -> None:
    made = client.post(
        "/api/v1/complaints",
        json={
            "channel": "regulator-referral",
            "category": "collection-conduct",
            "description": "rude call",
            "loan_id": "W1",
        },
        headers=book.headers("col"),
    )
    assert made.status_code == 201, made.text
    c = made.json()
    assert c["customer_id"] == "C-W1" and c["priority"] == "urgent"
    assert [t["timer"] for t in c["timers"]] == ["response", "investigation", "resolution"]
    assert all(t["state"] == "running" and t["seconds_left"] > 0 for t in c["timers"])
    queue = client.get("/api/v1/complaints?open_only=true", headers=book.headers("comp")).json()
    assert c["id"] in {i["id"] for i in queue["items"]}
    answered = client.post(
        f"/api/v1/complaints/{c['id']}/response",
        json={"note": "called back"},
        headers=book.headers("comp"),
    )
    assert answered.status_code == 200 and answered.json()["state"] == "responded"
    assert answered.json()["timers"][0]["state"] == "met"
    bad = client.post(
        "/api/v1/complaints",
        json={"channel": "fax", "category": "other", "description": "x"},
        headers=book.headers("col"),
    )
    assert bad.status_code == 422 and bad.json()["field"] == "channel"


def test_health_metrics_and_offline_docs(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}
    client.get("/api/v1/loans")
    metrics = client.get("/metrics").text
    assert 'daihou_http_requests_total{method="GET",route="/api/v1/loans",status="401"}' in metrics
    docs = client.get("/docs")
    assert "https://" not in docs.text and "http://" not in docs.text
    assert "default-src 'self'" in docs.headers["content-security-policy"]
    page = client.get("/login")
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/loans/{loan_id}/payments" in spec["paths"]


def test_search_by_phone_finds_the_customers_loans(client: TestClient, book: Book) -> None:
    phone = client.post(
        "/api/v1/customers/C-W4/reveal",
        json={"field": "phone", "reason": "search test"},
        headers=book.headers("ops"),
    ).json()["value"]
    found = client.get(f"/api/v1/loans?q={phone}", headers=book.headers("ops")).json()
    assert [i["loan_id"] for i in found["items"]] == ["W4"]
    assert client.get(f"/api/v1/loans?q={phone}", headers=book.headers("col")).json()["items"] == []


def test_reads_do_not_wait_for_a_writer(client: TestClient, book: Book) -> None:
    """A GET is answered while another connection holds a write transaction (on
    SQLite the database write lock, on PostgreSQL the loan's row lock)."""
    import time

    from sqlalchemy import text

    with book.engine.connect() as writer:
        writer.begin()
        writer.execute(text("UPDATE loans SET version = version WHERE id = 'W1'"))
        started = time.monotonic()
        answer = client.get("/api/v1/loans/W1", headers=book.headers("risk"))
        waited = time.monotonic() - started
        writer.rollback()
    assert answer.status_code == 200, answer.text
    assert waited < 10  # the write lock's busy timeout is 30 s


def test_class_override_request_waits_for_a_manager(client: TestClient, book: Book) -> None:
    body = {"risk_class": "doubtful", "reason": "fraud reported"}
    made = client.post("/api/v1/loans/W4/class-overrides", json=body, headers=book.headers("risk"))
    assert made.status_code == 201, made.text
    assert made.json()["kind"] == "classification" and made.json()["status"] == "pending"
    shown = client.get("/api/v1/loans/W4", headers=book.headers("risk")).json()
    assert shown["risk_class"] != "doubtful"
    again = client.post("/api/v1/loans/W4/class-overrides", json=body, headers=book.headers("risk"))
    assert again.status_code in (409, 422) and "loan_id" in again.text
    bad = client.post(
        "/api/v1/loans/W4/class-overrides",
        json={"risk_class": "awful", "reason": "x"},
        headers=book.headers("risk"),
    )
    assert bad.status_code == 422 and "class" in bad.text


def test_session_and_token_follow_the_users_current_roles_and_state(
    client: TestClient, book: Book
) -> None:
    """The sign-in check reads the user on every request: a role taken away, or the
    user deactivated, applies at once to their session and their tokens."""
    from datetime import UTC, datetime

    from daihou.auth.actor import SYSTEM
    from daihou.auth.service import create_user, deactivate, set_roles
    from daihou.auth.sessions import create_token, start_session
    from daihou.web.deps import SESSION_COOKIE

    now = datetime.now(UTC)
    with transaction(book.engine) as s:
        create_user(
            s,
            actor=SYSTEM,
            username="leaver",
            password="a-long-password-1",
            roles=["operations", "risk-analyst"],
            now=now,
            display_name="Le Aver",
            territory="north",
        )
        token, _ = create_token(s, actor=SYSTEM, name="t", now=now, username="leaver")
        actor = SYSTEM.__class__(user_id="leaver", roles=frozenset({"operations"}))
        cookie, _csrf = start_session(s, actor=actor, now=now)
    bearer = {"Authorization": f"Bearer {token}"}
    by_cookie = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    for how in (bearer, by_cookie):
        me = client.get("/api/v1/me", headers=how).json()
        assert (me["username"], me["display_name"], me["territory"]) == (
            "leaver",
            "Le Aver",
            "north",
        )
        assert me["roles"] == ["operations", "risk-analyst"]
    with transaction(book.engine) as s:
        set_roles(s, actor=SYSTEM, username="leaver", roles=["risk-analyst"])
    for how in (bearer, by_cookie):
        assert client.get("/api/v1/me", headers=how).json()["roles"] == ["risk-analyst"]
    with transaction(book.engine) as s:
        deactivate(s, actor=SYSTEM, username="leaver", now=now)
    for how in (bearer, by_cookie):
        assert client.get("/api/v1/me", headers=how).status_code == 401
