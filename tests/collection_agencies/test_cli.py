"""``daihou agency / placement / legal`` end to end through the real CLI app."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from daihou.auth.models import User, UserRole
from daihou.cli import app
from daihou.db.engine import transaction
from tests.collection_agencies.helpers import build_book, make_case

runner = CliRunner()


def _run(url: str, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--db", url])
    assert result.exit_code == code, result.output
    return result.output


def _users(engine: Engine) -> None:
    with transaction(engine) as s:
        for name, role, extra in (
            ("mgr", "manager", {}),
            ("sup", "supervisor", {"team": "t1"}),
            ("ua1", "agency-user", {"agency_id": "A1"}),
        ):
            s.add(User(username=name, password_hash="x", role_rows=[UserRole(role=role)], **extra))


AGENCY = [
    "--name", "甲催收公司", "--licence", "L-1", "--licence-expires", "2027-12-31",
    "--contract-from", "2026-01-01", "--contract-until", "2027-12-31", "--max-cases", "10",
    "--reason", "tender won",
]  # fmt: skip


def test_agency_placement_and_legal_commands(engine: Engine, db_url: str, tmp_path: Path) -> None:
    build_book(
        engine, tmp_path, {"L1": {"customer_name": "王小明"}, "BIG": {"principal": "600000"}}
    )
    _users(engine)
    with transaction(engine) as s:
        small = make_case(s, "L1", dpd=40, bucket="M2").id
        big = make_case(s, "BIG", dpd=95, bucket="M4", refused=True).id

    assert "refused" in _run(db_url, "agency", "add", "A1", *AGENCY, code=1)  # as system
    _run(db_url, "agency", "add", "A1", *AGENCY, "--rate", "M2=20%", "--by", "mgr")
    listed = json.loads(_run(db_url, "agency", "list", "--format", "json", "--by", "mgr"))
    assert [(a["id"], a["commission_rates"]) for a in listed] == [("A1", {"M2": "0.2"})]

    batch = json.loads(_run(db_url, "placement", "batch", "--format", "json", "--by", "sup"))
    assert batch["cases"] == 2 and batch["allocation"]["A1"]["placed"] == 2
    mine = json.loads(_run(db_url, "agency", "cases", "--format", "json", "--by", "ua1"))
    assert {c["case_id"] for c in mine} == {small, big}
    assert {c["name"] for c in mine} == {"王**", "测***"}

    statement = _run(db_url, "agency", "statement", "--month", "2026-10", "--format", "csv",
                     "--by", "mgr")  # fmt: skip
    assert list(csv.reader(io.StringIO(statement)))[-1][0] == "total"
    kpis = json.loads(_run(db_url, "agency", "kpis", "--format", "json", "--by", "mgr"))
    assert kpis["agencies"][0]["placements"] == 2

    check = json.loads(_run(db_url, "legal", "check", str(big)))
    assert check["refer"] is True and "refusal to pay" in check["met"]
    assert "refused" in _run(db_url, "legal", "refer", str(big), "--note", "n", "--by", "ua1",
                             code=1)  # fmt: skip
    _run(db_url, "legal", "refer", str(big), "--note", "refuses to pay", "--by", "sup")
    shown = json.loads(_run(db_url, "legal", "show", "--case", str(big), "--by", "sup"))
    file_id = str(shown["id"])
    doc = tmp_path / "contract.pdf"
    doc.write_bytes(b"%PDF contract")
    _run(db_url, "legal", "evidence", file_id, "--kind", "contract", "--status", "attached",
         "--file", str(doc), "--by", "sup")  # fmt: skip
    _run(db_url, "legal", "cost", file_id, "--kind", "court-fee", "--amount", "880.00",
         "--on", "2026-10-01", "--by", "sup")  # fmt: skip
    out = _run(db_url, "legal", "stage", file_id, "--to", "filed", "--by", "sup", code=1)
    assert "evidence not attached" in out
    shown = json.loads(_run(db_url, "legal", "show", file_id, "--by", "sup"))
    contract = next(e for e in shown["evidence"] if e["kind"] == "contract")
    assert contract["file_hash"] == hashlib.sha256(b"%PDF contract").hexdigest()
    assert shown["cost_total"] == "880.00"

    mine = json.loads(_run(db_url, "agency", "cases", "--format", "json", "--by", "ua1"))
    assert [c["case_id"] for c in mine] == [small]  # the referred case was recalled
    _run(db_url, "placement", "recall", str(small), "--reason", "complaint", "--by", "sup")
    assert json.loads(_run(db_url, "agency", "cases", "--format", "json", "--by", "ua1")) == []
    assert "suspended; 0 case(s) recalled" in _run(
        db_url, "agency", "suspend", "A1", "--reason", "audit", "--by", "mgr"
    )
    assert "0 placement(s) ended" in _run(db_url, "placement", "expire")
