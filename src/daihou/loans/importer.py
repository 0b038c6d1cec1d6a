"""Read and validate a loan-book file (存量贷款导入) before anything is written.

Every row is checked and every problem is collected as a ``RowError``
(``daihou.loans.import_file``, which also reads the file), so one
rejection tells the user everything to fix. Personal data (ID numbers, phones) is
never echoed in a message: rejection reports end up in logs and on screens.

Checks are split in two: ``parse_rows`` looks at each row on its own (pure, so it can
run in worker processes; it also generates the schedule, because a row whose schedule
cannot be built is a bad row), and ``check_rows`` looks across rows and at what the
database already holds. ``validate_rows`` does both. Writing is ``daihou.loans.book``.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from daihou.compliance.privacy.crypto import EncryptedString, plaintext_capacity
from daihou.db.types import RATE_SCALE
from daihou.kernel.dates import add_months
from daihou.kernel.money import rounding_mode, to_money
from daihou.kernel.rates import parse_rate
from daihou.kernel.schedule import ScheduleTerms, generate_schedule
from daihou.loans.identity import id_number_error, normalise_phone, parse_iso_date
from daihou.loans.import_file import REQUIRED, RowError, SourceRow
from daihou.loans.models import Customer, Loan
from daihou.policy.schema import PolicyPack, Product

METHODS: dict[str, str] = {
    "equal-installment": "equal-installment",
    "equal-principal": "equal-principal",
    "interest-only": "interest-only",
    "bullet": "bullet",
    "等额本息": "equal-installment",
    "等额本金": "equal-principal",
    "先息后本": "interest-only",
    "到期一次还本付息": "bullet",
}

_STORED_IN = {
    "loan_id": Loan.__table__.c.id,
    "customer_id": Customer.__table__.c.id,
    "customer_name": Customer.__table__.c.name,
    "address": Customer.__table__.c.address,
    "employer": Customer.__table__.c.employer,
}
_INTEGER = re.compile(r"[+]?\d+")


@dataclass(frozen=True, slots=True)
class LoanRow:
    """A valid row, parsed, with its schedule in compact form (see ``installments``)."""

    row: int
    loan_id: str
    customer_id: str
    customer_name: str
    id_number: str
    phone: str
    address: str | None
    employer: str | None
    product: str
    principal: Decimal
    annual_rate: Decimal
    term_months: int
    method: str
    disbursed_on: date
    first_due_on: date | None
    repayment_day: int | None
    spread_bps: int | None  # floating rate: LPR + spread (basis points)
    schedule: array[int] = field(repr=False, compare=False)
    """Six integers per installment: period, start and due date as ordinals,
    principal and interest in fen, annual rate in 1e-10 units. ~48 bytes per
    installment instead of ~1 kB of ``Decimal`` objects, which matters at 100k loans."""

    @property
    def terms(self) -> tuple[object, ...]:
        return (
            self.product,
            self.principal,
            self.annual_rate,
            self.term_months,
            self.method,
            self.disbursed_on,
            self.first_due_on,
            self.repayment_day,
            self.spread_bps,
        )

    @property
    def personal(self) -> dict[str, str | None]:
        return {
            "name": self.customer_name,
            "id_number": self.id_number,
            "phone": self.phone,
            "address": self.address,
            "employer": self.employer,
        }

    def __reduce__(self) -> tuple[type[LoanRow], tuple[object, ...]]:
        # Positional rebuild: 3× cheaper than the dataclass default (state + setattr),
        # which matters when worker processes send back 100k rows.
        return LoanRow, tuple(getattr(self, f) for f in self.__slots__)

    def installments(self) -> Iterator[tuple[int, int, int, int, int, int]]:
        s = self.schedule
        for i in range(0, len(s), 6):
            yield s[i], s[i + 1], s[i + 2], s[i + 3], s[i + 4], s[i + 5]


TERM_FIELDS = (
    "product",
    "principal",
    "annual_rate",
    "term_months",
    "method",
    "disbursed_on",
    "first_due_on",
    "repayment_day",
    "spread_bps",
)


@dataclass(frozen=True, slots=True)
class ExistingLoan:
    """What the database holds for a loan id found in the file."""

    customer_id: str
    terms: tuple[object, ...]  # same order as ``LoanRow.terms`` / ``TERM_FIELDS``
    principal: Decimal
    has_repayments: bool  # any transaction other than its disbursement


@dataclass(frozen=True, slots=True)
class Validation:
    loans: list[LoanRow]
    errors: list[RowError]


def _strip_field(message: str, name: str) -> str:
    prefix = f"{name}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


# --------------------------------------------------------------------------- row parsing


@dataclass(frozen=True, slots=True)
class _Context:
    products: dict[str, Product]
    business_date: date
    limits: dict[str, tuple[int, bool]]


def text_limits() -> dict[str, tuple[int, bool]]:
    """Longest value per text field, as ``(limit, in_bytes)``, from the column it is
    stored in: characters for plain text; UTF-8 bytes for an encrypted column, whose
    ciphertext must fit the column's width. A long value is a row error, not a failed
    write."""
    limits: dict[str, tuple[int, bool]] = {}
    for name, column in _STORED_IN.items():
        kind = column.type
        if isinstance(kind, EncryptedString):
            limits[name] = (plaintext_capacity(kind.length), True)
        else:
            limits[name] = (int(getattr(kind, "length", None) or 10**6), False)
    return limits


def _parse_row(src: SourceRow, ctx: _Context) -> tuple[LoanRow | None, list[RowError]]:
    v = src.values
    errors: list[RowError] = []

    def bad(name: str, message: str) -> None:
        errors.append(RowError(src.row, name, message))

    for name in REQUIRED:
        if not v[name]:
            bad(name, "is required")
    for name, (limit, in_bytes) in ctx.limits.items():
        size = len(v.get(name, "").encode()) if in_bytes else len(v.get(name, ""))
        if size > limit:
            unit = "bytes of UTF-8 (a Chinese character takes 3)" if in_bytes else "characters"
            bad(name, f"is longer than {limit} {unit}")

    product = ctx.products.get(v["product"]) if v["product"] else None
    if v["product"] and product is None:
        bad("product", f"unknown product {v['product']!r}; known: {', '.join(ctx.products)}")

    principal = None
    if v["principal"]:
        try:
            principal = to_money(v["principal"], field="principal")
            if principal <= 0:
                bad("principal", "must be more than zero")
                principal = None
        except ValueError as exc:
            bad("principal", _strip_field(str(exc), "principal"))

    rate = None
    if v["annual_rate"]:
        try:
            rate = parse_rate(v["annual_rate"], kind="annual", field="annual_rate")
            units = rate * RATE_SCALE
            if units != units.to_integral_value():
                bad("annual_rate", "has more than 10 decimals as a fraction")
                rate = None
        except (ValueError, ArithmeticError) as exc:
            bad("annual_rate", _strip_field(str(exc), "annual_rate"))

    term: int | None = None
    if v["term_months"]:
        if not _INTEGER.fullmatch(v["term_months"]):
            bad("term_months", f"{v['term_months']!r} is not a whole number of months")
        else:
            term = int(v["term_months"])
            if term < 1:
                bad("term_months", f"{term} must be at least 1")
                term = None
            elif product is not None and term > product.max_term_months:
                bad(
                    "term_months",
                    f"{term} is more than {product.max_term_months}, "
                    f"the longest term of product {product.code}",
                )
                term = None

    method = METHODS.get(v["method"].strip().lower().replace("_", "-")) if v["method"] else None
    if v["method"] and method is None:
        bad("method", f"{v['method']!r} is not one of {', '.join(METHODS)}")

    disbursed = _date_field(v, "disbursed_on", bad)
    if disbursed is not None and disbursed > ctx.business_date:
        bad("disbursed_on", f"is after the business date {ctx.business_date.isoformat()}")
    first_due = _date_field(v, "first_due_on", bad)
    if first_due is not None and disbursed is not None:
        latest = add_months(disbursed, 2)
        if first_due <= disbursed:
            bad("first_due_on", "must be after disbursed_on")
        elif first_due > latest:
            bad("first_due_on", f"is more than 2 months after disbursed_on ({latest} latest)")

    repayment_day = None
    if v.get("repayment_day"):
        text = v["repayment_day"]
        if not _INTEGER.fullmatch(text) or not 1 <= int(text) <= 31:
            bad("repayment_day", f"{text!r} is not a day of month (1–31)")
        else:
            repayment_day = int(text)

    spread_bps = None
    if v.get("lpr_spread_bps"):
        text = v["lpr_spread_bps"]
        if not re.fullmatch(r"[+-]?\d{1,4}", text) or not -1000 <= int(text) <= 1000:
            bad("lpr_spread_bps", f"{text!r} is not a whole number of basis points (−1000…1000)")
        elif product is not None and product.floating is None:
            bad("lpr_spread_bps", f"product {product.code} has no floating rate in the pack")
        else:
            spread_bps = int(text)

    id_number = v["id_number"].replace(" ", "").upper()
    if id_number and (problem := id_number_error(id_number)):
        bad("id_number", problem)
    phone = normalise_phone(v["phone"]) if v["phone"] else None
    if v["phone"] and phone is None:
        bad("phone", "is not a mainland mobile (1[3-9] and 9 digits) or a landline with area code")

    if errors:
        return None, errors
    assert product is not None and principal is not None and rate is not None
    assert term is not None and method is not None and disbursed is not None and phone
    try:
        schedule = _schedule(
            product, principal, rate, term, method, disbursed, first_due, repayment_day
        )
    except (ValueError, ArithmeticError) as exc:
        return None, [RowError(src.row, "schedule", str(exc))]
    return (
        LoanRow(
            row=src.row,
            loan_id=v["loan_id"],
            customer_id=v["customer_id"],
            customer_name=v["customer_name"],
            id_number=id_number,
            phone=phone,
            address=v.get("address") or None,
            employer=v.get("employer") or None,
            product=product.code,
            principal=principal,
            annual_rate=rate,
            term_months=term,
            method=method,
            disbursed_on=disbursed,
            first_due_on=first_due,
            repayment_day=repayment_day,
            spread_bps=spread_bps,
            schedule=schedule,
        ),
        [],
    )


def _date_field(v: Mapping[str, str], name: str, bad: Callable[[str, str], None]) -> date | None:
    text = v.get(name, "")
    if not text:
        return None
    try:
        return parse_iso_date(text)
    except ValueError as exc:
        bad(name, str(exc))
        return None


def _schedule(
    product: Product,
    principal: Decimal,
    rate: Decimal,
    term: int,
    method: str,
    start: date,
    first_due: date | None,
    repayment_day: int | None,
) -> array[int]:
    terms = ScheduleTerms(
        principal=principal,
        annual_rate=rate,
        months=term,
        method=method,
        start=start,
        first_due=first_due,
        repayment_day=repayment_day,
        rounding=rounding_mode(product.rounding),
        odd_period_basis=product.odd_period_basis,
        annuity_factor_decimals=product.annuity_factor_decimals,
    )
    items = generate_schedule(terms)
    packed: array[int] = array("q")
    extend = packed.extend
    seen: Decimal | None = None
    units = 0
    for item in items:
        if item.annual_rate != seen:  # one rate per schedule: converted once
            seen = item.annual_rate
            units = _exact_int(seen, RATE_SCALE)
        extend(
            (
                item.period,
                item.start_date.toordinal(),
                item.due_date.toordinal(),
                int(item.principal.scaleb(2)),
                int(item.interest.scaleb(2)),
                units,
            )
        )
    # int() truncates: a sub-fen part anywhere shows up as a difference of the totals.
    if sum(packed[3::6]) != _exact_int(principal, 100):
        raise ValueError("schedule principal does not add up to the loan principal")
    interest = sum((item.interest for item in items), Decimal(0))
    if sum(packed[4::6]) != interest.scaleb(2):
        raise ValueError("schedule interest has amounts below one fen")
    return packed


def _exact_int(value: Decimal, scale: int) -> int:
    """``value × scale`` as an int, refusing a remainder (more decimals than stored)."""
    numerator, denominator = value.as_integer_ratio()
    whole, rest = divmod(numerator * scale, denominator)
    if rest:
        raise ValueError(f"{value} has more decimals than can be stored")
    return whole


_WORKER: tuple[_Context, Sequence[SourceRow]] | None = None


def _init_worker(ctx: _Context, rows: Sequence[SourceRow]) -> None:
    global _WORKER
    _WORKER = (ctx, rows)


def _parse_range(bounds: tuple[int, int]) -> list[tuple[LoanRow | None, list[RowError]]]:
    assert _WORKER is not None
    ctx, rows = _WORKER
    return [_parse_row(rows[i], ctx) for i in range(*bounds)]


PARALLEL_FROM = 20_000
"""Below this many rows the cost of starting worker processes outweighs the gain."""


def parse_rows(
    rows: Sequence[SourceRow],
    *,
    pack: PolicyPack,
    business_date: date,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[LoanRow], list[RowError]]:
    """Check each row on its own and build its schedule; rows with errors are left out.

    ``workers`` (default: 2 when the file has ``PARALLEL_FROM`` rows or more and the
    machine has 2 cores) parses in a process pool; results keep file order.
    """
    ctx = _Context({p.code: p for p in pack.products}, business_date, text_limits())
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if len(rows) >= PARALLEL_FROM else 1
    loans: list[LoanRow] = []
    errors: list[RowError] = []
    done = 0

    def collect(results: Iterable[tuple[LoanRow | None, list[RowError]]]) -> None:
        nonlocal done
        for loan, row_errors in results:
            if loan is not None:
                loans.append(loan)
            errors.extend(row_errors)
            done += 1
        if progress is not None:
            progress(done)

    size = 2_000
    bounds = [(i, min(i + size, len(rows))) for i in range(0, len(rows), size)]
    if workers <= 1:
        for start, stop in bounds:
            collect(_parse_row(rows[i], ctx) for i in range(start, stop))
    else:
        # Forked workers inherit the rows (initargs are not pickled with fork), so only
        # index ranges travel to them; parsed rows come back in file order.
        methods = multiprocessing.get_all_start_methods()
        mp = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with mp.Pool(workers, initializer=_init_worker, initargs=(ctx, rows)) as pool:
            for results in pool.imap(_parse_range, bounds):
                collect(results)
    return loans, errors


# --------------------------------------------------------------------------- cross-row checks


def check_rows(
    rows: Sequence[SourceRow],
    loans: Sequence[LoanRow],
    *,
    existing_loans: Mapping[str, ExistingLoan] | None = None,
    existing_customers: Mapping[str, Mapping[str, str | None]] | None = None,
    update: bool = False,
) -> list[RowError]:
    """Problems across rows and against the database.

    A loan id may appear once. A customer id must carry the same name, ID number and
    phone on every row. A loan id already in the database is an error unless ``update``;
    with ``update`` its customer cannot change, nor its terms once it has repayments.
    A customer already in the database keeps its personal data unless ``update``.
    """
    existing_loans = existing_loans or {}
    existing_customers = existing_customers or {}
    errors: list[RowError] = []
    first_row: dict[str, int] = {}
    customer_first: dict[str, tuple[int, str, str, str]] = {}
    for src in rows:
        v = src.values
        loan_id = v["loan_id"]
        if loan_id:
            if loan_id in first_row:
                errors.append(
                    RowError(src.row, "loan_id", f"duplicate of row {first_row[loan_id]}")
                )
            else:
                first_row[loan_id] = src.row
            if loan_id in existing_loans and not update:
                errors.append(RowError(src.row, "loan_id", "already exists; use --update"))
        customer_id = v["customer_id"]
        if not customer_id:
            continue
        phone = normalise_phone(v["phone"]) or v["phone"]
        key = (v["customer_name"], v["id_number"].replace(" ", "").upper(), phone)
        seen = customer_first.setdefault(customer_id, (src.row, *key))
        for name, mine, theirs in zip(
            ("customer_name", "id_number", "phone"), key, seen[1:], strict=True
        ):
            if mine != theirs:
                errors.append(
                    RowError(
                        src.row,
                        name,
                        f"differs from row {seen[0]} for the same customer_id {customer_id}",
                    )
                )
    checked_customers: set[str] = set()
    for loan in loans:
        old = existing_loans.get(loan.loan_id)
        if old is not None and update:
            if old.customer_id != loan.customer_id:
                errors.append(
                    RowError(
                        loan.row,
                        "customer_id",
                        f"loan {loan.loan_id} belongs to customer {old.customer_id}; "
                        "a loan cannot move to another customer",
                    )
                )
            changed = [
                n for n, a, b in zip(TERM_FIELDS, loan.terms, old.terms, strict=True) if a != b
            ]
            if changed and old.has_repayments:
                errors.append(
                    RowError(
                        loan.row,
                        changed[0],
                        f"loan {loan.loan_id} has repayments; terms cannot change "
                        f"({', '.join(changed)} differ)",
                    )
                )
        stored = existing_customers.get(loan.customer_id)
        if stored is None or update or loan.customer_id in checked_customers:
            continue
        checked_customers.add(loan.customer_id)
        for name, value in loan.personal.items():
            if value is not None and value != stored.get(name):
                label = "customer_name" if name == "name" else name
                errors.append(
                    RowError(
                        loan.row,
                        label,
                        f"customer {loan.customer_id} exists with a different {label}; "
                        "use --update to change it",
                    )
                )
    return errors


def validate_rows(
    rows: Sequence[SourceRow],
    *,
    pack: PolicyPack,
    business_date: date,
    existing_loans: Mapping[str, ExistingLoan] | None = None,
    existing_customers: Mapping[str, Mapping[str, str | None]] | None = None,
    update: bool = False,
    workers: int | None = None,
) -> Validation:
    """Every problem of every row (``errors`` sorted by row), and the valid rows parsed.

    Pure: the caller supplies what the database holds (``daihou.loans.book`` does).
    """
    loans, errors = parse_rows(rows, pack=pack, business_date=business_date, workers=workers)
    errors += check_rows(
        rows,
        loans,
        existing_loans=existing_loans,
        existing_customers=existing_customers,
        update=update,
    )
    return Validation(loans=loans, errors=sorted(errors))
