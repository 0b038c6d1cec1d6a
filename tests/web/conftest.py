"""A small loan book with users of every role, built once per module and backend, and
the web application on it (TestClient for the API, a real uvicorn server for the
browser tests).

Book: five loans disbursed 2024-01-15 (first due 2024-02-15), end of day run from
2024-03-25 through 2024-04-02 so that the book is overdue, KPIs exist for every day and
the month-end 2024-03-31 has roll rates. Loan W1 has an open collection case owned by
collector ``col`` (team ``east``); W2 is placed with agency ``agy-1``; W3–W5 have no
case (head office sees them, collectors do not).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from daihou.auth.actor import SYSTEM
from daihou.auth.service import create_user
from daihou.auth.sessions import create_token
from daihou.collection.models import CollectionCase
from daihou.db.engine import database_url, make_engine, transaction
from daihou.db.models import Base
from daihou.eod.runner import run_eod
from daihou.web.app import create_app
from daihou.web.settings import WebSettings
from tests.conftest import PG_URL
from tests.factories import add_loans, init_book, loan_row

PASSWORD = "correct-horse-battery"
START = date(2024, 3, 25)
THROUGH = date(2024, 4, 2)
LOANS = ["W1", "W2", "W3", "W4", "W5"]

USERS: dict[str, dict[str, object]] = {
    "ops": {"roles": ["operations"]},
    "risk": {"roles": ["risk-analyst"]},
    "comp": {"roles": ["compliance-officer"]},
    "adm": {"roles": ["admin"]},
    "aud": {"roles": ["auditor"]},
    "col": {"roles": ["collector-junior"], "team": "east"},
    "col2": {"roles": ["collector-junior"], "team": "west"},
    "sup": {"roles": ["supervisor"], "team": "east"},
    "agy": {"roles": ["agency-user"], "agency_id": "agy-1"},
}


@dataclass
class Book:
    backend: str
    url: str
    engine: Engine
    tokens: dict[str, str]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def start_book(engine: Engine, tmp: Path, loans: list[str]) -> None:
    """Tables, the book opened on START and ``loans`` disbursed 2024-01-15 (first due
    2024-02-15, 12,000.00 each)."""
    Base.metadata.create_all(engine)
    init_book(engine, START)
    add_loans(
        engine,
        tmp,
        [loan_row(i, first_due_on="2024-02-15", principal="12000.00") for i in loans],
    )


def add_users(s: Session, users: dict[str, dict[str, object]]) -> dict[str, str]:
    """Create ``users`` (name → roles, and team / agency_id where given) with PASSWORD;
    returns an API token for each, by name."""
    now = datetime.now(UTC)
    tokens: dict[str, str] = {}
    for name, extra in users.items():
        create_user(
            s,
            actor=SYSTEM,
            username=name,
            password=PASSWORD,
            roles=extra["roles"],  # type: ignore[arg-type]
            now=now,
            display_name=name.upper(),
            team=extra.get("team"),  # type: ignore[arg-type]
            agency_id=extra.get("agency_id"),  # type: ignore[arg-type]
        )
        tokens[name], _row = create_token(s, actor=SYSTEM, name="tests", now=now, username=name)
    return tokens


def _build(engine: Engine, tmp: Path) -> dict[str, str]:
    start_book(engine, tmp, LOANS)
    with transaction(engine) as s:
        tokens = add_users(s, USERS)
        s.add(
            CollectionCase(
                loan_id="W1",
                customer_id="C-W1",
                status="open",
                opened_on=START,
                owner_user_id="col",
                team="east",
            )
        )
        s.add(
            CollectionCase(
                loan_id="W2",
                customer_id="C-W2",
                status="open",
                opened_on=START,
                owner_user_id="sup",
                team="east",
                agency_id="agy-1",
            )
        )
    run_eod(engine, through=THROUGH)
    return tokens


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def book(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Book]:
    yield from open_book(str(request.param), tmp_path_factory, _build)


def open_book(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    build: Callable[[Engine, Path], dict[str, str]],
) -> Iterator[Book]:
    """A fresh database on ``backend`` (a schema of its own on PostgreSQL) filled by
    ``build``; test modules with a book of their own override ``book`` with it."""
    tmp = tmp_path_factory.mktemp("web")
    if backend == "postgresql":
        if not PG_URL:
            pytest.skip("PostgreSQL: set DAIHOU_TEST_DATABASE_URL")
        schema = f"w_{uuid.uuid4().hex[:12]}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        base = database_url(PG_URL)
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp}/web.db"
    engine = make_engine(url)
    try:
        tokens = build(engine, tmp)
        yield Book(backend, url, engine, tokens)
    finally:
        engine.dispose()
        if backend == "postgresql":
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture(scope="module")
def app(book: Book) -> FastAPI:
    return create_app(book.engine, WebSettings())


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    """A fresh client (own cookies) for page tests."""
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def login(client: TestClient, user: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; returns the session's CSRF token."""
    client.cookies.clear()
    form = client.get("/login")
    token = form.cookies.get("daihou_login_csrf") or client.cookies.get("daihou_login_csrf")
    answer = client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": token, "next": "/account"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    account = client.get("/account")
    assert account.status_code == 200
    marker = 'name="csrf_token" value="'
    start = account.text.index(marker) + len(marker)
    return account.text[start : account.text.index('"', start)]


def check_route(
    client: TestClient,
    book: Book,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    allowed: str,
    refused: str,
) -> None:
    """A route signed out and with a made-up token answers 401, as ``refused`` 403
    with a message (unless ``refused`` is ``allowed``), as ``allowed`` 2xx."""
    client.cookies.clear()
    out = client.request(method, path, json=body)
    assert out.status_code == 401, out.text
    assert out.json()["error"] == "unauthenticated"
    bad = client.request(method, path, json=body, headers={"Authorization": "Bearer dht_nope"})
    assert bad.status_code == 401
    if refused != allowed:
        no = client.request(method, path, json=body, headers=book.headers(refused))
        assert no.status_code == 403, no.text
        assert no.json()["error"] == "forbidden" and no.json()["message"]
    ok = client.request(method, path, json=body, headers=book.headers(allowed))
    assert ok.status_code in (200, 201, 204), ok.text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    book: Book


@pytest.fixture(scope="module")
def server(book: Book) -> Iterator[Server]:
    """A real uvicorn server on loopback, in a thread, for the browser."""
    import uvicorn

    app = create_app(book.engine, WebSettings())
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}", book)
    srv.should_exit = True
    thread.join(timeout=10)


ARTEFACTS = Path(os.environ.get("DAIHOU_TEST_ARTEFACTS", "test-artefacts"))
