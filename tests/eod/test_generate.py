"""``daihou demo generate`` writes what import + posting + recompute would write."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select

from daihou.db.engine import make_engine, transaction
from daihou.db.models import Base
from daihou.demo.generate import generate_book
from daihou.eod.calendar import initialise_business_date
from daihou.ledger.service import trial_balance
from daihou.loans.models import Customer, Installment, Loan
from daihou.payments.models import Allocation, Transaction
from daihou.payments.recompute import recompute_loan, replay_loan
from tests.eod.helpers import eod
from tests.services.snapshots import loan_state

TODAY = date(2026, 3, 31)


def _generated(engine: Engine, loans: int, seed: int = 7) -> list[str]:
    with transaction(engine) as s:
        initialise_business_date(s, TODAY)
    result = generate_book(engine, loans=loans, seed=seed)
    assert result.loans == loans
    with transaction(engine) as s:
        return list(s.scalars(select(Loan.id).order_by(Loan.id)))


def test_generated_book_equals_recompute_of_every_loan(engine: Engine) -> None:
    ids = _generated(engine, 300)
    with transaction(engine) as s:
        before = {loan_id: loan_state(s, loan_id) for loan_id in ids}
        assert trial_balance(s).balanced
        # customers are stored encrypted and read back through the column type
        customer = s.scalars(select(Customer).limit(1)).one()
        assert len(customer.id_number) == 18 and customer.phone.startswith("1")
    with transaction(engine) as s:
        for loan_id in ids:
            recompute_loan(s, loan_id)
    with transaction(engine) as s:
        after = {loan_id: loan_state(s, loan_id) for loan_id in ids}
        # recompute wrote nothing new: no correcting journal entry, same allocations
        assert s.scalar(select(func.count()).select_from(Transaction)) == len(ids) + sum(
            1 for v in before.values() if v["allocations"]
        )
    assert after == before
    # a realistic book: current and delinquent loans, partial payments, pending rows
    statuses = {row[3] for v in before.values() for row in v["installments"]}
    assert statuses == {"paid", "due", "pending"}
    with transaction(engine) as s:
        overdue = s.scalar(
            select(func.count(func.distinct(Installment.loan_id))).where(
                Installment.status == "due", Installment.due_date < TODAY
            )
        )
        partial = s.scalar(
            select(func.count())
            .select_from(Installment)
            .where(Installment.status == "due", Installment.interest_paid > 0)
        )
        assert s.scalar(select(func.count()).select_from(Allocation)) > 0
    assert 10 <= (overdue or 0) <= 60 and (partial or 0) > 0


def test_eod_on_a_generated_book_equals_replay(engine: Engine) -> None:
    ids = _generated(engine, 120, seed=3)
    eod(engine, TODAY + timedelta(days=2))
    now = TODAY + timedelta(days=3)
    with transaction(engine) as s:
        assert trial_balance(s).balanced
        delinquent = 0
        for loan_id in ids:
            loan = s.get(Loan, loan_id)
            assert loan is not None
            result, _ = replay_loan(s, loan, as_of=now)
            cached = s.scalars(
                select(Installment)
                .where(Installment.loan_id == loan_id)
                .order_by(Installment.period)
            ).all()
            assert [(i.penalty_due, i.compound_due, i.penalty_base) for i in cached] == [
                (r.due["penalty"], r.due["compound"], r.penalty_base) for r in result.installments
            ], loan_id
            delinquent += loan.dpd > 0
    assert delinquent > 0


def test_same_seed_same_book_and_empty_book_required(engine: Engine) -> None:
    _generated(engine, 50, seed=9)
    with transaction(engine) as s:
        first = [
            (i.loan_id, i.period, i.due_date, i.principal_due, i.principal_paid)
            for i in s.scalars(
                select(Installment).order_by(Installment.loan_id, Installment.period)
            )
        ]
    with pytest.raises(ValueError, match="already holds loans"):
        generate_book(engine, loans=10, seed=9)
    from daihou.demo.generate import plan_loans, templates

    rows, _, _ = plan_loans(50, 9, TODAY, templates())
    assert [r[1] for r in rows] == sorted({f[0] for f in first})
    assert len(first) > 50


def test_the_plan_of_a_seed_does_not_change() -> None:
    # the plan decides the whole book (every path reads it): its rows for seed 42 are
    # pinned by digest, taken from the plain random.choice/randrange loop it replaced
    import hashlib

    from daihou.demo.generate import GenerateResult, iter_plan, templates

    dues: dict[date, list[date]] = {}
    result = GenerateResult()
    digest = hashlib.sha256()
    for row in iter_plan(3000, 42, TODAY, templates(), dues, result):
        digest.update(repr(row).encode())
    assert digest.hexdigest()[:16] == "1518bf6de1cb6607"
    assert (result.customers, result.delinquent, len(dues)) == (2733, 295, 814)
    assert hashlib.sha256(repr(sorted(dues.items())).encode()).hexdigest()[:12] == "72ff2a859485"


def test_cli_demo_generate_then_eod(tmp_path: Path) -> None:
    from tests.test_cli import run

    db = str(tmp_path / "gen.db")
    out = run("demo", "generate", "--loans", "200", "--db", db, "--seed", "4")
    assert "generated 200 loans" in out
    assert "closed 2026-03-31" in run("eod", "--db", db)
    engine = make_engine(f"sqlite:///{db}")
    with transaction(engine) as s:
        assert trial_balance(s).balanced
        assert s.scalar(select(func.count()).select_from(Loan).where(Loan.dpd > 0))
    engine.dispose()


def _structure(engine: Engine) -> dict[str, tuple[list[str], list[str]]]:
    """Per loaded table: its index names and its foreign keys (as the database has them)."""
    from daihou.demo.generate import LOADED

    found = inspect(engine)
    return {
        table: (
            sorted(i["name"] or "" for i in found.get_indexes(table)),
            sorted(
                f"{fk['constrained_columns']}->{fk['referred_table']}"
                for fk in found.get_foreign_keys(table)
            ),
        )
        for table in LOADED
    }


def _settings(engine: Engine) -> dict[str, object]:
    if engine.dialect.name != "sqlite":
        return {}
    with engine.connect() as c:
        names = ("journal_mode", "foreign_keys", "synchronous", "cache_size", "locking_mode")
        return {n: c.exec_driver_sql(f"PRAGMA {n}").scalar() for n in names}


def test_generated_book_keeps_indexes_keys_and_connection_settings(engine: Engine) -> None:
    # the load drops the secondary indexes (and on PostgreSQL the foreign keys), checks
    # keys once at the end and uses load-time SQLite settings: none of it may remain
    settings = _settings(engine)
    before = _structure(engine)
    assert any(indexes for indexes, _ in before.values())
    _generated(engine, 80, seed=5)
    assert _settings(engine) == settings  # the pool's connections, as before
    assert _structure(engine) == before
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            assert settings["journal_mode"] == "wal" and settings["foreign_keys"] == 1
            assert c.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        else:
            unchecked = c.exec_driver_sql(
                "SELECT conname FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"
                " AND connamespace = current_schema()::regnamespace"
            ).all()
            assert unchecked == []
        assert c.scalar(select(func.count()).select_from(Loan)) == 80


def test_a_broken_key_rolls_the_whole_load_back(engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    from daihou.demo.bulk import ForeignKeyViolation, Loader

    with transaction(engine) as s:
        initialise_business_date(s, TODAY)
    before = _structure(engine)
    with pytest.raises((ForeignKeyViolation, IntegrityError)), Loader(engine) as load:
        load.pause(("customers", "loans"))
        load.execute(
            "INSERT INTO loans (id, customer_id, product, principal, annual_rate,"
            " current_rate, term_months, method, disbursed_on, outstanding_principal,"
            " serviced_from, status, credit_balance, version, dpd, bucket, risk_class)"
            " VALUES ('L1', 'no-such-customer', 'consumer', 100000, 0, 0, 12,"
            " 'equal-installment', :d, 100000, :d, 'active', 0, 1, 0, 'M0', 'normal')",
            {"d": load.day(TODAY)},
        )
        load.check_keys()  # SQLite: keys were not checked row by row
        load.resume()  # PostgreSQL: adding the key back checks every row
    engine.dispose()
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(Loan)) == 0
    assert _structure(engine) == before


@pytest.mark.parametrize(
    ("table", "row"),
    [
        (
            "installments",
            "INSERT INTO installments (id, loan_id, period, start_date, due_date, annual_rate,"
            " principal_due, interest_due, principal_paid, interest_paid, status, fee_due,"
            " fee_paid, penalty_paid, compound_paid) SELECT :first + p, :loan, p, :d, :d, 0,"
            " 100, 0, 0, 0, 'pending', 0, 0, 0, 0 FROM (SELECT 1 AS p UNION ALL SELECT 2) AS x",
        ),
        (
            "allocations",
            "INSERT INTO allocations (id, transaction_id, loan_id, period, component, amount)"
            " SELECT :first + p, :txn, :loan, p, 'principal', 100"
            " FROM (SELECT 1 AS p UNION ALL SELECT 2) AS x",
        ),
    ],
)
def test_a_broken_key_is_caught_by_value(engine: Engine, table: str, row: str) -> None:
    # installments and allocations are checked by distinct key value (many rows per
    # loan), not row by row: a missing parent among good ones is still found, and named
    from sqlalchemy.exc import IntegrityError

    from daihou.demo.bulk import ForeignKeyViolation, Loader
    from daihou.demo.customers import customer_rows

    with transaction(engine) as s:
        initialise_business_date(s, TODAY)
    with pytest.raises((ForeignKeyViolation, IntegrityError)) as caught, Loader(engine) as load:
        load.pause(("customers", "loans", "transactions", table))
        d = load.day(TODAY)
        load.insert_customers(customer_rows(1, 1, 1))  # C00000001
        load.execute(
            "INSERT INTO loans (id, customer_id, product, principal, annual_rate,"
            " current_rate, term_months, method, disbursed_on, outstanding_principal,"
            " serviced_from, status, credit_balance, version, dpd, bucket, risk_class)"
            " SELECT id, 'C00000001', 'consumer', 100000, 0, 0, 12, 'equal-installment', :d,"
            " 100000, :d, 'active', 0, 1, 0, 'M0', 'normal'"
            " FROM (SELECT 'L1' AS id UNION ALL SELECT 'L3') AS x",
            {"d": d},
        )
        load.execute(
            "INSERT INTO transactions (id, loan_id, kind, value_date, booked_on, amount,"
            " status) VALUES (5, 'L1', 'repayment', :d, :d, 100, 'posted')",
            {"d": d},
        )
        # a missing parent between two present ones: loan L2 (installments), transaction
        # 6 (allocations)
        for first, loan, txn in ((10, "L1", 5), (20, "L2", 6), (30, "L3", 5)):
            if table == "allocations":
                loan = "L1"
            load.execute(row, {"first": first, "loan": loan, "txn": txn, "d": d})
        load.check_keys([table], by_value=True)
        load.resume()  # PostgreSQL: adding the keys back checks every row
    if engine.dialect.name == "sqlite":
        assert caught.type is ForeignKeyViolation
        parent = "loans" if table == "installments" else "transactions"
        assert str(caught.value).startswith(f"{table} row ")
        assert f"missing {parent} row" in str(caught.value)
    else:
        assert f'on table "{table}"' in str(caught.value)
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(Loan)) == 0


def test_customers_are_computed_a_bounded_way_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    from daihou.demo import customers

    monkeypatch.setattr(customers, "CUSTOMER_CHUNK", 7)
    batches = customers.CustomerBatches(seed=3, customers=60)
    try:
        assert len(batches.futures) <= customers.CustomerBatches.AHEAD
        taken = []
        for batch in batches.ready():
            taken.append(batch)
            assert len(batches.futures) <= customers.CustomerBatches.AHEAD
        taken += list(batches.rest())
    finally:
        batches.close()
    ids = [row[0] for batch in taken for row in batch]
    assert ids == [f"C{n:08d}" for n in range(1, 61)]
    # the same customers as computed in this process (ciphertexts differ by nonce; the
    # keyed hashes of ID number and phone do not)
    here = customers.customer_rows(3, 1, 7)
    assert [(r[0], *r[-2:]) for r in taken[0]] == [(r[0], *r[-2:]) for r in here]


def _one_by_one(seed: int, first: int, count: int) -> list[tuple[str | None, ...]]:
    """The customers' plaintexts drawn with ``random``'s public calls, one customer at a
    time, as ``synthetic.loan_rows`` draws them."""
    import random

    from daihou.demo.synthetic import EMPLOYERS, GIVEN, REGIONS, SURNAMES, id_number, mobile

    rng = random.Random(f"{seed}:customers:{first}")
    out = []
    for _ in range(count):
        region = rng.choice(list(REGIONS))
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        ident, phone = id_number(rng, region), mobile(rng)
        address = f"{REGIONS[region]}某街道{rng.randrange(1, 300)}号"
        out.append((name, ident, phone, address, rng.choice(EMPLOYERS) or None))
    return out


def test_customers_drawn_a_column_at_a_time_equal_the_one_by_one_draws() -> None:
    # demo.customers draws the fields with Random's internals and the ID number's check
    # digit from tables: the same plaintexts as the public calls, stored encrypted (the
    # import's format, bound to each column) with the same keyed hashes
    from daihou.compliance.privacy.crypto import current_keyring
    from daihou.demo.customers import customer_rows, plain_customers
    from daihou.loans.book import PERSONAL

    expected = _one_by_one(5, 41, 3000)
    assert plain_customers(5, 41, 3000) == expected
    keyring = current_keyring()
    contexts = [f"customers.{name}" for name in PERSONAL]
    rows = customer_rows(5, 41, 300)
    assert len(rows) == 300
    for n, (row, plain) in enumerate(zip(rows, expected, strict=False), 41):
        assert row[0] == f"C{n:08d}"
        assert all(v is None or v.startswith(keyring.active_prefix) for v in row[1:6])
        opened = tuple(
            v if v is None else keyring.decrypt(v, c)
            for v, c in zip(row[1:6], contexts, strict=True)
        )
        assert opened == plain
        assert row[6:] == (
            keyring.blind_index(plain[1], "id_number"),
            keyring.blind_index(plain[2], "phone"),
        )
    assert any(row[5] is None for row in rows) and any(row[5] for row in rows)


def test_customers_built_beside_the_load_as_the_plan_reveals_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite file: one worker process builds the customers table in a scratch file,
    # told the count in pieces; the chunks (and so the customers) are those the writer
    # would insert itself, and a worker that fails says so
    import sqlite3

    from daihou.demo import customers
    from daihou.demo.side import schema_of

    monkeypatch.setattr(customers, "CUSTOMER_CHUNK", 7)
    engine = _sqlite_book(tmp_path / "book.db")
    schema = schema_of(engine, "customers")
    built = customers.CustomerFile(tmp_path / "customers.db", schema, seed=3)
    try:
        built.grow(5)
        built.grow(16)
        built.grow(30, final=True)
        path, _cpu = built.wait()
    finally:
        built.close()
    con = sqlite3.connect(path)
    stored = con.execute("SELECT id, id_number_hash, phone_hash FROM customers ORDER BY id")
    got = [tuple(r) for r in stored]
    indexes = {r[0] for r in con.execute("SELECT sql FROM sqlite_master WHERE type = 'index'")}
    con.close()
    batches = customers.CustomerBatches(seed=3, customers=30)
    try:
        expected = [(r[0], *r[-2:]) for batch in batches.rest() for r in batch]
    finally:
        batches.close()
    assert got == expected and len(got) == 30
    assert indexes - {None} == set(schema[1:])
    broken = customers.CustomerFile(tmp_path / "broken.db", ["CREATE TABLE customers (id)"], 3)
    try:
        broken.grow(3, final=True)
        with pytest.raises(RuntimeError, match="customer worker failed"):
            broken.wait()
    finally:
        broken.close()


def _book_rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row the generator writes, as stored (customers by id and keyed hashes: the
    ciphertexts differ by nonce; no ``created_at``: the clock)."""
    from daihou.demo.generate import LOADED

    out = {}
    with engine.connect() as c:
        for table in LOADED:
            names = [col["name"] for col in inspect(c).get_columns(table)]
            if table == "customers":
                names = ["id", "id_number_hash", "phone_hash"]
            columns = ", ".join(n for n in names if n != "created_at")
            out[table] = [tuple(r) for r in c.exec_driver_sql(f"SELECT {columns} FROM {table}")]
    return out


def _sqlite_book(path: Path) -> Engine:
    # the side-file path exists on SQLite files only, so these tests are not run per
    # backend (under CI a skipped PostgreSQL case counts as a failure)
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    return engine


def test_tables_built_beside_the_load_equal_those_built_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite files: installments and allocations are built by worker processes in
    # scratch files and copied in (demo.side); in memory or on PostgreSQL the load's
    # own connection writes them. Same seed, same book, row for row and id for id.
    from daihou.demo import generate

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    engine = _sqlite_book(tmp_path / "a" / "book.db")
    other_engine = _sqlite_book(tmp_path / "b" / "book.db")
    _generated(engine, 150, seed=11)
    beside = _book_rows(engine)
    monkeypatch.setattr(generate, "book_file", lambda _engine: None)
    _generated(other_engine, 150, seed=11)
    here = _book_rows(other_engine)
    assert beside.keys() == here.keys()
    for table in beside:
        assert beside[table] == here[table], table
    assert len(beside["installments"]) > 150 and beside["allocations"]
    # the scratch files are gone
    folder = Path(engine.url.database or "").parent
    assert list(folder.glob(".daihou-generate-*")) == []


def test_side_tables_are_copied_by_transfer(tmp_path: Path) -> None:
    # the copy is cheap only if SQLite can move stored records and index entries as they
    # are, which needs the very same table and indexes on both sides: ``RowData`` is the
    # opcode of that transfer (the row-by-row fallback decodes columns instead)
    import sqlite3

    engine = _sqlite_book(tmp_path / "book.db")

    from daihou.demo.generate import SIDE
    from daihou.demo.side import schema_of

    for table in (*(t for t, _ in SIDE), "customers"):
        side = sqlite3.connect(tmp_path / f"{table}.db")
        for statement in schema_of(engine, table):
            side.execute(statement)
        side.close()
        book = sqlite3.connect(engine.url.database or "")
        book.execute("PRAGMA foreign_keys = OFF")  # as in the load (demo.bulk.SQLITE_LOAD)
        book.execute(f"ATTACH DATABASE '{tmp_path / table}.db' AS side")
        plan = book.execute(f"EXPLAIN INSERT INTO {table} SELECT * FROM side.{table}")
        ops = {row[1] for row in plan}
        book.close()
        assert "RowData" in ops, table


def test_side_indexes_built_first_get_their_keys_in_order(tmp_path: Path) -> None:
    # the side workers create these indexes before the insert because the statements
    # write their keys in order (appended, not sorted); a book whose rows, in insert
    # order, are not in the index's order would make that the slow way round
    import sqlite3

    from daihou.demo.generate import IN_ORDER
    from daihou.demo.side import build, index_name, schema_of

    engine = _sqlite_book(tmp_path / "book.db")
    _generated(engine, 120, seed=5)
    book = sqlite3.connect(engine.url.database or "")
    try:
        for table, names in IN_ORDER.items():
            for name in names:
                columns = [r[2] for r in book.execute(f"PRAGMA index_info({name})")]
                where = book.execute(
                    "SELECT sql FROM sqlite_master WHERE name = ?", (name,)
                ).fetchone()[0]
                cond = where.split(" WHERE ", 1)[1] if " WHERE " in where else "1"
                keys = book.execute(
                    f"SELECT {', '.join(columns)} FROM {table} WHERE {cond} ORDER BY rowid"
                ).fetchall()
                assert len(keys) > 10, name
                assert keys == sorted(keys), name
        schema = schema_of(engine, "allocations")
        assert {index_name(s) for s in schema[1:]} >= set(IN_ORDER["allocations"])
    finally:
        book.close()
    with pytest.raises(ValueError, match="ix_nowhere"):
        build("w.db", str(tmp_path / "x.db"), schema, "SELECT 1", {}, first=("ix_nowhere",))


def test_index_builds_sort_in_files_then_the_load_settings_return(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite file (no temporary tables on the load's connection): the indexes are
    # rebuilt with small sorter runs in temporary files, then the load's own settings
    # (1 GB page cache, temporary storage in memory) are back for what follows
    from daihou.demo.bulk import SQLITE_LOAD, SQLITE_SORT, Loader
    from daihou.loans.book import _Writer

    engine = _sqlite_book(tmp_path / "book.db")
    before = _structure(engine)
    seen: list[tuple[int, int]] = []
    rebuild = _Writer.restore_indexes

    def watched(writer: _Writer, statements: list[str]) -> None:
        seen.append(pragmas())
        rebuild(writer, statements)

    monkeypatch.setattr(_Writer, "restore_indexes", watched)
    with Loader(engine) as load:

        def pragmas() -> tuple[int, int]:
            return tuple(  # type: ignore[return-value]
                load.raw.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("cache_size", "temp_store")
            )

        load.pause(("loans",))
        load.resume(sort_in_files=True)
        after = pragmas()
    assert seen == [(int(dict(SQLITE_SORT)["cache_size"]), 1)]  # 1: FILE
    assert after == (int(dict(SQLITE_LOAD)["cache_size"]), 2)  # 2: MEMORY
    assert _structure(engine) == before


def _typed_rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row the generator writes, read through the model's column types (the same
    values on both engines), by primary key; customers by id and keyed hashes (the
    ciphertexts differ by nonce), no ``created_at`` (the clock)."""
    from daihou.demo.generate import LOADED

    out = {}
    with engine.connect() as c:
        for name in LOADED:
            table = Base.metadata.tables[name]
            columns = [col for col in table.columns if col.name != "created_at"]
            if name == "customers":
                columns = [table.c.id, table.c.id_number_hash, table.c.phone_hash]
            query = select(*columns).order_by(*table.primary_key.columns)
            out[name] = [tuple(r) for r in c.execute(query)]
    return out


def test_generated_book_equals_the_statements_book(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # on PostgreSQL the rows are computed here and copied in (demo.copy_rows), on a
    # SQLite file built beside the load (demo.side); either way the same book, row for
    # row and id for id, as the INSERT … SELECT statements write in the load's own
    # SQLite connection — and the next id follows the last one written
    from daihou.demo import generate
    from daihou.demo.generate import LOADED

    _generated(engine, 260, seed=13)
    mine = _typed_rows(engine)
    reference = _sqlite_book(tmp_path / "reference.db")
    monkeypatch.setattr(generate, "book_file", lambda _engine: None)
    _generated(reference, 260, seed=13)
    theirs = _typed_rows(reference)
    reference.dispose()
    for table in LOADED:
        assert mine[table] == theirs[table], table
    assert len(mine["installments"]) > 260 and mine["allocations"]
    with transaction(engine) as s:
        loan = s.scalars(select(Loan).limit(1)).one()
        txn = Transaction(
            loan_id=loan.id,
            kind="repayment",
            value_date=TODAY,
            booked_on=TODAY,
            amount=1,
            status="posted",
        )
        s.add(txn)
        s.flush()
        assert txn.id == max(r[0] for r in mine["transactions"]) + 1


def test_a_duplicate_key_rolls_the_whole_load_back(engine: Engine) -> None:
    # PostgreSQL pauses the unique keys of the tables nothing refers to (installments
    # …) and empties them with TRUNCATE to load them frozen: a duplicate is caught when
    # the key is built at the end (on SQLite, at the insert), and the rollback brings
    # back every key, index and foreign key, and no row
    from sqlalchemy.exc import IntegrityError

    from daihou.demo.bulk import Loader
    from daihou.demo.generate import LOADED

    with transaction(engine) as s:
        initialise_business_date(s, TODAY)
    before = _structure(engine)
    row = (
        "INSERT INTO installments (id, loan_id, period, start_date, due_date, annual_rate,"
        " principal_due, interest_due, principal_paid, interest_paid, status, fee_due,"
        " fee_paid, penalty_paid, compound_paid) VALUES (7, 'L1', :p, :d, :d, 0, 100, 0, 0,"
        " 0, 'pending', 0, 0, 0, 0)"
    )
    with pytest.raises(IntegrityError), Loader(engine) as load:
        load.pause(LOADED, unique=True)
        truncated = load.truncate(LOADED)
        assert ("installments" in truncated) == (engine.dialect.name == "postgresql")
        for period in (1, 2):  # the same id twice
            load.execute(row, {"p": period, "d": load.day(TODAY)})
        load.resume()
    engine.dispose()
    assert _structure(engine) == before
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(Installment)) == 0
        if engine.dialect.name == "postgresql":
            keys = c.exec_driver_sql(
                "SELECT count(*) FROM pg_constraint WHERE contype = 'p'"
                " AND conrelid = 'installments'::regclass"
            ).scalar()
            assert keys == 1
