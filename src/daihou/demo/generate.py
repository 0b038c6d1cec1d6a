"""``daihou demo generate``: a large, realistic loan book written straight into the
database with bulk statements, for benchmarks (1 M loans in about two minutes).

What it writes is what importing the same loans and posting their repayments would
write — the *opening state* of a book migrated on business date T:

- each loan is imported on T (``serviced_from`` = T, one ``disbursement`` transaction
  and journal entry, as ``daihou.loans.book.write_book`` writes them);
- what the borrower repaid in the previous system is one ``repayment`` transaction
  (channel ``bank-debit``, reference ``opening-<loan>``) dated on the due date of the
  last installment it settles (or of the installment it pays part of), with the
  allocations, installment paid amounts and journal entry that ``recompute_loan``
  would write for it: oldest installment first, interest before principal; no 罚息
  accrues before T (``serviced_from``), so none is owed for earlier lateness.

About 90% of loans are current; the rest have their last 1–8 installments unpaid
(spread over M1–M7) and some of those paid part of the oldest one. A test holds a
generated book equal to ``recompute_loan`` for every loan, on SQLite and PostgreSQL.

How it is fast: schedules come from a few hundred templates (amount rows depend only on
principal, rate, term and method when the first period is a regular month; due dates
only on the disbursement date), both computed with ``kernel.schedule``; installments,
allocations, transactions and journal rows are then produced by ``INSERT … SELECT``
joins inside the database. The plan is streamed into its work table, never held whole.
On a SQLite file the two big tables (installments, allocations) are built by worker
processes in scratch files and copied in whole at the end (``demo.side``), so the second
core works too; in-memory SQLite runs those statements in slices of ``SLICE`` loans on
the load's connection. On PostgreSQL this process computes the same rows from the plan
(``demo.copy_rows``) and streams them with ``COPY`` into the book's tables while the
server stores them (run there, the statements cost the server's one backend 1.7× the
CPU at 200k loans); the two biggest tables (installments, allocations) are computed,
copied and indexed by worker processes on connections of their own, in tables beside
the book, and swapped in by the load's transaction (``demo.side_pg``), so three server
backends work at once instead of one; a test holds the three paths to the same book. Customers'
personal data is drawn and encrypted a column at a time (``demo.customers``) in one
worker process: on a SQLite file into a scratch file of its own, started before the
plan and told the customers as the plan reveals them, then copied in whole like the
side tables (``CustomerFile``); elsewhere a bounded few chunks ahead of the writer,
written between statements (``CustomerBatches``). The book is written in one transaction
(``demo.bulk.Loader``): the secondary indexes of the loaded tables are dropped and
rebuilt inside it; on PostgreSQL the foreign keys too (re-adding them validates every
row), and the unique keys of the tables nothing refers to, which are emptied with
``TRUNCATE`` and loaded ``COPY … FREEZE``; on SQLite foreign keys are checked once
before the commit and the load runs with load-time settings (journal in memory, no
``fsync``, exclusive lock) — an error rolls everything back, but a crash in the middle
can damage the file: generate again.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from daihou.auth.actor import SYSTEM
from daihou.auth.permissions import authorize
from daihou.compliance.audit.service import record as audit_record
from daihou.compliance.privacy.crypto import current_keyring
from daihou.db.engine import transaction
from daihou.db.types import RATE_SCALE
from daihou.demo import side_pg
from daihou.demo.bulk import WORK_TABLES, Loader, copy_blocks
from daihou.demo.copy_rows import BINARY as COPY_BINARY
from daihou.demo.copy_rows import COLUMNS as COPY_COLUMNS
from daihou.demo.copy_rows import BookRows
from daihou.demo.customers import CustomerBatches, CustomerFile
from daihou.demo.side import SideTables, WorkFile, book_file, schema_of
from daihou.eod.calendar import business_date
from daihou.kernel.schedule import ScheduleTerms, generate_schedule
from daihou.ledger.accounts import FUNDING, INTEREST_INCOME, LOAN_PRINCIPAL, clearing

DELINQUENT_SHARE = 0.10
DELINQUENT_MONTHS = (1, 1, 1, 2, 2, 3, 4, 5, 6, 8)  # installments left unpaid
PARTIAL_SHARE = 0.3  # of the delinquent: part of the oldest unpaid installment paid
CHANNEL = "bank-debit"
TEMPLATE_START = date(2024, 1, 15)  # any date: a regular first period

# (product, method, terms, rates, principal levels in yuan, share)
MIX: tuple[tuple[str, str, tuple[int, ...], tuple[str, ...], tuple[int, ...], float], ...] = (
    (
        "consumer",
        "equal-installment",
        (12, 24, 36),
        ("0.072", "0.096", "0.12", "0.154", "0.18"),
        tuple(range(5_000, 300_001, 5_000)),
        0.80,
    ),
    (
        "consumer",
        "equal-principal",
        (12, 24, 36),
        ("0.096", "0.12", "0.18"),
        tuple(range(10_000, 200_001, 10_000)),
        0.12,
    ),
    (
        "business",
        "interest-only",
        (12, 24),
        ("0.0435", "0.055", "0.06"),
        tuple(range(100_000, 2_000_001, 100_000)),
        0.08,
    ),
)


@dataclass(frozen=True, slots=True)
class Template:
    product: str
    method: str
    term: int
    rate_units: int
    principal_fen: int
    principal: tuple[int, ...]  # per period, fen
    interest: tuple[int, ...]


@dataclass
class GenerateResult:
    loans: int = 0
    customers: int = 0
    installments: int = 0
    repayments: int = 0
    delinquent: int = 0
    seconds: dict[str, float] | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds per part: of this process, and of the worker that built a side table."""


def _fen(x: Decimal) -> int:
    return int(x.scaleb(2))


def templates() -> list[Template]:
    out = []
    for product, method, terms, rates, levels, _ in MIX:
        for term in terms:
            for rate in rates:
                for level in levels:
                    rows = generate_schedule(
                        ScheduleTerms(
                            principal=Decimal(level),
                            annual_rate=Decimal(rate),
                            months=term,
                            method=method,
                            start=TEMPLATE_START,
                        )
                    )
                    out.append(
                        Template(
                            product,
                            method,
                            term,
                            int(Decimal(rate) * RATE_SCALE),
                            level * 100,
                            tuple(_fen(r.principal) for r in rows),
                            tuple(_fen(r.interest) for r in rows),
                        )
                    )
    return out


def due_dates(start: date, months: int) -> list[date]:
    """The due dates of a loan disbursed on ``start`` (the kernel's own rule)."""
    rows = generate_schedule(
        ScheduleTerms(
            principal=Decimal(months * 100),
            annual_rate=Decimal("0.1"),
            months=months,
            method="equal-principal",
            start=start,
        )
    )
    return [r.due_date for r in rows]


# --------------------------------------------------------------------------- the plan


def plan_loans(
    loans: int, seed: int, today: date, tpls: list[Template]
) -> tuple[list[tuple[Any, ...]], dict[date, list[date]], GenerateResult]:
    """One row per loan for the ``gen_loans`` work table, and the due dates of every
    disbursement date used."""
    dues: dict[date, list[date]] = {}
    result = GenerateResult(loans=loans)
    rows = list(iter_plan(loans, seed, today, tpls, dues, result))
    return rows, dues, result


def iter_plan(
    loans: int,
    seed: int,
    today: date,
    tpls: list[Template],
    dues: dict[date, list[date]],
    result: GenerateResult,
) -> Iterator[tuple[Any, ...]]:
    """``plan_loans`` one row at a time (nothing held): fills ``dues`` and ``result``
    as it goes, complete once the last row is out.

    The loop runs once per loan (1 M), so what depends only on a template (the sums
    paid after k periods) or on a disbursement date (its due dates, how many fall due
    by ``today``) is computed once, and ``random.Random.choice``/``randrange`` are
    called as what they are, ``_randbelow`` (a test holds the plan's digest)."""
    rng = random.Random(seed)
    uniform = rng.random
    below = rng._randbelow  # type: ignore[attr-defined]
    by_kind: dict[tuple[str, str], list[int]] = {}
    for i, t in enumerate(tpls):
        by_kind.setdefault((t.product, t.method), []).append(i)
    kinds = [(p, m) for p, m, *_ in MIX]
    choices = [by_kind[kind] for kind in kinds]
    weights = [w for *_, w in MIX]
    cum = [sum(weights[: i + 1]) for i in range(len(weights))]
    last_kind, total = len(kinds) - 1, cum[-1]
    paid_sums = [
        (
            tuple(itertools.accumulate(t.principal, initial=0)),
            tuple(itertools.accumulate(t.interest, initial=0)),
        )
        for t in tpls
    ]
    by_offset: dict[int, tuple[date, list[date], int]] = {}
    n_months = len(DELINQUENT_MONTHS)
    customer = 0
    for n in range(1, loans + 1):
        if customer == 0 or uniform() > 0.1:  # one customer in ten has two loans
            customer += 1
        ids = choices[min(bisect.bisect(cum, uniform() * total), last_kind)]
        ti = ids[below(len(ids))]
        t = tpls[ti]
        # disbursed so that at least one installment is due and at least one is not
        offset = 31 + below((t.term - 1) * 28 - 31)
        day = by_offset.get(offset)
        if day is None:
            start = today - timedelta(days=offset)
            if start not in dues:
                dues[start] = due_dates(start, 36)
            day = by_offset[offset] = (start, dues[start], bisect.bisect_right(dues[start], today))
        start, due, due_by_today = day
        n_due = min(due_by_today, t.term)
        paid, partial = n_due, 0
        if uniform() < DELINQUENT_SHARE:
            result.delinquent += 1
            paid = max(0, n_due - DELINQUENT_MONTHS[below(n_months)])
            if uniform() < PARTIAL_SHARE:
                owed = t.principal[paid] + t.interest[paid]
                partial = owed * (20 + below(60)) // 100
        principal_sums, interest_sums = paid_sums[ti]
        paid_p = principal_sums[paid]
        paid_i = interest_sums[paid]
        if partial:
            part_i = min(partial, t.interest[paid])
            paid_i += part_i
            paid_p += partial - part_i
        pay_on = due[paid] if partial else (due[paid - 1] if paid else None)
        result.customers = customer
        yield (n, f"L{n:09d}", f"C{customer:08d}", ti, start, paid, partial, pay_on, paid_p, paid_i)


# --------------------------------------------------------------------------- generate


def generate_book(
    engine: Engine,
    *,
    loans: int,
    seed: int = 42,
    progress: Callable[[str], None] | None = None,
) -> GenerateResult:
    """Write ``loans`` generated loans into an initialised database whose book is
    empty, as of its business date. Same seed and business date, same book."""
    say = progress or (lambda _s: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    current_keyring()  # no data key configured: say so before the long part
    with transaction(engine) as s:
        today = business_date(s)
        if s.execute(text("SELECT 1 FROM loans LIMIT 1")).first() is not None:
            raise ValueError("the database already holds loans; generate into an empty book")
    result = GenerateResult(loans=loans)
    _write(engine, loans, seed, today, templates(), result, timings, say)
    timings["total"] = time.perf_counter() - t0
    result.seconds = timings
    return result


def _write(
    engine: Engine,
    loans: int,
    seed: int,
    today: date,
    tpls: list[Template],
    result: GenerateResult,
    timings: dict[str, float],
    say: Callable[[str], None],
) -> None:
    book = book_file(engine)
    if engine.dialect.name == "postgresql":
        _write_copy(engine, loans, seed, today, tpls, result, timings, say)
    elif book is None:
        _write_here(engine, loans, seed, today, tpls, result, timings, say)
    else:
        with tempfile.TemporaryDirectory(dir=book.parent, prefix=".daihou-generate-") as tmp:
            _write_beside(engine, Path(tmp), loans, seed, today, tpls, result, timings, say)


def _work_tables(
    sink: Any,
    loans: int,
    seed: int,
    today: date,
    tpls: list[Template],
    result: GenerateResult,
    customers: CustomerFile | None = None,
) -> None:
    """Write the plan and the template tables through ``sink`` (``Loader`` or
    ``side.WorkFile``): the plan is streamed, never held whole. ``customers`` is told
    the customers as the plan reveals them."""
    dues: dict[date, list[date]] = {}
    days = _Days(sink.day)
    plan = iter_plan(loans, seed, today, tpls, dues, result)
    if customers is not None:
        plan = _telling(plan, customers, result)
    sink.copy(
        "gen_loans",
        (
            "n",
            "loan_id",
            "customer_id",
            "template",
            "start",
            "paid",
            "partial",
            "pay_on",
            "paid_principal",
            "paid_interest",
        ),
        ((*r[:4], days[r[4]], r[5], r[6], days[r[7]], r[8], r[9]) for r in plan),
    )
    sink.copy(
        "gen_templates",
        ("template", "period", "principal", "interest", "rate"),
        (
            (i, k + 1, p, it, t.rate_units)
            for i, t in enumerate(tpls)
            for k, (p, it) in enumerate(zip(t.principal, t.interest, strict=True))
        ),
    )
    sink.copy(
        "gen_dates",
        ("start", "period", "start_date", "due_date"),
        (
            (days[s], k + 1, days[s if k == 0 else d[k - 1]], days[d[k]])
            for s, d in dues.items()
            for k in range(len(d))
        ),
    )
    sink.copy(
        "gen_products",
        ("template", "product", "method", "term", "principal", "rate"),
        (
            (i, t.product, t.method, t.term, t.principal_fen, t.rate_units)
            for i, t in enumerate(tpls)
        ),
    )


def _telling(
    plan: Iterator[tuple[Any, ...]], customers: CustomerFile, result: GenerateResult
) -> Iterator[tuple[Any, ...]]:
    """The plan's rows, telling ``customers`` how many customers exist every
    ``TELL`` loans and once the plan is read."""
    for row in plan:
        yield row
        if row[0] % TELL == 0:
            customers.grow(result.customers)
    customers.grow(result.customers, final=True)


TELL = 10_000


class _Parts:
    """Wall and CPU seconds of this process per part of the load."""

    def __init__(self, wall: dict[str, float], cpu: dict[str, float]) -> None:
        self.wall, self.cpu = wall, cpu

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - w
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c


SIDE = (("allocations", "allocations"), ("installments", "installments"))
"""(table, book statement) built beside the load on SQLite (``demo.side``); the
smaller first, so it is copied while the other is still being built."""
IN_ORDER = {
    "allocations": ("ix_allocations_transaction_id", "ix_allocations_loan_id"),
    "installments": ("ix_installments_unsettled",),
}
"""Indexes of the side tables whose keys their book statement writes in order (by loan
and period; transaction ids follow the loans): built before the insert
(``side.build``'s ``first``). The installments' ``UNIQUE (loan_id, period)`` is part of
the table and always was; the indexes by due date are sorted afterwards."""


def _write_beside(
    engine: Engine,
    tmp: Path,
    loans: int,
    seed: int,
    today: date,
    tpls: list[Template],
    result: GenerateResult,
    timings: dict[str, float],
    say: Callable[[str], None],
) -> None:
    """SQLite file: work tables in a scratch file, installments and allocations built
    from them by worker processes (``demo.side``) while this process writes the rest,
    then copied in whole; all inside the load's one transaction."""
    parts = _Parts(timings, result.cpu)
    schemas = {table: schema_of(engine, table) for table, _ in SIDE}
    customers = CustomerFile(tmp / "customers.db", schema_of(engine, "customers"), seed)
    side: SideTables | None = None
    try:
        with parts.part("plan and work tables"):
            work = WorkFile(tmp / "work.db", WORK_TABLES)
            try:
                _work_tables(work, loans, seed, today, tpls, result, customers)
            finally:
                work.close()
        say(f"planned {loans:,} loans")
        statements = dict(book_statements())
        params = {"today": work.day(today), "n": loans, "lo": 1, "hi": loans}
        side = SideTables(tmp, work.path)
        for table, name in SIDE:
            side.start(table, schemas[table], statements[name], params, IN_ORDER[table])
        say("writing the book")
        t1 = time.perf_counter()
        with Loader(engine) as load:
            load.attach("gen_work", str(work.path))
            beside = {"customers", *(table for table, _ in SIDE)}
            here = tuple(t for t in LOADED if t not in beside)
            load.pause(here)
            built = {name for _, name in SIDE}
            for name, sql in book_statements():
                if name in built:
                    continue
                with parts.part(name):
                    load.execute(sql, params)
            with parts.part("indexes"):  # the other tables', while the side ones are built
                load.resume(sort_in_files=True)
            with parts.part("customers: wait for its worker"):  # before the key check:
                path, (rows, indexes) = customers.wait()  # loans refer to customers
            result.cpu["customers: built by a worker"] = rows + indexes
            result.cpu["customers: … of which its indexes"] = indexes
            with parts.part("customers: copy"):
                load.attach("side_customers", path)
                load.copy_table("customers", "side_customers")
            with parts.part("key check"):
                load.check_keys((*here, "customers"))
            for table, _ in SIDE:
                with parts.part(f"{table}: wait for its worker"):
                    path, (insert, indexes) = side.wait(table)
                result.cpu[f"{table}: built by a worker"] = insert + indexes
                result.cpu[f"{table}: … of which its indexes"] = indexes
                with parts.part(f"{table}: copy"):
                    load.attach(f"side_{table}", path)
                    load.copy_table(table, f"side_{table}")
                with parts.part(f"{table}: key check"):  # allocations' while the other
                    load.check_keys([table], by_value=True)  # is being built
            result.installments = load.scalar("SELECT count(*) FROM installments")
            result.repayments = load.scalar(
                "SELECT count(*) FROM transactions WHERE kind = 'repayment'"
            )
            _audit(load, seed, loans, today, result)
            timings["write"] = time.perf_counter() - t1
            t1, c1 = time.perf_counter(), time.process_time()
        timings["commit and statistics"] = time.perf_counter() - t1
        result.cpu["commit and statistics"] = time.process_time() - c1
    finally:
        customers.close()
        if side is not None:
            side.close()


def _audit(load: Loader, seed: int, loans: int, today: date, result: GenerateResult) -> None:
    audit_record(
        load.session,
        actor=SYSTEM,
        action="loan.import",
        object_type="generated-book",
        object_id=f"seed={seed}",
        after={"created": loans, "installments": result.installments, "seed": seed},
        basis=authorize(SYSTEM, "loan.import").as_dict(),
        business_date=today,
    )


def _write_here(
    engine: Engine,
    loans: int,
    seed: int,
    today: date,
    tpls: list[Template],
    result: GenerateResult,
    timings: dict[str, float],
    say: Callable[[str], None],
) -> None:
    """An in-memory SQLite database (and the reference the other paths are tested
    against): every table written by this connection, the big statements in slices
    with customers written between them."""
    with Loader(engine) as load:
        t1 = time.perf_counter()
        load.work_tables(today)
        _work_tables(load, loans, seed, today, tpls, result)
        say(f"planned {loans:,} loans")
        batches = CustomerBatches(seed, result.customers)
        try:
            timings["plan and work tables"] = time.perf_counter() - t1
            say("writing the book")
            t1 = time.perf_counter()
            load.pause(LOADED)
            _book(load, loans, today, batches, timings)
            t2 = time.perf_counter()
            for batch in batches.rest():
                load.insert_customers(batch)
            timings["customers"] += time.perf_counter() - t2
        finally:
            batches.close()
        t2 = time.perf_counter()
        load.check_keys([t for t in LOADED if t not in BY_VALUE])
        load.check_keys(BY_VALUE, by_value=True)
        timings["key check"] = time.perf_counter() - t2
        t2 = time.perf_counter()
        load.advance_sequences(("transactions", "journal_entries"))
        load.resume()
        load.drop_work_tables()
        timings["indexes"] = time.perf_counter() - t2
        result.installments = load.scalar("SELECT count(*) FROM installments")
        result.repayments = load.scalar(
            "SELECT count(*) FROM transactions WHERE kind = 'repayment'"
        )
        _audit(load, seed, loans, today, result)
        timings["write"] = time.perf_counter() - t1
        t1 = time.perf_counter()
    timings["commit and statistics"] = time.perf_counter() - t1


COPY_BLOCK = 2_000
"""Loans per block of COPY text (``_write_copy``): this process computes the next block
while psycopg's writer thread sends the last one."""


def _write_copy(
    engine: Engine,
    loans: int,
    seed: int,
    today: date,
    tpls: list[Template],
    result: GenerateResult,
    timings: dict[str, float],
    say: Callable[[str], None],
) -> None:
    """PostgreSQL: every row computed here from the plan (``demo.copy_rows``) and
    streamed with ``COPY`` straight into the book's tables, ``SLICE`` loans at a time
    (customers written between slices), while the server stores them; the keys, indexes
    and foreign keys are built once at the end, all in the load's one transaction. The
    installments and allocations are built meanwhile by worker processes on connections
    of their own and swapped in at the end (``demo.side_pg``)."""
    parts = _Parts(timings, result.cpu)
    dues: dict[date, list[date]] = {}
    rows = BookRows(loans, today, "loan-book import", CHANNEL, tpls, dues)
    plan = iter_plan(loans, seed, today, tpls, dues, result)
    batches = CustomerBatches(seed, None)
    here = {t: c for t, c in COPY_COLUMNS.items() if t not in BESIDE}
    sides: dict[str, tuple[side_pg.SideTable, side_pg.SideBuild]] = {}
    say("writing the book")
    try:
        for table in BESIDE:
            with parts.part(f"{table}: start its worker"):
                side = side_pg.prepare(engine, table)
                blocks = functools.partial(_blocks, table, loans, seed, today, tpls)
                build = side_pg.SideBuild(
                    engine, side, COPY_COLUMNS[table], blocks, binary=table in COPY_BINARY
                )
                sides[table] = (side, build)
        with Loader(engine) as load:
            t1 = time.perf_counter()
            with parts.part("pause keys and indexes"):
                load.pause(LOADED, unique=True)
                frozen = set(load.truncate(LOADED))
            for lo in range(1, loans + 1, SLICE):
                with parts.part("plan"):
                    part = list(itertools.islice(plan, SLICE))
                    batches.grow(result.customers, final=lo + SLICE > loans)
                for table, columns in here.items():
                    with parts.part(table):
                        copy_blocks(
                            load.raw,
                            table,
                            columns,
                            (
                                rows.block(table, part[i : i + COPY_BLOCK])
                                for i in range(0, len(part), COPY_BLOCK)
                            ),
                            freeze=table in frozen,
                            binary=table in COPY_BINARY,
                        )
                with parts.part("customers"):
                    for batch in batches.ready():
                        load.insert_customers(batch)
            with parts.part("customers"):
                for batch in batches.rest():
                    load.insert_customers(batch)
            with parts.part("keys, indexes and foreign keys"):
                load.resume()
            with parts.part("statistics"):  # while the workers finish
                load.analyse([t for t in LOADED if t not in sides])
            for table in reversed(BESIDE):  # the last started is done first
                side, build = sides[table]
                with parts.part(f"{table}: wait for its worker"):
                    written, computed = build.wait()
                result.cpu[f"{table}: rows computed by a worker"] = computed
                if table == "installments":
                    result.installments = written
                with parts.part(f"{table}: swap in, check its keys"):
                    side_pg.swap_in(load.session.connection(), side)
                load.analysed.add(table)  # by the worker
            with parts.part("sequences"):
                load.advance_sequences(
                    (
                        "installments",
                        "transactions",
                        "allocations",
                        "journal_entries",
                        "journal_lines",
                    )
                )
            result.repayments = rows.repayments
            _audit(load, seed, loans, today, result)
            timings["write"] = time.perf_counter() - t1
            t1, c1 = time.perf_counter(), time.process_time()
        timings["commit and statistics"] = time.perf_counter() - t1
        result.cpu["commit and statistics"] = time.process_time() - c1
    except BaseException:
        for _, build in sides.values():
            with suppress(Exception):  # the load's own error is the one to report; a
                build.discard()  # side table left behind is dropped by the next run
        raise
    finally:
        batches.close()


BESIDE = ("installments", "allocations")
"""The tables built beside the load on PostgreSQL (``demo.side_pg``), one worker each:
the two biggest, the biggest started first."""


def _blocks(
    table: str, loans: int, seed: int, today: date, tpls: list[Template]
) -> Iterator[str | bytes]:
    """The rows of ``table`` for the whole plan, ``COPY_BLOCK`` loans a block: the side
    build's row source (run by its worker, which reads the plan again)."""
    dues: dict[date, list[date]] = {}
    rows = BookRows(loans, today, "loan-book import", CHANNEL, tpls, dues)
    plan = iter_plan(loans, seed, today, tpls, dues, GenerateResult(loans=loans))
    while part := list(itertools.islice(plan, COPY_BLOCK)):
        yield rows.block(table, part)


LOADED = (
    "customers",
    "loans",
    "installments",
    "transactions",
    "allocations",
    "journal_entries",
    "journal_lines",
)
BY_VALUE = ("installments", "allocations")
"""Loaded tables with many rows per foreign-key value: their keys are checked by
distinct value (``Loader.check_keys``)."""
SLICE = 50_000
"""Loans per ``INSERT … SELECT`` of the sliced statements: customers computed in the
meantime are written between two slices."""


def _book(
    load: Loader,
    loans: int,
    today: date,
    batches: CustomerBatches,
    timings: dict[str, float],
) -> None:
    timings["customers"] = 0.0
    params: dict[str, Any] = {"today": load.day(today), "n": loans}
    for name, sql in book_statements():
        t2 = time.perf_counter()
        if SLICED in sql:
            for lo in range(1, loans + 1, SLICE):
                load.execute(sql, {**params, "lo": lo, "hi": lo + SLICE - 1})
                t3 = time.perf_counter()
                for batch in batches.ready():
                    load.insert_customers(batch)
                timings["customers"] += time.perf_counter() - t3
                t2 += time.perf_counter() - t3
        else:
            load.execute(sql, params)
        timings[name] = time.perf_counter() - t2


class _Days(dict[date | None, Any]):
    """Date → value for the driver (``Loader.day``), each converted once."""

    def __init__(self, convert: Callable[[date | None], Any]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, day: date | None) -> Any:
        value = self[day] = self.convert(day)
        return value


SLICED = "g.n BETWEEN :lo AND :hi"
"""In a book statement: run it once per ``SLICE`` loans."""

# what the opening repayment pays on installment t of loan g: the periods it settles in
# full, then part of the next one (interest before principal)
PAID_INTEREST = (
    "CASE WHEN t.period <= g.paid THEN t.interest"
    " WHEN t.period = g.paid + 1 AND g.partial > t.interest THEN t.interest"
    " WHEN t.period = g.paid + 1 THEN g.partial ELSE 0 END"
)
PAID_PRINCIPAL = (
    "CASE WHEN t.period <= g.paid THEN t.principal"
    " WHEN t.period = g.paid + 1 AND g.partial > t.interest THEN g.partial - t.interest"
    " ELSE 0 END"
)


def book_statements() -> Sequence[tuple[str, str]]:
    """The ``INSERT … SELECT`` statements that expand the work tables into the book."""
    memo = "'loan-book import'"
    repay = f"'{CHANNEL}'"
    return (
        (
            "loans",
            "INSERT INTO loans (id, customer_id, product, principal, annual_rate, current_rate,"
            " term_months, method, disbursed_on, outstanding_principal, serviced_from, status,"
            " credit_balance, version, dpd, bucket, risk_class)"
            " SELECT g.loan_id, g.customer_id, p.product, p.principal, p.rate, p.rate, p.term,"
            " p.method, g.start, p.principal - g.paid_principal, :today, 'active', 0, 1, 0,"
            " 'M0', 'normal' FROM gen_loans g JOIN gen_products p ON p.template = g.template"
            " ORDER BY g.n",
        ),
        (
            "installments",
            "INSERT INTO installments (loan_id, period, start_date, due_date, annual_rate,"
            " principal_due, interest_due, principal_paid, interest_paid, status, paid_on,"
            " fee_due, fee_paid, penalty_paid, compound_paid)"
            " SELECT g.loan_id, t.period, d.start_date, d.due_date, t.rate, t.principal,"
            f" t.interest, {PAID_PRINCIPAL}, {PAID_INTEREST},"
            " CASE WHEN t.period <= g.paid THEN 'paid' WHEN d.due_date <= :today THEN 'due'"
            "  ELSE 'pending' END,"
            " CASE WHEN t.period <= g.paid THEN g.pay_on END,"
            " 0, 0, 0, 0"
            " FROM gen_loans g JOIN gen_templates t ON t.template = g.template"
            " JOIN gen_dates d ON d.start = g.start AND d.period = t.period"
            f" WHERE {SLICED} ORDER BY g.n, t.period",
        ),
        (
            "transactions",
            "INSERT INTO transactions (id, loan_id, kind, value_date, booked_on, amount,"
            " channel, reference, status)"
            " SELECT g.n, g.loan_id, 'disbursement', g.start, :today, p.principal, NULL, NULL,"
            " 'posted' FROM gen_loans g JOIN gen_products p ON p.template = g.template"
            " UNION ALL"
            " SELECT :n + g.n, g.loan_id, 'repayment', g.pay_on, :today,"
            f" g.paid_principal + g.paid_interest, {repay}, 'opening-' || g.loan_id, 'posted'"
            " FROM gen_loans g WHERE g.pay_on IS NOT NULL",
        ),
        (
            # what the allocation writes for the opening repayment, straight from the plan
            "allocations",
            "INSERT INTO allocations (transaction_id, loan_id, period, component, amount)"
            " SELECT tid, loan_id, period, component, amount FROM ("
            " SELECT :n + g.n AS tid, g.n, g.loan_id, t.period, c.k, c.component,"
            f"  CASE c.k WHEN 1 THEN {PAID_INTEREST} ELSE {PAID_PRINCIPAL} END AS amount"
            " FROM gen_loans g JOIN gen_templates t"
            "  ON t.template = g.template AND t.period <= g.paid + 1"
            " CROSS JOIN (SELECT 1 AS k, 'interest' AS component"
            "  UNION ALL SELECT 2, 'principal') c"
            f" WHERE g.pay_on IS NOT NULL AND {SLICED}) x WHERE amount > 0"
            " ORDER BY n, period, k",
        ),
        (
            "journal entries",
            "INSERT INTO journal_entries (id, loan_id, transaction_id, kind, entry_date,"
            " booked_on, memo)"
            f" SELECT g.n, g.loan_id, g.n, 'disbursement', g.start, :today, {memo}"
            " FROM gen_loans g UNION ALL"
            " SELECT :n + g.n, g.loan_id, :n + g.n, 'repayment', g.pay_on, :today, NULL"
            " FROM gen_loans g WHERE g.pay_on IS NOT NULL",
        ),
        (
            "journal lines",
            "INSERT INTO journal_lines (entry_id, account, debit, credit)"
            " SELECT e, account, debit, credit FROM ("
            f" SELECT g.n AS e, 1 AS k, '{LOAN_PRINCIPAL}' AS account, p.principal AS debit,"
            "  0 AS credit FROM gen_loans g JOIN gen_products p ON p.template = g.template"
            f" UNION ALL SELECT g.n, 2, '{FUNDING}', 0, p.principal"
            "  FROM gen_loans g JOIN gen_products p ON p.template = g.template"
            f" UNION ALL SELECT :n + g.n, 1, '{clearing(CHANNEL)}',"
            "  g.paid_principal + g.paid_interest, 0 FROM gen_loans g WHERE g.pay_on IS NOT NULL"
            f" UNION ALL SELECT :n + g.n, 2, '{INTEREST_INCOME}', 0, g.paid_interest"
            "  FROM gen_loans g WHERE g.pay_on IS NOT NULL AND g.paid_interest > 0"
            f" UNION ALL SELECT :n + g.n, 3, '{LOAN_PRINCIPAL}', 0, g.paid_principal"
            "  FROM gen_loans g WHERE g.pay_on IS NOT NULL AND g.paid_principal > 0"
            " ) x ORDER BY e, k",
        ),
    )
