"""The audit chain: appends, verification, and tampering done directly in the database."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from daihou.auth.actor import SYSTEM, Actor
from daihou.cli import compliance_data
from daihou.compliance.audit import models as audit_models
from daihou.compliance.audit.service import (
    GENESIS,
    Head,
    canonical_json,
    chain_hash,
    digest,
    head,
    history,
    record,
    verify,
)
from daihou.compliance.privacy import models as privacy_models  # noqa: F401  (tables)
from daihou.db.engine import transaction
from daihou.eod.calendar import initialise_business_date

AuditRecord = audit_models.AuditRecord
CLERK = Actor(user_id="u-ops-1", roles=frozenset({"operations", "supervisor"}))
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def clock_from(start: datetime) -> object:
    ticks = iter(range(10_000))
    return lambda: start + timedelta(seconds=next(ticks))


def append(engine: Engine, n: int, *, start: int = 1) -> list[AuditRecord]:
    clock = clock_from(T0)
    out = []
    with transaction(engine) as session:
        for i in range(start, start + n):
            out.append(
                record(
                    session,
                    actor=CLERK,
                    action="payment.post",
                    object_type="transaction",
                    object_id=str(i),
                    before={"amount": Decimal("0.00")},
                    after={"amount": Decimal(f"{i}.50"), "on": date(2026, 3, 1)},
                    basis={"rule": "allocation.civil-code-561", "role": "operations"},
                    clock=clock,  # type: ignore[arg-type]
                )
            )
    return out


def check(engine: Engine, expected: Head | None = None) -> tuple[int, str, int] | None:
    with transaction(engine) as session:
        result = verify(session, expected=expected, batch_size=2)
    if result.broken is None:
        return None
    return (result.broken.record_id, result.broken.kind, result.count)


# --------------------------------------------------------------------------- digests


def test_canonical_json_sorts_keys_and_writes_decimals_and_dates_as_text() -> None:
    value = {"b": Decimal("1.10"), "a": date(2026, 1, 31), "c": [1, {"z": None, "y": True}]}
    assert canonical_json(value) == ('{"a":"2026-01-31","b":"1.10","c":[1,{"y":true,"z":null}]}')
    assert digest(value) == hashlib.sha256(canonical_json(value).encode()).hexdigest()
    assert digest({"x": "张三"}) == hashlib.sha256('{"x":"张三"}'.encode()).hexdigest()
    assert digest(None) is None
    with pytest.raises(TypeError):
        canonical_json({"x": object()})


# --------------------------------------------------------------------------- append


def test_records_chain_from_genesis_and_verify(engine: Engine) -> None:
    with transaction(engine) as session:
        initialise_business_date(session, date(2026, 3, 1))
    china = timezone(timedelta(hours=8))
    with transaction(engine) as session:
        first = record(
            session,
            actor=CLERK,
            action="payment.post",
            object_type="transaction",
            object_id="17",
            after={"amount": Decimal("100.00")},
            basis="counter payment, receipt 0042",
            document=b"%PDF receipt",
            clock=lambda: datetime(2026, 3, 2, 9, 30, 0, 123456, tzinfo=china),
        )
        second = record(
            session, actor=SYSTEM, action="auth.login", object_type="user", object_id="u1"
        )
    assert (first.id, second.id) == (1, 2)
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash
    with transaction(engine) as session:
        stored = session.get(AuditRecord, 1)
        assert stored is not None
        assert stored.at == datetime(2026, 3, 2, 1, 30, 0, 123456)  # UTC, microseconds kept
        assert stored.business_date == date(2026, 3, 1)
        assert stored.roles == "operations,supervisor"
        assert stored.document_hash == hashlib.sha256(b"%PDF receipt").hexdigest()
        assert stored.after_digest == digest({"amount": "100.00"})
        assert stored.before_digest is None
        assert chain_hash(stored) == stored.hash
        assert [r.id for r in history(session, object_type="user", object_id="u1")] == [2]
        result = verify(session)
        assert result.ok and result.count == 2 and result.head == head(session)
        assert str(result.head) == f"2:{second.hash}"


def test_empty_log_verifies(engine: Engine) -> None:
    with transaction(engine) as session:
        result = verify(session)
        assert result.ok and result.count == 0 and result.head == Head(0, GENESIS)


def test_action_names_are_checked(engine: Engine) -> None:
    with transaction(engine) as session, pytest.raises(ValueError, match="dotted"):
        record(session, actor=SYSTEM, action="Payment Post", object_type="x", object_id="1")


def test_orm_refuses_to_change_or_delete_a_record(engine: Engine) -> None:
    append(engine, 1)
    with pytest.raises(ValueError, match="append-only"), transaction(engine) as session:
        entry = session.get(AuditRecord, 1)
        assert entry is not None
        entry.action = "payment.reverse"
    with pytest.raises(ValueError, match="append-only"), transaction(engine) as session:
        entry = session.get(AuditRecord, 1)
        session.delete(entry)
    assert check(engine) is None


def test_a_rolled_back_action_leaves_no_gap(engine: Engine) -> None:
    append(engine, 2)
    with pytest.raises(RuntimeError), transaction(engine) as session:
        record(session, actor=SYSTEM, action="payment.post", object_type="t", object_id="x")
        raise RuntimeError("the posting failed")
    append(engine, 1, start=3)
    with transaction(engine) as session:
        ids = list(session.execute(select(AuditRecord.id).order_by(AuditRecord.id)).scalars())
    assert ids == [1, 2, 3] and check(engine) is None


def test_concurrent_appends_never_fork_the_chain(engine: Engine) -> None:
    threads, per_thread = 6, 8
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with transaction(engine) as session:
                    record(
                        session,
                        actor=Actor(user_id=f"worker-{n}", roles=frozenset({"system"})),
                        action="payment.post",
                        object_type="transaction",
                        object_id=f"{n}-{i}",
                        after={"i": i},
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    with transaction(engine) as session:
        result = verify(session)
    assert result.ok and result.count == threads * per_thread


# --------------------------------------------------------------------------- tampering


def test_an_edited_field_is_caught_at_its_record(engine: Engine) -> None:
    append(engine, 5)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET object_id = '999' WHERE id = 3"))
    assert check(engine) == (3, "content-changed", 2)


def test_an_edited_timestamp_or_basis_is_caught(engine: Engine) -> None:
    append(engine, 4)
    with engine.begin() as conn:
        conn.execute(text('UPDATE audit_log SET basis = \'{"rule":"none"}\' WHERE id = 4'))
    assert check(engine) == (4, "content-changed", 3)


def test_a_deleted_record_is_caught_by_its_id(engine: Engine) -> None:
    append(engine, 5)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 2"))
    assert check(engine) == (2, "missing-record", 1)


def test_deleting_the_first_record_is_caught(engine: Engine) -> None:
    append(engine, 3)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 1"))
    assert check(engine) == (1, "missing-record", 0)


def test_a_deleted_and_renumbered_record_is_caught(engine: Engine) -> None:
    append(engine, 5)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 3"))
        conn.execute(text("UPDATE audit_log SET id = id - 1 WHERE id > 3"))
    # record 4 now sits at id 3: its id is hashed, so its content no longer matches
    assert check(engine) == (3, "content-changed", 2)


def test_a_forged_record_inserted_in_the_middle_is_caught(engine: Engine) -> None:
    append(engine, 5)
    with engine.begin() as conn:  # make room at id 3, then forge a self-consistent row
        conn.execute(text("UPDATE audit_log SET id = id + 1000 WHERE id >= 3"))
        conn.execute(text("UPDATE audit_log SET id = id - 999 WHERE id >= 1000"))
    forged = AuditRecord(
        id=3,
        at=datetime(2026, 3, 2, 1, 0, 30),
        business_date=None,
        actor_id="u-ops-1",
        roles="operations",
        action="payment.reverse",
        object_type="transaction",
        object_id="2",
        before_digest=None,
        after_digest=None,
        basis=None,
        document_hash=None,
        prev_hash=hashlib.sha256(b"a guess").hexdigest(),
    )
    forged.hash = chain_hash(forged)
    with transaction(engine) as session:
        session.add(forged)
    assert check(engine) == (3, "link-broken", 2)


def test_a_replaced_record_with_a_recomputed_hash_breaks_the_next_link(engine: Engine) -> None:
    records = append(engine, 4)
    target = records[1]
    target.object_id = "forged"
    new_hash = chain_hash(target)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET object_id = 'forged', hash = :h WHERE id = 2"),
            {"h": new_hash},
        )
    assert check(engine) == (3, "link-broken", 2)


def test_a_cut_tail_is_caught_only_against_an_anchor(engine: Engine) -> None:
    append(engine, 5)
    with transaction(engine) as session:
        anchor = head(session)
    assert anchor.count == 5 and check(engine, anchor) is None
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id >= 4"))
    assert check(engine) is None  # a shorter chain is still a valid chain
    assert check(engine, anchor) == (4, "truncated", 3)
    append(engine, 2, start=10)  # and growing it again does not hide the cut
    assert check(engine) is None
    assert check(engine, anchor) == (5, "head-mismatch", 4)


def test_an_anchor_from_the_past_still_verifies_a_grown_log(engine: Engine) -> None:
    append(engine, 3)
    with transaction(engine) as session:
        anchor = head(session)
    append(engine, 3, start=4)
    assert check(engine, anchor) is None
    assert Head.parse(str(anchor)) == anchor
    with pytest.raises(ValueError):
        Head.parse("3:nothex")


# --------------------------------------------------------------------------- CLI


def cli() -> typer.Typer:
    app = typer.Typer()
    compliance_data.register(app)
    return app


def test_cli_verify_and_head(engine: Engine, db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    append(engine, 4)
    out = runner.invoke(cli(), ["audit", "head", "--db", db_url])
    assert out.exit_code == 0, out.output
    anchor = out.output.strip()
    assert anchor.startswith("4:") and len(anchor) == 66
    ok = runner.invoke(cli(), ["audit", "verify", "--db", db_url, "--expect", anchor])
    assert ok.exit_code == 0 and "OK: 4 records" in ok.output
    anchors = tmp_path / "anchors.txt"
    saved = runner.invoke(cli(), ["audit", "head", "--save", str(anchors), "--db", db_url])
    assert saved.exit_code == 0 and anchors.read_text().split()[-1] == anchor
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 4"))
    cut = runner.invoke(cli(), ["audit", "verify", "--db", db_url, "--expect", str(anchors)])
    assert cut.exit_code == 1 and "record 4 (truncated)" in cut.output
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor_id = 'someone' WHERE id = 2"))
    broken = runner.invoke(cli(), ["audit", "verify", "--db", db_url, "--format", "json"])
    assert broken.exit_code == 1
    assert '"record_id": 2' in broken.output and '"content-changed"' in broken.output
