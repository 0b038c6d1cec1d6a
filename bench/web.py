#!/usr/bin/env python3
"""Benchmark the web workbench and API under concurrent load on loopback.

    python bench/web.py                       # 20,000 loans, 50 clients, SQLite
    python bench/web.py --db postgresql://postgres@127.0.0.1:5432/test --loans 100000
    python bench/web.py --ci                  # 500 loans, 8 clients: proves it works
    daihou demo generate --loans 200000 --db /tmp/b.db
    python bench/web.py --book sqlite:////tmp/b.db   # case page and task list, per kind

Builds a synthetic book (bench/import_loans.py's generator, the real import), opens a
collection case for one loan in five (owned by collector ``col``), starts ``daihou
serve`` in a subprocess on 127.0.0.1, and runs N concurrent clients (threads, one
HTTP connection each) that request, in turn: the loan page (HTML: schedule,
transactions, ledger, masked customer), the loan list page, the loan API, the loan
list API as operations, and the loan list API as a collector (scoped to their cases).
Each client makes a bounded number of requests and stops; the server is stopped at the
end. Prints p50/p95/p99 per kind and the throughput; asserts no time.

``--book URL`` benchmarks the collector workbench on an existing book (e.g. from
``daihou demo generate``): it opens a case for every loan past due (round-robin over
40 collectors of team east, ``col`` first) and today's call task for each, ranked by
DPD, the first 150 of each collector (the daily run writes no task beyond a collector's
capacity), unless cases are open already; then requests the case page (HTML), the case
API, the task list page and the task list API as ``col``, one kind at a time, and
prints per kind the latencies and the server's CPU milliseconds per request (from
/proc, so other load on the machine does not count). ``--think S`` makes each user read
a page for 0.5–1.5 × S seconds before the next request (50 collectors working, not 50
scripts in a loop); without it the clients never pause and measure throughput.
``--processes N`` runs N server worker processes; their CPU is counted with the
supervisor's.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

if not os.environ.get("DAIHOU_DATA_KEY") and not os.environ.get("DAIHOU_KEY_FILE"):
    os.environ["DAIHOU_DATA_KEY"] = base64.b64encode(os.urandom(32)).decode()

import httpx
from sqlalchemy import func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from daihou.auth.actor import SYSTEM
from daihou.auth.service import actor_for, create_user
from daihou.auth.sessions import create_token, start_session
from daihou.collection.models import CollectionCase
from daihou.db.engine import database_url, make_engine, transaction
from daihou.loans.book import import_loans
from daihou.loans.models import Loan
from import_loans import BUSINESS_DATE, create_schema, write_csv

PASSWORD = "bench-password-long"
KINDS = ("loan page", "loan list page", "loan api", "list api (ops)", "list api (collector)")
WORKBENCH = ("case page", "case api", "task list page", "task list api")
COLLECTORS = ["col"] + [f"c{i:02d}" for i in range(1, 40)]


def prepare(url: str, loans: int, folder: Path) -> dict[str, str]:
    engine = make_engine(url)
    try:
        create_schema(engine)
        source = folder / "book.csv"
        write_csv(source, loans, 20260331)
        started = time.perf_counter()
        import_loans(engine=engine, path=source)
        print(f"imported {loans:,} loans in {time.perf_counter() - started:.1f} s")
        now = datetime.now(UTC)
        secrets: dict[str, str] = {}
        with transaction(engine) as s:
            for name, role in (("ops", "operations"), ("col", "collector-junior")):
                create_user(
                    s, actor=SYSTEM, username=name, password=PASSWORD, roles=[role], now=now
                )
                secrets[f"{name}-token"], _ = create_token(
                    s, actor=SYSTEM, name="bench", now=now, username=name
                )
            ops = actor_for(s, "ops")
            secrets["ops-session"], _csrf = start_session(s, actor=ops, now=now)
            ids = list(s.scalars(select(Loan.id).order_by(Loan.id)))
            rows = [
                {
                    "loan_id": loan_id,
                    "customer_id": customer,
                    "status": "open",
                    "opened_on": BUSINESS_DATE,
                    "owner_user_id": "col",
                    "team": "east",
                }
                for loan_id, customer in s.execute(
                    select(Loan.id, Loan.customer_id).where(Loan.id.in_(ids[::5]))
                )
            ]
            s.execute(insert(CollectionCase), rows)
        secrets["loan-ids"] = ",".join(ids)
        return secrets
    finally:
        engine.dispose()


def prepare_book(url: str) -> dict[str, str]:
    """Users, collectors, cases and today's tasks on an existing book (once)."""
    from daihou.auth.models import User
    from daihou.collection.assign import register_collector
    from daihou.collection.tables import CollectionTask
    from daihou.eod.calendar import business_date

    engine = make_engine(url)
    now = datetime.now(UTC)
    secrets: dict[str, str] = {}
    try:
        with transaction(engine) as s:
            today = business_date(s)
            for name in COLLECTORS:
                if s.get(User, name) is None:
                    create_user(
                        s,
                        actor=SYSTEM,
                        username=name,
                        password=PASSWORD,
                        roles=["collector-junior"],
                        now=now,
                        team="east",
                    )
                    register_collector(
                        s,
                        user_id=name,
                        tier="junior",
                        actor=SYSTEM,
                        team="east",
                        daily_capacity=150,
                    )
            if s.scalar(select(CollectionCase.id).limit(1)) is None:
                late = s.execute(
                    select(Loan.id, Loan.customer_id, Loan.dpd)
                    .where(Loan.dpd > 0)
                    .order_by(Loan.dpd.desc(), Loan.id)
                ).all()
                s.execute(
                    insert(CollectionCase),
                    [
                        {
                            "loan_id": loan_id,
                            "customer_id": customer,
                            "status": "open",
                            "opened_on": today,
                            "stage": "early",
                            "owner_user_id": COLLECTORS[n % len(COLLECTORS)],
                            "team": "east",
                        }
                        for n, (loan_id, customer, _dpd) in enumerate(late)
                    ],
                )
                cases = s.execute(
                    select(
                        CollectionCase.id,
                        CollectionCase.loan_id,
                        CollectionCase.customer_id,
                        CollectionCase.owner_user_id,
                        Loan.dpd,
                    )
                    .join(Loan, Loan.id == CollectionCase.loan_id)
                    .order_by(Loan.dpd.desc(), CollectionCase.id)
                ).all()
                ranks: dict[str, int] = {}
                tasks = []
                for case_id, loan_id, customer, owner, dpd in cases:
                    rank = ranks[owner] = ranks.get(owner, 0) + 1
                    if rank > 150:  # beyond capacity: no task row
                        continue
                    tasks.append(
                        {
                            "business_date": today,
                            "work_date": today,
                            "case_id": case_id,
                            "loan_id": loan_id,
                            "customer_id": customer,
                            "kind": "call",
                            "assignee_role": "collector",
                            "collector_user_id": owner,
                            "team": "east",
                            "slots": 1,
                            "dpd": dpd,
                            "priority": dpd * 100,
                            "rank": rank,
                            "status": "queued",
                        }
                    )
                s.execute(insert(CollectionTask), tasks)
                print(
                    f"opened {len(cases):,} cases and their tasks for {len(COLLECTORS)} collectors"
                )
            col = actor_for(s, "col")
            secrets["col-session"], _csrf = start_session(s, actor=col, now=now)
            secrets["col-token"], _ = create_token(
                s, actor=SYSTEM, name=f"bench-{now.timestamp()}", now=now, username="col"
            )
            ids = s.scalars(
                select(CollectionCase.id).where(
                    CollectionCase.owner_user_id == "col", CollectionCase.status == "open"
                )
            ).all()
            secrets["case-ids"] = ",".join(str(i) for i in ids)
            secrets["loans"] = str(s.scalar(select(func.count()).select_from(Loan)))
        return secrets
    finally:
        engine.dispose()


def workbench_request(
    kind: str, case_id: str, api: dict[str, str]
) -> tuple[str, str, dict[str, str]]:
    if kind == "case page":
        return ("GET", f"/cases/{case_id}", {})
    if kind == "case api":
        return ("GET", f"/api/v1/cases/{case_id}", api)
    if kind == "task list page":
        return ("GET", "/workbench", {})
    return ("GET", "/api/v1/tasks?per_page=50", api)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` and its live descendants (/proc, clock ticks).

    With ``--processes N`` uvicorn's supervisor forks the workers that serve the
    requests, so the children's CPU is what counts.
    """
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:  # exited meanwhile
            continue
        total += int(fields[11]) + int(fields[12])
        pending.extend(int(child) for child in children)
    return total / os.sysconf("SC_CLK_TCK")


def run_workbench(
    base: str,
    secrets: dict[str, str],
    kind: str,
    clients: int,
    per_client: int,
    think: float = 0.0,
) -> list[float]:
    case_ids = secrets["case-ids"].split(",")
    timings: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        api = {"Authorization": f"Bearer {secrets['col-token']}"}
        with httpx.Client(
            base_url=base, cookies={"daihou_session": secrets["col-session"]}, timeout=120
        ) as http:
            if think:
                time.sleep(rng.uniform(0, think))  # users do not all click at once
            for _ in range(per_client):
                req = workbench_request(kind, rng.choice(case_ids), api)
                started = time.perf_counter()
                status: int | str
                try:
                    status = http.request(req[0], req[1], headers=req[2]).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                elapsed = time.perf_counter() - started
                with lock:
                    if status != 200:
                        failures.append(f"{kind} {req[1]}: {status}")
                    else:
                        timings.append(elapsed)
                if think:  # reads the page before the next click: half to 1.5 × think
                    time.sleep(rng.uniform(0.5, 1.5) * think)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        print(f"{len(failures)} failed requests, e.g. {failures[:3]}")
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_clients(
    base: str, secrets: dict[str, str], clients: int, per_client: int
) -> dict[str, list[float]]:
    loan_ids = secrets["loan-ids"].split(",")
    timings: dict[str, list[float]] = {k: [] for k in KINDS}
    failures: list[str] = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        ops_api = {"Authorization": f"Bearer {secrets['ops-token']}"}
        col_api = {"Authorization": f"Bearer {secrets['col-token']}"}
        with httpx.Client(
            base_url=base, cookies={"daihou_session": secrets["ops-session"]}, timeout=60
        ) as http:
            for i in range(per_client):
                kind = KINDS[(seed + i) % len(KINDS)]
                loan = rng.choice(loan_ids)
                if kind == "loan page":
                    req = ("GET", f"/loans/{loan}", {})
                elif kind == "loan list page":
                    req = ("GET", f"/loans?q={loan[:-2]}", {})
                elif kind == "loan api":
                    req = ("GET", f"/api/v1/loans/{loan}", ops_api)
                elif kind == "list api (ops)":
                    req = ("GET", "/api/v1/loans?per_page=50", ops_api)
                else:
                    req = ("GET", "/api/v1/loans?per_page=50", col_api)
                started = time.perf_counter()
                try:
                    status = http.request(req[0], req[1], headers=req[2]).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                elapsed = time.perf_counter() - started
                with lock:
                    if status != 200:
                        failures.append(f"{kind} {req[1]}: {status}")
                    else:
                        timings[kind].append(elapsed)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        print(f"{len(failures)} failed requests, e.g. {failures[:3]}")
    return timings


def wait_ready(base: str, server: subprocess.Popen[bytes], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"daihou serve exited with {server.returncode}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("daihou serve did not become ready")


def start_server(
    url: str, folder: Path, workers: int, processes: int
) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-c",
        "from daihou.cli import main; main()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--db",
        url,
        "--plain-logs",
        "--workers",
        str(workers),
        "--processes",
        str(processes),
    ]
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_ready(base, server)
    except BaseException:
        stop(server)  # never leave a server behind when it did not come up
        raise
    return server, base


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def main_book(
    url: str, clients: int, per_client: int, think: float = 0.0, processes: int = 1
) -> int:
    """The workbench on an existing book: each kind alone, latency and server CPU."""
    secrets = prepare_book(url)
    results = []
    with tempfile.TemporaryDirectory(prefix="daihou-bench-web-") as tmp:
        server, base = start_server(url, Path(tmp), max(8, clients), processes)
        try:
            for kind in WORKBENCH:
                run_workbench(base, secrets, kind, min(4, clients), 3)  # warm up
                cpu = cpu_seconds(server.pid)
                started = time.perf_counter()
                timings = run_workbench(base, secrets, kind, clients, per_client, think)
                wall = time.perf_counter() - started
                used = cpu_seconds(server.pid) - cpu
                results.append((kind, timings, wall, used))
        finally:
            stop(server)
            errors = [
                line
                for line in (Path(tmp) / "server.log").read_text(errors="replace").splitlines()
                if "Error" in line
            ]
            if errors:
                print(f"server log: {len(errors)} error lines, e.g. {errors[:5]}")
    print(f"database:   {database_url(url).split(':', 1)[0]}; loans: {int(secrets['loans']):,}")
    print(
        f"clients:    {clients} × {per_client} requests per kind, think time {think:g} s "
        f"(0.5–1.5 ×); server processes: {processes}; load {os.getloadavg()}"
    )
    print(
        f"{'kind':<16}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>8}{'CPU ms/req':>12}"
    )
    for kind, values, wall, used in results:
        if values:
            print(
                f"{kind:<16}{len(values):>6}{percentile(values, 0.5) * 1000:>9.1f}"
                f"{percentile(values, 0.95) * 1000:>9.1f}{percentile(values, 0.99) * 1000:>9.1f}"
                f"{len(values) / wall:>8.1f}{used * 1000 / len(values):>12.2f}"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="per client")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--processes", type=int, default=1, help="daihou serve --processes")
    parser.add_argument("--ci", action="store_true", help="500 loans, 8 clients × 20")
    parser.add_argument(
        "--book", help="an existing book (database URL): benchmark the case page and task list"
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="with --book: seconds a user reads a page before the next request (mean)",
    )
    args = parser.parse_args(argv)
    if args.book:
        return main_book(args.book, args.clients, args.requests, args.think, args.processes)
    if args.ci:
        args.loans, args.clients, args.requests = 500, 8, 20
    with tempfile.TemporaryDirectory(prefix="daihou-bench-web-") as tmp:
        folder = Path(tmp)
        url = args.db or f"sqlite:///{folder}/bench.db"
        admin = None
        schema = None
        if database_url(url).startswith("postgresql"):
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            base_url = database_url(url)
            url = f"{base_url}{'&' if '?' in base_url else '?'}options=-csearch_path%3D{schema}"
        server = None
        try:
            secrets = prepare(url, args.loans, folder)
            server, base = start_server(url, folder, max(8, args.clients), args.processes)
            run_clients(base, secrets, min(4, args.clients), 5)  # warm up
            started = time.perf_counter()
            timings = run_clients(base, secrets, args.clients, args.requests)
            wall = time.perf_counter() - started
            errors = [
                line
                for line in (folder / "server.log").read_text(errors="replace").splitlines()
                if "Error" in line
            ]
            if errors:
                print(f"server log: {len(errors)} error lines, e.g. {errors[:3]}")
        finally:
            if server is not None:
                stop(server)
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    total = sum(len(v) for v in timings.values())
    print(f"database:   {database_url(url).split(':', 1)[0]}")
    print(
        f"loans:      {args.loans:,}; clients: {args.clients}; "
        f"server processes: {args.processes}; requests: {total:,}"
    )
    print(f"throughput: {total / wall:.1f} requests/s over {wall:.1f} s")
    print(f"{'kind':<22}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for kind, values in timings.items():
        if values:
            print(
                f"{kind:<22}{len(values):>6}{percentile(values, 0.5) * 1000:>10.1f}"
                f"{percentile(values, 0.95) * 1000:>10.1f}{percentile(values, 0.99) * 1000:>10.1f}"
                f"{statistics.fmean(values) * 1000:>10.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
