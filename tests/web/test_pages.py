"""Pages: sign-in, sessions and CSRF, each page for a role with and without the right,
the forms (payment, reversal, reveal, import, complaint, user), language switch."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from daihou.auth.session_models import WebSession
from daihou.compliance.audit.models import AuditRecord
from daihou.db.engine import transaction
from daihou.web.deps import SESSION_COOKIE
from tests.factories import loan_row, write_csv
from tests.web.conftest import PASSWORD, Book, login
from tests.web.labels import unlabelled

# (path, allowed user, refused user)
PAGES = [
    ("/loans", "ops", "adm"),
    ("/loans/W3", "ops", "col"),
    ("/import", "ops", "risk"),
    ("/eod", "ops", "col"),
    ("/dashboard", "risk", "ops"),
    ("/complaints", "comp", "col"),
    ("/complaints/new", "col", "risk"),
    ("/admin/users", "adm", "ops"),
    ("/admin/policy", "risk", "agy"),
    ("/account", "agy", "agy"),
    # collector workbench
    ("/workbench", "col", "ops"),
    ("/cases/1", "col", "col2"),
    ("/cases/2", "agy", "col"),
]


@pytest.mark.parametrize(("path", "allowed", "refused"), PAGES)
def test_page_signed_out_refused_allowed(
    web: TestClient, path: str, allowed: str, refused: str
) -> None:
    out = web.get(path, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"].startswith("/login?next=")
    if refused != allowed:
        login(web, refused)
        no = web.get(path)
        assert no.status_code == 403
        assert "无权访问" in no.text  # zh-CN by default
    login(web, allowed)
    ok = web.get(path)
    assert ok.status_code == 200, ok.text[:500]
    assert 'lang="zh-CN"' in ok.text
    assert unlabelled(ok.text) == []  # every form field has a label


@pytest.mark.parametrize(
    ("user", "home"),
    [
        ("col", "/workbench"),
        ("agy", "/portal"),
        ("ops", "/loans"),
        ("risk", "/dashboard"),
        ("sup", "/supervisor"),
        ("comp", "/complaints"),
        ("adm", "/admin/users"),
        ("aud", "/loans"),
    ],
)
def test_home_sends_each_role_to_its_own_page(web: TestClient, user: str, home: str) -> None:
    login(web, user)
    assert web.get("/", follow_redirects=False).headers["location"] == home
    assert web.get(home).status_code == 200  # and may open it


def test_wrong_password_and_stale_form(web: TestClient) -> None:
    form = web.get("/login")
    token = web.cookies.get("daihou_login_csrf")
    wrong = web.post("/login", data={"username": "ops", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    assert form.status_code == 200
    stale = web.post(
        "/login", data={"username": "ops", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert stale.status_code == 401 and web.cookies.get(SESSION_COOKIE) is None


def test_session_cookie_flags_and_safe_next(web: TestClient) -> None:
    web.get("/login")
    answer = web.post(
        "/login",
        data={
            "username": "ops",
            "password": PASSWORD,
            "csrf_token": web.cookies.get("daihou_login_csrf"),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "daihou_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_form_without_csrf_is_refused(web: TestClient, book: Book) -> None:
    csrf = login(web, "ops")
    body = {"amount": "12.00", "channel": "counter", "reference": "page-csrf"}
    refused = web.post("/loans/W4/payments", data=body)
    assert refused.status_code == 403
    forged = web.post("/loans/W4/payments", data={**body, "csrf_token": "x" * len(csrf)})
    assert forged.status_code == 403
    done = web.post("/loans/W4/payments", data={**body, "csrf_token": csrf})
    assert done.status_code == 200 and "page-csrf" in done.text
    # a bearer client needs no CSRF token, the cookie does
    api = web.post("/api/v1/loans/W4/payments", json={**body, "reference": "page-csrf-2"})
    assert api.status_code == 403 and api.json()["field"] == "csrf_token"


def test_payment_reverse_and_reveal_through_the_loan_page(web: TestClient, book: Book) -> None:
    csrf = login(web, "ops")
    page = web.post(
        "/loans/W5/payments",
        data={"amount": "99.99", "channel": "online", "reference": "page-pay", "csrf_token": csrf},
    )
    assert page.status_code == 200 and "page-pay" in page.text and "99.99" in page.text
    txn = re.search(r'data-txn="(\d+)"><td class="num">\1</td><td>还款</td>', page.text)
    assert txn is not None
    reversed_page = web.post(
        f"/transactions/{txn.group(1)}/reversal", data={"reason": "test", "csrf_token": csrf}
    )
    assert reversed_page.status_code == 200 and "已冲正" in reversed_page.text
    shown = web.post(
        "/loans/W5/reveal",
        data={"field": "id_number", "reason": "identity check", "csrf_token": csrf},
    )
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    value = re.search(r'class="revealed" data-field="id_number">([^<]+)<', shown.text)
    assert value is not None and "*" not in value.group(1) and len(value.group(1)) == 18
    with transaction(book.engine) as s:
        last = s.scalars(select(AuditRecord).order_by(AuditRecord.id.desc()).limit(1)).one()
        assert (last.action, last.actor_id, last.object_id) == ("privacy.reveal", "ops", "C-W5")


def test_bad_payment_shows_the_field(web: TestClient) -> None:
    csrf = login(web, "ops")
    bad = web.post(
        "/loans/W5/payments",
        data={"amount": "abc", "channel": "online", "reference": "x", "csrf_token": csrf},
    )
    assert bad.status_code == 422 and "amount" in bad.text


def test_logout_and_idle_expiry(web: TestClient, book: Book) -> None:
    csrf = login(web, "risk")
    cookie = web.cookies.get(SESSION_COOKIE)
    assert web.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    web.cookies.set(SESSION_COOKIE, cookie)
    assert web.get("/dashboard", follow_redirects=False).status_code == 303
    login(web, "risk")
    with transaction(book.engine) as s:
        for row in s.scalars(
            select(WebSession).where(WebSession.username == "risk", WebSession.ended_at.is_(None))
        ):
            row.last_seen_at -= timedelta(minutes=31)
    assert web.get("/dashboard", follow_redirects=False).status_code == 303


def test_language_switch(web: TestClient) -> None:
    assert "登录" in web.get("/login").text
    web.get("/lang/en?next=/login")
    english = web.get("/login").text
    assert 'lang="en"' in english and "Sign in" in english and "登录" not in english


def test_import_reports_every_bad_row(web: TestClient, tmp_path: object, book: Book) -> None:
    from pathlib import Path

    csrf = login(web, "ops")
    tmp = Path(str(tmp_path))
    bad = write_csv(
        tmp / "bad.csv",
        [loan_row("IMP1"), loan_row("IMP2", principal="-5"), loan_row("IMP3", term_months="x")],
    )
    answer = web.post(
        "/import",
        data={"csrf_token": csrf},
        files={"file": ("bad.csv", bad.read_bytes(), "text/csv")},
    )
    assert answer.status_code == 422
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([a-z_]+)</td>', answer.text)
    assert ("3", "principal") in rows and ("4", "term_months") in rows
    assert web.get("/api/v1/loans/IMP1", headers=book.headers("ops")).status_code == 404
    good = write_csv(tmp / "good.csv", [loan_row("IMP1")])
    ok = web.post(
        "/import",
        data={"csrf_token": csrf},
        files={"file": ("good.csv", good.read_bytes(), "text/csv")},
    )
    assert ok.status_code == 200 and 'id="import-result"' in ok.text
    assert web.get("/api/v1/loans/IMP1", headers=book.headers("ops")).status_code == 200


def test_dashboard_data_and_xlsx(web: TestClient) -> None:
    login(web, "risk")
    page = web.get("/dashboard").text
    assert "/static/vendor/echarts.min.js" in page and 'id="dashboard-data"' in page
    assert "https://" not in page
    xlsx = web.get("/dashboard/report.xlsx")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert {"summary", "buckets", "classes"} <= set(book.sheetnames)
    assert web.get("/static/vendor/echarts.min.js").status_code == 200


def test_complaint_intake_and_queue(web: TestClient) -> None:
    csrf = login(web, "col")
    done = web.post(
        "/complaints",
        data={
            "channel": "hotline",
            "category": "harassment",
            "description": "page intake",
            "loan_id": "W1",
            "csrf_token": csrf,
        },
    )
    assert done.status_code == 200 and "投诉已受理" in done.text
    number = re.search(r"投诉已受理: (\d+)", done.text)
    assert number is not None
    login(web, "comp")
    queue = web.get("/complaints").text
    assert f'href="/complaints/{number.group(1)}"' in queue
    assert "data-due=" in queue and "剩余" in queue
    detail = web.get(f"/complaints/{number.group(1)}")
    assert detail.status_code == 200 and "page intake" in detail.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', detail.text)
    assert csrf is not None and 'action="/complaints/' in detail.text
    answered = web.post(
        f"/complaints/{number.group(1)}/response",
        data={"note": "called the customer back", "csrf_token": csrf.group(1)},
    )
    assert answered.status_code == 200 and "已记录首次响应" in answered.text
    assert "记录响应" not in answered.text  # responded: the form is gone
    again = web.post(
        f"/complaints/{number.group(1)}/response",
        data={"note": "twice", "csrf_token": csrf.group(1)},
    )
    assert again.status_code == 422


def test_admin_creates_user_with_roles(web: TestClient) -> None:
    csrf = login(web, "adm")
    made = web.post(
        "/admin/users",
        data={
            "username": "pageuser",
            "password": "another-long-password",
            "roles": ["risk-analyst"],
            "csrf_token": csrf,
        },
    )
    assert made.status_code == 200 and "pageuser" in made.text
    weak = web.post(
        "/admin/users",
        data={"username": "weak", "password": "short", "roles": ["auditor"], "csrf_token": csrf},
    )
    assert weak.status_code == 422
    login(web, "pageuser", "another-long-password")
    assert web.get("/dashboard").status_code == 200


def test_policy_page_is_readable(web: TestClient) -> None:
    login(web, "risk")
    text = web.get("/admin/policy").text
    assert (
        "cn-bank-default" in text and "<details" in text and "<form" not in text.split("<main")[1]
    )
