#!/usr/bin/env python3
"""Benchmark end of day: a full EOD and an ordinary incremental day on a generated book.

    python bench/eod.py --loans 100000 [--db postgresql://postgres@127.0.0.1:5432/test]
    python bench/eod.py --loans 1000000 --book /data/book-1m.db   # keep the SQLite book
    python bench/eod.py --ci            # 10,000 loans, proves it works
    python bench/eod.py --loans 1000000 --db postgresql://… --analyse   # statistics
        # taken after the full run, as autovacuum would have them the next night
    python bench/eod.py --loans 1000000 --book PATH --statements 8   # slowest statements

The book is written by ``daihou demo generate`` (``daihou.demo.generate``): consumer and
business loans of 12–36 months, about 90% current, the rest with 1–8 recent installments
unpaid (M1–M7), some partly paid. ``--book PATH`` keeps the generated SQLite file and
reuses it (copied) on later runs. Prints the build time, then for each run the seconds,
loans per second and peak memory, the time of every step, and finally the same DPD +
bucket + penalty computation in plain DuckDB in memory with our time as a ratio of it.
Nothing here asserts a time. On a shared machine the CPU seconds of this process are the
steadier figure for SQLite (the database works in-process); PostgreSQL works in its own
server process, so its figure is the wall time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

from daihou.db.engine import database_url, make_engine, transaction
from daihou.db.models import Base
from daihou.demo.generate import generate_book
from daihou.eod.calendar import initialise_business_date
from daihou.eod.runner import run_eod

TODAY = date(2026, 3, 31)


def build(engine: Engine, loans: int, seed: int) -> None:
    with transaction(engine) as s:
        initialise_business_date(s, TODAY)
    t0 = time.perf_counter()
    result = generate_book(engine, loans=loans, seed=seed)
    parts = ", ".join(
        f"{k} {v:.1f}" for k, v in (result.seconds or {}).items() if k not in ("total", "write")
    )
    print(
        f"{engine.dialect.name}: generated {loans:,} loans, {result.installments:,} "
        f"installments ({result.delinquent:,} delinquent) in {time.perf_counter() - t0:.1f} s"
        f" ({parts})"
    )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build_here(url: str, loans: int, seed: int) -> None:
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)
        build(engine, loans, seed)
        print(f"  (the build's peak RSS {peak_mb():,.0f} MB, in its own process)")
    finally:
        engine.dispose()


def build_apart(url: str, loans: int, seed: int) -> None:
    """Generate the book in a child process, so that the peak RSS this process prints
    afterwards is end of day's own (the generator's SQLite load maps the whole file and
    holds GBs; ``ru_maxrss`` keeps a process's high-water mark for good)."""
    child = multiprocessing.get_context("spawn").Process(
        target=_build_here, args=(url, loans, seed)
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"building the book failed (exit code {child.exitcode})")


def duckdb_baseline(engine: Engine) -> float | None:
    """The same DPD + bucket + one night of penalty in DuckDB, in memory."""
    try:
        import duckdb
    except ImportError:
        print("duckdb not installed (pip install duckdb): baseline skipped")
        return None
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT loan_id, due_date, principal_due - principal_paid, annual_rate, status "
                "FROM installments"
            )
        ).all()
    db = duckdb.connect()
    db.execute(
        "CREATE TABLE inst (loan_id VARCHAR, due DATE, unpaid BIGINT, rate BIGINT, status VARCHAR)"
    )
    columns = [list(c) for c in zip(*rows, strict=True)]
    db.execute(
        "INSERT INTO inst SELECT * FROM (SELECT unnest($1), unnest($2)::DATE, unnest($3), "
        "unnest($4), unnest($5))",
        columns,
    )
    t0 = time.perf_counter()
    db.execute(
        f"""CREATE TABLE res AS SELECT loan_id,
              coalesce(DATE '{TODAY}' - min(due) FILTER (
                WHERE status = 'due' AND unpaid > 0 AND due < DATE '{TODAY}'), 0) AS dpd,
              sum(CASE WHEN status = 'due' AND due <= DATE '{TODAY}'
                  THEN unpaid * rate * 1.5 / 1e10 / 360 ELSE 0 END) AS penalty
            FROM inst GROUP BY loan_id"""
    )
    db.execute(
        "SELECT CASE WHEN dpd = 0 THEN 'M0' WHEN dpd <= 30 THEN 'M1' WHEN dpd <= 60 THEN 'M2' "
        "WHEN dpd <= 90 THEN 'M3' WHEN dpd <= 120 THEN 'M4' WHEN dpd <= 150 THEN 'M5' "
        "WHEN dpd <= 180 THEN 'M6' ELSE 'M7' END AS bucket, count(*) FROM res GROUP BY 1"
    ).fetchall()
    return time.perf_counter() - t0


def _key() -> None:
    if not os.environ.get("DAIHOU_DATA_KEY") and not os.environ.get("DAIHOU_KEY_FILE"):
        import base64

        os.environ["DAIHOU_DATA_KEY"] = base64.b64encode(os.urandom(32)).decode()


def watch_server_cpu(engine: Engine) -> Callable[[], float | None]:
    """PostgreSQL works in its backend processes: remember the pid of every connection
    the engine opens and return a function giving their CPU seconds so far (from
    /proc, so only when the server runs on this machine; None otherwise)."""
    pids: set[int] = set()
    if engine.dialect.name != "postgresql":
        return lambda: None
    engine.dispose()  # connections opened from now on are the ones watched

    @event.listens_for(engine, "connect")
    def _remember(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("SELECT pg_backend_pid()")
        pids.add(int(cur.fetchone()[0]))
        cur.close()

    def seconds() -> float | None:
        total, tick = 0.0, os.sysconf("SC_CLK_TCK")
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        return total

    return seconds


def server_wal(engine: Engine) -> tuple[int, int] | None:
    """PostgreSQL: the server's WAL position in bytes and its checkpoints so far (the
    whole cluster's, so a run's difference is its own only while nothing else writes;
    ``pg_stat_wal`` would also count full-page images, but backends report to it only
    when idle for a while). None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as c:
        lsn = c.execute(text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")).scalar_one()
        checkpoints = c.execute(
            text("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
        ).scalar_one()
    return int(lsn), int(checkpoints)


def analyse(engine: Engine) -> None:
    """``ANALYZE`` every table, as autovacuum would between two nights: the ordinary day
    then plans with statistics that know the full run's date and not its own."""
    t0 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("ANALYZE"))
    print(f"ANALYZE between the two runs: {time.perf_counter() - t0:.1f} s")


class StatementTimer:
    """Every statement the engine runs, summed by its text: wall seconds and the bytes
    the running thread wrote meanwhile (``wchar`` of ``/proc/self/task/<tid>/io``, Linux
    only). On SQLite those bytes are the database's own writes from this process — WAL
    frames, temporary files, statement journals — without the checkpoint thread's; on
    PostgreSQL the server writes, so they stay near zero."""

    def __init__(self, engine: Engine) -> None:
        self.seen: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    @staticmethod
    def _written() -> int:
        try:
            with open(f"/proc/self/task/{threading.get_native_id()}/io") as f:
                return int(f.read().split("wchar: ")[1].split()[0])
        except (OSError, IndexError, ValueError):
            return 0

    def _before(self, conn: Any, *_: Any) -> None:
        conn.info.setdefault("bench_t", []).append((time.perf_counter(), self._written()))

    def _after(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        t0, w0 = conn.info["bench_t"].pop()
        row = self.seen[" ".join(statement.split())[:100]]
        row[0] += 1
        row[1] += time.perf_counter() - t0
        row[2] += self._written() - w0

    def report(self, top: int) -> None:
        """Print the ``top`` statements by wall time since the last report."""
        ranked = sorted(self.seen.items(), key=lambda kv: -kv[1][1])[:top]
        for text_, (count, seconds, written) in ranked:
            print(
                f"    {seconds * 1000:8,.0f} ms {written / 2**20:7,.1f} MB written"
                f" ×{int(count):<5} {text_}"
            )
        self.seen.clear()


def run(
    engine: Engine, loans: int, *, analyse_between: bool = False, statements: int = 0
) -> list[float]:
    times = []
    server_cpu = watch_server_cpu(engine)
    timer = StatementTimer(engine) if statements else None
    for label, full in (("full EOD:       ", True), ("incremental day:", False)):
        if analyse_between and not full:
            analyse(engine)
        w0 = server_wal(engine)
        t0, c0, s0 = time.perf_counter(), time.process_time(), server_cpu()
        run_eod(engine, full=full)
        took, cpu, s1 = time.perf_counter() - t0, time.process_time() - c0, server_cpu()
        w1 = server_wal(engine)
        times.append(took)
        print(f"{label} {took:6.2f} s (this process's CPU {cpu:6.2f} s", end="")
        if s0 is not None and s1 is not None:
            print(f", server CPU {s1 - s0:6.2f} s", end="")
        print(") ", end="")
        print(f"{loans / took:10,.0f} loans/s  ", end="")
        print(f"peak RSS {peak_mb():,.0f} MB  (load average {os.getloadavg()[0]:.1f})")
        if w0 is not None and w1 is not None:
            print(
                f"  server WAL {(w1[0] - w0[0]) / 2**20:,.0f} MB written, {w1[1] - w0[1]} "
                "checkpoints (the cluster's, during the run)"
            )
        if timer is not None:
            timer.report(statements)
    with engine.connect() as c:
        steps = c.execute(
            text(
                "SELECT business_date, step, mode, loans, rows, duration_ms FROM eod_runs "
                "WHERE step != 'close' ORDER BY id"
            )
        ).all()
    for row in steps:
        print(
            f"  {row[0]} {row[2]:<11} {row[1]:<12} {row[3]:>9,} loans {row[4]:>9,} rows "
            f"{row[5]:>7,} ms"
        )
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--db", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--book", type=Path, help="SQLite: keep the generated book here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ci", action="store_true", help="10,000 loans")
    parser.add_argument("--duckdb", action="store_true", help="DuckDB baseline above 200k")
    parser.add_argument(
        "--analyse",
        action="store_true",
        help="ANALYZE after the full run, as autovacuum would before the next night",
    )
    parser.add_argument(
        "--statements",
        type=int,
        default=0,
        metavar="N",
        help="after each run, its N slowest statements with the bytes written (--ci: 5)",
    )
    args = parser.parse_args(argv)
    loans = 10_000 if args.ci else args.loans
    _key()
    schema = None
    with tempfile.TemporaryDirectory(dir=args.book.parent if args.book else None) as tmp:
        if args.db:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(args.db)
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = f"{database_url(args.db)}?options=-csearch_path%3D{schema}"
        else:
            work = Path(tmp) / "eod.db"
            if args.book and args.book.exists():
                shutil.copyfile(args.book, work)
                # the copy's GBs written back now, not by the kernel during the runs
                os.sync()
                print(f"sqlite: reusing the book in {args.book}")
            url = f"sqlite:///{work}"
        engine = None
        try:
            if args.db or not (args.book and args.book.exists()):
                build_apart(url, loans, args.seed)
                if args.book and not args.db:
                    shutil.copyfile(work, args.book)
                    os.sync()
            engine = make_engine(url)
            top = args.statements or (5 if args.ci else 0)
            full, incr = run(engine, loans, analyse_between=args.analyse, statements=top)
            # the baseline loads every installment into Python: small books only
            base = duckdb_baseline(engine) if loans <= 200_000 or args.duckdb else None
            if base:
                print(
                    f"DuckDB in memory (DPD + bucket + penalty): {base:.3f} s; "
                    f"full EOD = {full / base:.0f}×, incremental = {incr / base:.0f}×"
                )
        finally:
            if engine is not None:
                engine.dispose()
            if schema:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
