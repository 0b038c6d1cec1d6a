"""The customers of a generated book (``demo.generate``): their personal data drawn from
the seed, stored as the import stores it — encrypted, with the keyed hashes search uses.

At 1 M loans this is 900k customers, about a sixth of the whole load's CPU, so the rows
are built column by column: one draw of the seeded random source per field, in the same
order as ``synthetic`` draws them one customer at a time (so the same plaintexts and
the same keyed hashes for a seed: a test holds both ways equal), then each column
encrypted (``Keyring.encrypt_column``) and hashed (``Keyring.blind_index_column``) in
one go. The resident ID number's check digit comes from tables of the weighted digit
sums of each region, birth date and serial, computed once per process.
"""

from __future__ import annotations

import multiprocessing
import random
import time
import traceback
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from daihou.demo.synthetic import BORN_DAYS, BORN_FROM, EMPLOYERS, GIVEN, REGIONS, SURNAMES
from daihou.loans.identity import ID_CHECK, ID_WEIGHTS


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True))


@cache
def _id_tables() -> tuple[dict[str, int], list[tuple[str, int]], list[tuple[str, int]]]:
    """Weighted digit sums of the ID number's parts: region (digits 1–6), birth date
    (7–14) by day offset, serial (15–17)."""
    regions = {r: _weighted(r, ID_WEIGHTS[:6]) for r in REGIONS}
    days = []
    for offset in range(BORN_DAYS):
        text = f"{BORN_FROM + timedelta(days=offset):%Y%m%d}"
        days.append((text, _weighted(text, ID_WEIGHTS[6:14])))
    serials = [(f"{s:03d}", _weighted(f"{s:03d}", ID_WEIGHTS[14:])) for s in range(1000)]
    return regions, days, serials


def plain_customers(seed: int, first: int, count: int) -> list[tuple[str | None, ...]]:
    """Customers ``first`` … ``first + count − 1`` in plaintext, one tuple of
    ``loans.book.PERSONAL`` each: the draws of ``synthetic.loan_rows``' customer (region, name,
    ID number, mobile, address, employer) from the seeded random source of the chunk.
    ``random.Random.choice(s)`` and ``randrange(n)`` are ``s[_randbelow(len(s))]`` and
    ``_randbelow(n)``, called here directly (a test compares with the public calls)."""
    rng = random.Random(f"{seed}:customers:{first}")
    below = rng._randbelow  # type: ignore[attr-defined]
    regions = list(REGIONS)
    n_regions, n_surnames, n_given = len(regions), len(SURNAMES), len(GIVEN)
    n_employers = len(EMPLOYERS)
    region_sums, days, serials = _id_tables()
    places = {r: f"{REGIONS[r]}某街道" for r in regions}
    out: list[tuple[str | None, ...]] = []
    add = out.append
    for _ in range(count):
        region = regions[below(n_regions)]
        name = SURNAMES[below(n_surnames)] + GIVEN[below(n_given)] + GIVEN[below(n_given)]
        born, born_sum = days[below(BORN_DAYS)]
        serial, serial_sum = serials[below(1000)]
        check = ID_CHECK[(region_sums[region] + born_sum + serial_sum) % 11]
        phone = f"1{'3456789'[below(7)]}{below(10**9):09d}"
        address = f"{places[region]}{1 + below(299)}号"
        employer = EMPLOYERS[below(n_employers)] or None
        add((name, f"{region}{born}{serial}{check}", phone, address, employer))
    return out


def customer_rows(seed: int, first: int, count: int) -> list[tuple[Any, ...]]:
    """Customers ``first`` … ``first + count − 1`` as stored (``_Personal.columns``:
    id, the encrypted personal columns, the keyed hashes of ID number and phone)."""
    from daihou.loans.book import PERSONAL, _Personal

    personal = _Personal()
    keyring = personal.keyring
    plain = plain_customers(seed, first, count)
    columns: list[tuple[str | None, ...]] = (
        list(zip(*plain, strict=True)) if plain else [() for _ in PERSONAL]
    )
    by_name = dict(zip(PERSONAL, columns, strict=True))
    sealed = [
        keyring.encrypt_column(by_name[name], context) if context else list(by_name[name])
        for name, context in personal.contexts
    ]
    hashes = [keyring.blind_index_column(by_name[name], name) for name, _ in personal.hashed]
    ids = [f"C{n:08d}" for n in range(first, first + count)]
    return list(zip(ids, *sealed, *hashes, strict=True))


CUSTOMER_CHUNK = 20_000


class CustomerBatches:
    """Customer rows in chunks, computed by one worker process (where ``fork`` exists,
    so the keyring is inherited; the writer keeps the other core) at most ``AHEAD``
    chunks ahead of the writer — a few tens of MB held, not the whole book — else on
    demand. The writer takes what is ready between its statements (``ready``) and the
    rest at the end (``rest``): with foreign keys checked after the load (SQLite) or
    rebuilt (PostgreSQL), customers need not precede their loans. (On a SQLite file
    ``CustomerFile`` builds the whole table beside the load instead.)"""

    AHEAD = 3

    def __init__(self, seed: int, customers: int | None) -> None:
        """``customers`` None: not known yet — the plan is still being read; ``grow``
        says how many are known so far, ``rest`` needs the final count."""
        self.seed = seed
        self.known = 0
        self.chunks: deque[tuple[int, int, int]] = deque()
        self.pool: ProcessPoolExecutor | None = None
        self.futures: deque[Future[list[tuple[Any, ...]]]] = deque()
        if "fork" in multiprocessing.get_all_start_methods() and (
            customers is None or customers > CUSTOMER_CHUNK
        ):
            self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
        if customers is not None:
            self.grow(customers, final=True)

    def grow(self, customers: int, *, final: bool = False) -> None:
        """Customers 1 … ``customers`` exist (the count so far, or the ``final`` one):
        queue the chunks now complete."""
        for first, count in _new_chunks(self.known, customers, final):
            self.chunks.append((self.seed, first, count))
            self.known = first + count - 1
        if self.pool is not None:
            self._submit()

    def _submit(self) -> None:
        assert self.pool is not None
        while self.chunks and len(self.futures) < self.AHEAD:
            self.futures.append(self.pool.submit(customer_rows, *self.chunks.popleft()))

    def ready(self) -> Iterator[list[tuple[Any, ...]]]:
        """The chunks already computed, in order, without waiting."""
        while self.futures and self.futures[0].done():
            batch = self.futures.popleft().result()
            self._submit()
            yield batch

    def rest(self) -> Iterator[list[tuple[Any, ...]]]:
        """Every chunk not yet taken, in order."""
        while self.futures:
            batch = self.futures.popleft().result()
            self._submit()
            yield batch
        while self.chunks:  # no worker process
            yield customer_rows(*self.chunks.popleft())

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _new_chunks(known: int, customers: int, final: bool) -> Iterator[tuple[int, int]]:
    """(first, count) of the chunks complete once customers 1 … ``customers`` exist,
    after the ``known`` already queued; the last, shorter one when ``final``."""
    while known + CUSTOMER_CHUNK <= customers or (final and known < customers):
        count = min(CUSTOMER_CHUNK, customers - known)
        yield known + 1, count
        known += count


class CustomerFile:
    """SQLite file: the ``customers`` table built by one worker process in a scratch
    file of its own (``demo.side``: the book's own ``CREATE TABLE`` and ``CREATE INDEX``
    text), then copied into the book whole by transfer. The worker starts before the
    plan is read and is told the customers as the plan reveals them (``grow``), so it
    runs beside the plan and the load and the writer never waits for a chunk; where
    ``fork`` is missing the table is built in this process by ``wait``."""

    def __init__(self, path: Path, schema: Sequence[str], seed: int) -> None:
        self.path, self.schema, self.seed = str(path), list(schema), seed
        self.known = 0
        self.chunks: list[tuple[int, int]] = []  # without a worker
        self.process: Any = None
        if "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            self.queue: Any = context.SimpleQueue()
            self.answer, sender = context.Pipe(duplex=False)
            self.process = context.Process(
                target=_customer_worker,
                args=(self.path, self.schema, seed, self.queue, sender),
                name="daihou-customers",
                daemon=True,
            )
            self.process.start()
            sender.close()

    def grow(self, customers: int, *, final: bool = False) -> None:
        """Customers 1 … ``customers`` exist (the count so far, or the ``final`` one)."""
        for first, count in _new_chunks(self.known, customers, final):
            self.known = first + count - 1
            if self.process is None:
                self.chunks.append((first, count))
            else:
                self.queue.put((first, count))
        if final and self.process is not None:
            self.queue.put(None)

    def wait(self) -> tuple[str, tuple[float, float]]:
        """The file holding ``customers`` once built, and the CPU seconds of its rows
        and of its indexes."""
        if self.process is None:
            return self.path, build_customers(self.path, self.schema, self.seed, self.chunks)
        while not self.answer.poll(0.5):
            if not self.process.is_alive():
                raise RuntimeError(
                    f"the customer worker ended with exit code {self.process.exitcode}"
                )
        outcome, *detail = self.answer.recv()
        self.process.join()
        if outcome != "ok":
            raise RuntimeError(f"the customer worker failed:\n{detail[0]}")
        return self.path, (detail[0], detail[1])

    def close(self) -> None:
        """Stop the worker if it is still running (the load failed)."""
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join()


def build_customers(
    path: str, schema: Sequence[str], seed: int, chunks: Iterable[tuple[int, int]]
) -> tuple[float, float]:
    """Create ``customers`` (``schema[0]``) in the file ``path``, insert the customers
    of each (first, count) of ``chunks``, then create its indexes; returns the CPU
    seconds of the rows (computing and inserting them) and of the indexes."""
    from daihou.demo.side import connect
    from daihou.loans.book import _Personal

    t0 = time.process_time()
    columns = _Personal().columns
    statement = (
        f"INSERT INTO customers ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    con = connect(Path(path))
    try:
        con.execute(schema[0])
        con.execute("BEGIN")
        for first, count in chunks:
            con.executemany(statement, customer_rows(seed, first, count))
        t1 = time.process_time()
        for index in schema[1:]:
            con.execute(index)
        con.execute("COMMIT")
    finally:
        con.close()
    return t1 - t0, time.process_time() - t1


def _customer_worker(path: str, schema: list[str], seed: int, queue: Any, answer: Any) -> None:
    try:
        cpu = build_customers(path, schema, seed, iter(queue.get, None))
        answer.send(("ok", *cpu))
    except BaseException:
        answer.send(("error", traceback.format_exc()))
    finally:
        answer.close()
