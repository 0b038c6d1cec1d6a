"""Import a loan book: validate the whole file, then write it in one transaction.

The write is the fast path for 100k+ loans: no ORM object per row. Rows are built as
tuples of integers (fen, 1e-10 rate units — the storage rules of ``daihou.db.types``)
and dates (ISO text on SQLite, as SQLAlchemy stores a ``Date`` there), then written
with ``executemany`` on SQLite and binary ``COPY`` on PostgreSQL, 5,000 loans at a
time. Customer personal data is encrypted and hashed here, as ``EncryptedString`` and
the ORM hooks would (``_Personal``). Changing terms of existing loans (``--update``,
rare) uses Core statements on the mapped tables, whose column types convert as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    Engine,
    Integer,
    String,
    Table,
    TypeDecorator,
    bindparam,
    delete,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError

from daihou.auth.actor import SYSTEM, Actor
from daihou.auth.permissions import authorize
from daihou.compliance.audit.service import record as audit_record
from daihou.compliance.privacy.crypto import EncryptedString, current_keyring
from daihou.compliance.privacy.models import BLIND_INDEXES
from daihou.db.engine import transaction
from daihou.db.models import Base
from daihou.db.types import RATE_SCALE
from daihou.eod.calendar import business_date, ensure_open
from daihou.kernel.floating import repricing_dates
from daihou.ledger.accounts import FUNDING, LOAN_PRINCIPAL
from daihou.ledger.models import JournalEntry
from daihou.loans.import_file import ImportRejected, read_rows
from daihou.loans.importer import TERM_FIELDS, ExistingLoan, LoanRow, check_rows, parse_rows
from daihou.loans.models import Customer, Installment, InstallmentAccrual, Loan
from daihou.payments.models import Transaction
from daihou.policy.loader import load_pack
from daihou.policy.schema import PolicyPack

CHUNK = 5_000
LOOKUP_CHUNK = 1_000
PAUSE_INDEXES_FROM = 50_000
"""The non-unique indexes of ``installments`` are dropped and rebuilt when at least
this many rows go in and the table holds fewer already (``_Writer.pause_indexes``)."""
MEMO = "loan-book import"

_customers: Table = Customer.__table__  # type: ignore[assignment]
_loans: Table = Loan.__table__  # type: ignore[assignment]
_installments: Table = Installment.__table__  # type: ignore[assignment]
_accruals: Table = InstallmentAccrual.__table__  # type: ignore[assignment]
_transactions: Table = Transaction.__table__  # type: ignore[assignment]
_entries: Table = JournalEntry.__table__  # type: ignore[assignment]

PERSONAL = ("name", "id_number", "phone", "address", "employer")
LOAN_COLUMNS = tuple(
    [
        "id",
        "customer_id",
        "product",
        "principal",
        "annual_rate",
        "current_rate",
        "term_months",
        "method",
        "disbursed_on",
        "first_due_on",
        "repayment_day",
        "outstanding_principal",
        "serviced_from",
        "spread_bps",
    ]
)
LOAN_FIXED = (("status", "active"), ("credit_balance", 0), ("version", 1))
INSTALLMENT_COLUMNS = tuple(
    [
        "loan_id",
        "period",
        "start_date",
        "due_date",
        "annual_rate",
        "principal_due",
        "interest_due",
        "status",
    ]
)
INSTALLMENT_FIXED = tuple(
    (name, 0)
    for name in [
        "fee_due",
        "principal_paid",
        "interest_paid",
        "fee_paid",
        "penalty_paid",
        "compound_paid",
    ]
)
TRANSACTION_COLUMNS = ("id", "loan_id", "value_date", "amount")
TERM_COLUMNS = TERM_FIELDS
ENTRY_COLUMNS = ("id", "loan_id", "transaction_id", "kind", "entry_date", "memo")
LINE_COLUMNS = ("entry_id", "account", "debit", "credit")


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int
    rows: int
    installments: int = 0  # installment rows written (new loans and regenerated ones)


def import_loans(
    *,
    engine: Engine,
    path: Path,
    update: bool = False,
    pack: PolicyPack | None = None,
    progress: Callable[[int, int], None] | None = None,
    actor: Actor = SYSTEM,
) -> ImportResult:
    """Import ``path`` (CSV or XLSX) into the loan book, all or nothing.

    Raises ``ImportRejected`` listing every bad row and field when anything is wrong;
    then nothing is written. ``progress(done, total)`` is called as work advances,
    with ``total`` = 2 × rows: checking the rows is the first half, writing the second.

    Concurrency: the database part (lookups of existing loans and customers, checks
    against them, writes) is one transaction that takes the write lock first —
    ``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL existing loans are read ``FOR UPDATE``
    under ``update`` — so what was checked is what gets written. Two imports of the
    same new loan id at once: the second fails on the primary key and writes nothing.
    """
    basis = authorize(actor, "loan.import")
    pack = pack or load_pack()
    current_keyring()  # no data key configured: say so before the long part
    source = read_rows(path)
    total = 2 * len(source)

    def step(done: int) -> None:
        if progress is not None:
            progress(done, total)

    with transaction(engine) as session:
        first_date = business_date(session)
    # Row checks and schedules are pure and the heavy part: done before the write
    # transaction opens (in worker processes for big files). The business date only
    # moves forward, so a disbursement date accepted against it stays acceptable.
    loans, errors = parse_rows(source, pack=pack, business_date=first_date, progress=step)
    with transaction(engine) as session:
        conn = session.connection()
        _write_lock(conn)
        today = ensure_open(session)  # refused while end of day runs
        loan_ids = [r.values["loan_id"] for r in source if r.values["loan_id"]]
        customer_ids = [r.values["customer_id"] for r in source if r.values["customer_id"]]
        existing_loans = load_existing_loans(conn, loan_ids, lock=update)
        existing_customers = load_existing_customers(conn, customer_ids)
        errors += check_rows(
            source,
            loans,
            existing_loans=existing_loans,
            existing_customers=existing_customers,
            update=update,
        )
        if errors:
            raise ImportRejected(errors)
        result = write_book(
            conn,
            loans,
            business_date=today,
            existing_loans=existing_loans,
            existing_customers=existing_customers,
            progress=lambda done: step(len(source) + done),
        )
        # floating-rate loans disbursed before an LPR repricing: replay them so the
        # schedule carries the repricings (and their rate changes are recorded)
        from daihou.payments.recompute import recompute_loan

        for loan in loans:
            if needs_replay(loan, pack, today, new=loan.loan_id not in existing_loans):
                recompute_loan(session, loan.loan_id, pack=pack)
        audit_record(
            session,
            actor=actor,
            action="loan.import",
            object_type="file",
            object_id=path.name,
            after={"created": result.created, "updated": result.updated, "rows": len(source)},
            basis=basis.as_dict(),
            document=path.read_bytes(),
            business_date=today,
        )
    return ImportResult(
        result.created, result.updated, result.unchanged, len(source), result.installments
    )


def needs_replay(loan: LoanRow, pack: PolicyPack, today: date, *, new: bool) -> bool:
    """A floating-rate loan is replayed after the import unless it is new and no
    repricing date falls between its disbursement and ``today``: then the replay has
    no rate change to apply and would write exactly what ``write_book`` wrote (a
    mortgage's 360 installments compared for nothing)."""
    if loan.spread_bps is None:
        return False
    floating = pack.product(loan.product).floating
    if not new or floating is None:
        return True
    return bool(
        repricing_dates(disbursed_on=loan.disbursed_on, repricing=floating.repricing, until=today)
    )


def _write_lock(conn: Connection) -> None:
    """On SQLite, take the database write lock now (WAL readers are not blocked).

    pysqlite opens a transaction only at the first write, so without this the lookups
    would run outside it and the ids read with ``max(id)`` could race another writer.
    """
    if conn.dialect.name == "sqlite":
        raw: Any = conn.connection.dbapi_connection
        if not raw.in_transaction:
            raw.execute("BEGIN IMMEDIATE")


# --------------------------------------------------------------------------- lookups


def _batches(values: Sequence[str]) -> list[list[str]]:
    unique = sorted(set(values))
    return [unique[i : i + LOOKUP_CHUNK] for i in range(0, len(unique), LOOKUP_CHUNK)]


def _is_empty(conn: Connection, table: Table) -> bool:
    return conn.execute(select(table.c.id).limit(1)).first() is None


def load_existing_loans(
    conn: Connection, loan_ids: Sequence[str], *, lock: bool = False
) -> dict[str, ExistingLoan]:
    """The loans among ``loan_ids`` already in the database (``FOR UPDATE`` if ``lock``)."""
    found: dict[str, ExistingLoan] = {}
    if not loan_ids or _is_empty(conn, _loans):
        return found
    c, t = _loans.c, _transactions.c
    term_columns = (
        c.product,
        c.principal,
        c.annual_rate,
        c.term_months,
        c.method,
        c.disbursed_on,
        c.first_due_on,
        c.repayment_day,
        c.spread_bps,
    )
    for batch in _batches(loan_ids):
        query = select(c.id, c.customer_id, *term_columns).where(c.id.in_(batch))
        rows = conn.execute(query.with_for_update() if lock else query).all()
        if not rows:
            continue
        repaid = conn.execute(
            select(t.loan_id)
            .where(t.loan_id.in_([r.id for r in rows]), t.kind != "disbursement")
            .distinct()
        )
        paid = set(repaid.scalars())
        for r in rows:
            terms = tuple(r[2:])
            found[r.id] = ExistingLoan(r.customer_id, terms, r.principal, r.id in paid)
    return found


def load_existing_customers(
    conn: Connection, customer_ids: Sequence[str]
) -> dict[str, dict[str, str | None]]:
    """Personal data of the customers among ``customer_ids`` already in the database."""
    found: dict[str, dict[str, str | None]] = {}
    if not customer_ids or _is_empty(conn, _customers):
        return found
    c = _customers.c
    for batch in _batches(customer_ids):
        query = select(c.id, c.name, c.id_number, c.phone, c.address, c.employer)
        for r in conn.execute(query.where(c.id.in_(batch))):
            found[r.id] = dict(
                zip(("name", "id_number", "phone", "address", "employer"), r[1:], strict=True)
            )
    return found


# --------------------------------------------------------------------------- bulk writer


def _pg_type(table: str, column: str) -> str:
    """The PostgreSQL type name of a mapped column, for binary ``COPY``."""
    kind = Base.metadata.tables[table].c[column].type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, BigInteger):
        return "int8"
    if isinstance(kind, Integer):
        return "int4"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, String):
        return "text"
    raise TypeError(f"{table}.{column}: no binary COPY type for {kind!r}")


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


class _Writer:
    """Bulk inserts and id allocation on the connection's own DBAPI connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.raw: Any = conn.connection.dbapi_connection
        self._sequences: dict[str, str] = {}

    def day(self, value: date | None) -> date | str | None:
        """A date as the driver wants it: ISO text on SQLite (how SQLAlchemy stores a
        ``Date`` there), a ``date`` for PostgreSQL's binary ``COPY``."""
        if value is None or self.postgres:
            return value
        return value.isoformat()

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        fixed: Sequence[tuple[str, object]] = (),
    ) -> None:
        """Insert ``rows``; ``fixed`` columns have the same value on every row (SQL
        literals on SQLite, so fewer parameters to bind; appended to each COPY row)."""
        if not rows:
            return
        names = [*columns, *(name for name, _ in fixed)]
        cursor = self.raw.cursor()
        try:
            if self.postgres:
                # Binary COPY: the server skips text parsing (~20% faster here).
                tail = tuple(value for _, value in fixed)
                statement = f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
                with cursor.copy(statement) as copy:
                    copy.set_types([_pg_type(table, name) for name in names])
                    write = copy.write_row
                    for row in rows:
                        write(row + tail)
            else:
                marks = ", ".join(["?"] * len(columns) + [_literal(v) for _, v in fixed])
                statement = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
                cursor.executemany(statement, rows)
        finally:
            cursor.close()

    def allocate(self, table: str, count: int) -> Sequence[int]:
        """``count`` ids for ``table`` that no concurrent writer can take.

        PostgreSQL: ``nextval`` of the column's own sequence, ``count`` times in one
        statement. Sequences hand each value out once under any concurrency, so the ids
        are ours even while other sessions insert (they need not be contiguous).
        SQLite: ``max(id) + 1 …``, safe because this transaction holds the database
        write lock (``BEGIN IMMEDIATE``) until it commits. Either way one round trip,
        and no ``RETURNING`` per row is needed to link journal lines to their entries.
        """
        if count == 0:
            return []
        if self.postgres:
            sequence = self._sequences.get(table)
            if sequence is None:
                query = text("SELECT pg_get_serial_sequence(:t, 'id')")
                sequence = self.conn.execute(query, {"t": table}).scalar_one()
                self._sequences[table] = sequence
            query = text("SELECT nextval(CAST(:s AS regclass)) FROM generate_series(1, :n)")
            return list(self.conn.execute(query, {"s": sequence, "n": count}).scalars())
        start = self.conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
        return range(int(start) + 1, int(start) + 1 + count)

    def pause_indexes(self, table: str, incoming: int) -> list[str]:
        """Drop ``table``'s non-unique indexes before a load that at least doubles it;
        returns the SQL that recreates them exactly (``sqlite_master`` /
        ``pg_get_indexdef``). Building an index once is 2–3× cheaper than inserting
        2 million keys at random positions into it.

        All inside the import's transaction, so a rollback restores them. SQLite (WAL):
        readers keep seeing the old state. PostgreSQL: ``DROP INDEX`` locks the table
        until commit, which only happens on a first load or migration; when the
        database user may not drop indexes (not the owner), the load just keeps them.
        """
        if incoming < PAUSE_INDEXES_FROM:
            return []
        bounded = text(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT :n) AS held")
        if self.conn.execute(bounded, {"n": incoming}).scalar_one() >= incoming:
            return []
        if self.postgres:
            query = text(
                "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index x "
                "JOIN pg_class c ON c.oid = x.indexrelid "
                "WHERE x.indrelid = CAST(:t AS regclass) AND NOT x.indisunique"
            )
        else:
            query = text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
                "AND sql IS NOT NULL AND upper(sql) NOT LIKE 'CREATE UNIQUE%'"
            )
        indexes = self.conn.execute(query, {"t": table}).all()
        if not indexes:
            return []
        if self.postgres:
            try:
                with self.conn.begin_nested():
                    for name, _ in indexes:
                        self.conn.execute(text(f'DROP INDEX "{name}"'))
            except DBAPIError:
                return []
        else:
            for name, _ in indexes:
                self.conn.execute(text(f'DROP INDEX "{name}"'))
        return [sql for _, sql in indexes]

    def restore_indexes(self, statements: Sequence[str]) -> None:
        for sql in statements:
            self.conn.execute(text(sql))


class _Days(dict[int, Any]):
    """Date ordinal → value for the driver (``_Writer.day``); a book has a few
    thousand distinct dates, so each is converted once."""

    def __init__(self, writer: _Writer) -> None:
        super().__init__()
        self.writer = writer

    def __missing__(self, ordinal: int) -> Any:
        value = self.writer.day(date.fromordinal(ordinal))
        self[ordinal] = value
        return value


def _fen(amount: Decimal) -> int:
    return int(amount.scaleb(2))  # exact: amounts were checked to have two decimals


def _units(rate: Decimal) -> int:
    return int(rate * RATE_SCALE)  # exact: rates were checked to fit 1e-10 units


# --------------------------------------------------------------------------- write_book


def write_book(
    conn: Connection,
    loans: Sequence[LoanRow],
    *,
    business_date: date,
    existing_loans: Mapping[str, ExistingLoan] | None = None,
    existing_customers: Mapping[str, Mapping[str, str | None]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Write validated rows inside the caller's transaction (``check_rows`` passed).

    New loans: customer (if new), loan, installments, one disbursement transaction and
    one journal entry (debit ``loan_principal``, credit ``funding``). Existing loans
    whose terms changed: terms updated, installments regenerated, and a
    ``disbursement-adjustment`` entry for the principal difference — posted rows are
    never modified. Customers are updated where the file changes their data.
    """
    existing_loans = existing_loans or {}
    existing_customers = existing_customers or {}
    writer = _Writer(conn)
    dates = _Days(writer)
    today = writer.day(business_date)
    due_until = business_date.toordinal()

    new_loans: list[LoanRow] = []
    changed_loans: list[LoanRow] = []
    new_customers: dict[str, dict[str, str | None]] = {}
    changed_customers: dict[str, dict[str, str | None]] = {}
    for loan in loans:
        old = existing_loans.get(loan.loan_id)
        if old is None:
            new_loans.append(loan)
        elif loan.terms != old.terms:
            changed_loans.append(loan)
        stored = existing_customers.get(loan.customer_id)
        if stored is None:
            # Rows of one customer agree on name, ID number and phone (checked); an
            # address or employer given on any of them is kept.
            data = new_customers.setdefault(loan.customer_id, loan.personal)
            for name, value in loan.personal.items():
                if data[name] is None:
                    data[name] = value
            continue
        merged = {**stored, **{k: v for k, v in loan.personal.items() if v is not None}}
        if merged != stored:
            changed_customers.setdefault(loan.customer_id, merged)
    # Key order makes the (loan_id, period) index an append, not random inserts.
    new_loans.sort(key=attrgetter("loan_id"))
    changed_ids = {loan.loan_id for loan in changed_loans}
    updated = sum(
        1
        for loan in loans
        if loan.loan_id in existing_loans
        and (loan.loan_id in changed_ids or loan.customer_id in changed_customers)
    )

    if new_customers or changed_customers:
        personal = _Personal()
        customer_rows = [personal.row(cid, data) for cid, data in new_customers.items()]
        for i in range(0, len(customer_rows), CHUNK):
            writer.insert("customers", personal.columns, customer_rows[i : i + CHUNK])
        personal.update(conn, changed_customers)

    def installment_rows(chunk: Sequence[LoanRow]) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        append = out.append
        for loan in chunk:
            loan_id = loan.loan_id
            it = iter(loan.schedule)
            for period, start, due, principal, interest, rate in zip(
                it, it, it, it, it, it, strict=True
            ):
                status = "due" if due <= due_until else "pending"
                append(
                    (loan_id, period, dates[start], dates[due], rate, principal, interest, status)
                )
        return out

    incoming = sum(len(loan.schedule) // 6 for loan in new_loans + changed_loans)
    paused = writer.pause_indexes("installments", incoming)
    written = 0
    for i in range(0, len(new_loans), CHUNK):
        chunk = new_loans[i : i + CHUNK]
        fen = [_fen(loan.principal) for loan in chunk]
        loan_rows = [
            (
                loan.loan_id,
                loan.customer_id,
                loan.product,
                amount,
                _units(loan.annual_rate),
                _units(loan.annual_rate),
                loan.term_months,
                loan.method,
                writer.day(loan.disbursed_on),
                writer.day(loan.first_due_on),
                loan.repayment_day,
                amount,
                writer.day(business_date),
                loan.spread_bps,
            )
            for loan, amount in zip(chunk, fen, strict=True)
        ]
        writer.insert("loans", LOAN_COLUMNS, loan_rows, LOAN_FIXED)
        writer.insert(
            "installments", INSTALLMENT_COLUMNS, installment_rows(chunk), INSTALLMENT_FIXED
        )
        txn_ids = writer.allocate("transactions", len(chunk))
        writer.insert(
            "transactions",
            TRANSACTION_COLUMNS,
            [
                (tid, loan.loan_id, writer.day(loan.disbursed_on), amount)
                for tid, loan, amount in zip(txn_ids, chunk, fen, strict=True)
            ],
            (("kind", "disbursement"), ("booked_on", today), ("status", "posted")),
        )
        entry_ids = writer.allocate("journal_entries", len(chunk))
        writer.insert(
            "journal_entries",
            ENTRY_COLUMNS,
            [
                (eid, loan.loan_id, tid, "disbursement", writer.day(loan.disbursed_on), MEMO)
                for eid, tid, loan in zip(entry_ids, txn_ids, chunk, strict=True)
            ],
            (("booked_on", today),),
        )
        writer.insert(
            "journal_lines",
            LINE_COLUMNS,
            [
                line
                for eid, amount in zip(entry_ids, fen, strict=True)
                for line in ((eid, LOAN_PRINCIPAL, amount, 0), (eid, FUNDING, 0, amount))
            ],
        )
        written += len(chunk)
        if progress is not None:
            progress(written)

    for i in range(0, len(changed_loans), CHUNK):
        chunk = changed_loans[i : i + CHUNK]
        _update_terms(conn, chunk)
        writer.insert(
            "installments", INSTALLMENT_COLUMNS, installment_rows(chunk), INSTALLMENT_FIXED
        )
        _post_adjustments(writer, chunk, existing_loans, today)
    writer.restore_indexes(paused)
    if progress is not None:
        progress(len(loans))
    return ImportResult(
        created=len(new_loans),
        updated=updated,
        unchanged=len(loans) - len(new_loans) - updated,
        rows=len(loans),
        installments=incoming,
    )


class _Personal:
    """Customer personal data as stored: encrypted where the column is encrypted
    (``EncryptedString``: AES-GCM, bound to the column), plus the keyed hashes that
    search uses (``BLIND_INDEXES``). Raw bulk writes bypass the column type and the
    ORM hooks, so both are applied here, with the keyring's bulk encryptors."""

    def __init__(self) -> None:
        self.keyring = current_keyring()
        self.seal: dict[str, Callable[[str | None], str | None]] = {}
        self.contexts: list[tuple[str, str | None]] = []
        """(column, encryption context or None when stored as is), in ``PERSONAL``
        order: for writers that encrypt a column at a time."""
        for name in PERSONAL:
            kind = _customers.c[name].type
            if isinstance(kind, EncryptedString):
                self.seal[name] = self.keyring.encryptor(kind.context)
                self.contexts.append((name, kind.context))
            else:
                self.seal[name] = _same
                self.contexts.append((name, None))
        self.hashed = [
            (name, column)
            for (table, name), column in BLIND_INDEXES.items()
            if table == _customers.name
        ]
        self.columns = ("id", *PERSONAL, *(column for _, column in self.hashed))

    def row(self, customer_id: str, data: Mapping[str, str | None]) -> tuple[str | None, ...]:
        sealed = [self.seal[name](data[name]) for name in PERSONAL]
        hashes = [self.keyring.blind_index(data[name], name) for name, _ in self.hashed]
        return (customer_id, *sealed, *hashes)

    def update(self, conn: Connection, changed: Mapping[str, Mapping[str, str | None]]) -> None:
        if not changed:
            return
        names = self.columns[1:]
        statement = text(
            f"UPDATE {_customers.name} SET {', '.join(f'{n} = :{n}' for n in names)} WHERE id = :id"
        )
        rows = [self.row(cid, data) for cid, data in changed.items()]
        conn.execute(statement, [dict(zip(self.columns, r, strict=True)) for r in rows])


def _same(value: str | None) -> str | None:
    return value


def _update_terms(conn: Connection, loans: Sequence[LoanRow]) -> None:
    """New terms on the loan row and the version bumped (optimistic locking); the old
    installments go, as they are a cache of the terms — a loan with repayments, whose
    installments carry paid amounts, never gets here."""
    c = _loans.c
    fields = (*TERM_COLUMNS, "current_rate", "outstanding_principal")
    statement = (
        update(_loans)
        .where(c.id == bindparam("b_id"))
        .values({**{name: bindparam(f"b_{name}") for name in fields}, "version": c.version + 1})
    )
    params = []
    for loan in loans:
        values = dict(zip(TERM_COLUMNS, loan.terms, strict=True))
        values |= {"current_rate": loan.annual_rate, "outstanding_principal": loan.principal}
        params.append({"b_id": loan.loan_id, **{f"b_{k}": v for k, v in values.items()}})
    conn.execute(statement, params)
    ids = [loan.loan_id for loan in loans]
    schedule = select(_installments.c.id).where(_installments.c.loan_id.in_(ids))
    conn.execute(delete(_accruals).where(_accruals.c.installment_id.in_(schedule)))
    conn.execute(delete(_installments).where(_installments.c.loan_id.in_(ids)))


def _post_adjustments(
    writer: _Writer, loans: Sequence[LoanRow], existing: Mapping[str, ExistingLoan], today: Any
) -> None:
    """One ``disbursement-adjustment`` entry per loan whose principal changed: more
    principal debits ``loan_principal`` and credits ``funding``; less, the reverse."""
    moved = [(loan, existing[loan.loan_id].principal) for loan in loans]
    moved = [(loan, old) for loan, old in moved if loan.principal != old]
    entry_ids = writer.allocate("journal_entries", len(moved))
    entries: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    for eid, (loan, old) in zip(entry_ids, moved, strict=True):
        memo = f"import --update: principal {old:f} → {loan.principal:f}"
        entries.append(
            (
                eid,
                loan.loan_id,
                None,
                "disbursement-adjustment",
                writer.day(loan.disbursed_on),
                memo,
            )
        )
        fen = _fen(abs(loan.principal - old))
        up, down = (LOAN_PRINCIPAL, FUNDING) if loan.principal > old else (FUNDING, LOAN_PRINCIPAL)
        lines += [(eid, up, fen, 0), (eid, down, 0, fen)]
    writer.insert("journal_entries", ENTRY_COLUMNS, entries, (("booked_on", today),))
    writer.insert("journal_lines", LINE_COLUMNS, lines)
