"""Litigation: eligibility rules, file preparation, referral, stages, evidence, costs."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from daihou.auth.actor import Actor
from daihou.auth.permissions import PermissionDenied
from daihou.collection.agencies.models import Placement
from daihou.collection.agencies.placement import place_batch, place_case
from daihou.collection.legal.eligibility import assess
from daihou.collection.legal.models import LegalEvidence, LegalFile
from daihou.collection.legal.records import add_cost, set_evidence
from daihou.collection.legal.service import (
    advance,
    legal_file_view,
    prepare_legal_files,
    refer,
)
from daihou.collection.legal.settings import LegalSettings
from daihou.collection.models import CaseStatusChange, CollectionCase
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.audit.service import verify
from daihou.db.engine import transaction
from tests.collection_agencies.helpers import (
    START,
    SUPERVISOR,
    add_test_agency,
    build_book,
    make_case,
)

RULES = LegalSettings()
TODAY = date(2026, 10, 1)


def _assess(**overrides: Any) -> Any:
    case: dict[str, Any] = {
        "dpd": 95,
        "overdue_amount": Decimal("60000.00"),
        "broken_promises": 0,
        "refused": False,
        "lost_contact_since": None,
        "business_date": TODAY,
        "config": RULES,
    }
    case.update(overrides)
    return assess(**case)


@pytest.mark.parametrize(
    ("overrides", "refer_ok"),
    [
        ({"broken_promises": 2}, True),  # repeated failure
        ({"broken_promises": 1}, False),
        ({"refused": True}, True),  # refusal
        ({"refused": True, "config": RULES.model_copy(update={"refer_on_refusal": False})}, False),
        ({"lost_contact_since": TODAY - timedelta(days=31)}, True),  # lost contact > 30 days
        ({"lost_contact_since": TODAY - timedelta(days=30)}, False),
        ({}, False),  # no trigger
        ({"refused": True, "dpd": 89}, False),  # below 90 DPD
        ({"refused": True, "dpd": 90}, True),
        ({"refused": True, "overdue_amount": Decimal("50000.00")}, False),  # not over 50,000
        ({"refused": True, "overdue_amount": Decimal("50000.01")}, True),
    ],
)
def test_referral_rules(overrides: dict[str, Any], refer_ok: bool) -> None:
    verdict = _assess(**overrides)
    assert verdict.refer is refer_ok
    assert bool(verdict.unmet) is not refer_ok


def test_file_preparation_threshold() -> None:
    assert _assess(dpd=60).prepare_file and not _assess(dpd=59).prepare_file
    assert _assess(dpd=59, config=RULES.model_copy(update={"prepare_file_dpd": 45})).prepare_file


BIG = {"principal": "600000.00"}  # one installment ≈ 56,700 overdue


def _book(engine: Engine, tmp_path: Path) -> dict[str, int]:
    build_book(engine, tmp_path, {"BIG": BIG, "SMALL": {}, "YOUNG": BIG})
    with transaction(engine) as s:
        add_test_agency(s, "A1")
        cases = {
            "BIG": make_case(s, "BIG", dpd=95, bucket="M4", broken_promises=2).id,
            "SMALL": make_case(s, "SMALL", dpd=95, bucket="M4", refused=True).id,
            "YOUNG": make_case(s, "YOUNG", dpd=59, bucket="M2", refused=True).id,
        }
        place_case(
            s,
            actor=SUPERVISOR,
            case_id=cases["BIG"],
            agency_id="A1",
            business_date=START,
            reason="t",
        )
    return cases


def test_prepare_files_at_60_dpd(engine: Engine, tmp_path: Path) -> None:
    cases = _book(engine, tmp_path)
    with transaction(engine) as s:
        assert prepare_legal_files(s, START) == 2  # BIG and SMALL, not YOUNG (59)
        assert prepare_legal_files(s, START) == 0
        files = {f.case_id: f for f in s.execute(select(LegalFile)).scalars()}
        assert set(files) == {cases["BIG"], cases["SMALL"]}
        kinds = s.execute(
            select(LegalEvidence.kind, LegalEvidence.status).where(
                LegalEvidence.legal_file_id == files[cases["BIG"]].id
            )
        ).all()
        assert sorted(kinds) == sorted((k, "missing") for k in RULES.evidence)
        assert files[cases["BIG"]].referred_on is None
        case = s.get(CollectionCase, cases["BIG"])
        assert case is not None and case.stage == "agency"  # preparing a file changes nothing


def test_referral(engine: Engine, tmp_path: Path) -> None:
    cases = _book(engine, tmp_path)
    collector = Actor(user_id="c1", roles=frozenset({"collector-senior"}))
    with transaction(engine) as s:
        with pytest.raises(PermissionDenied):
            refer(s, actor=collector, case_id=cases["BIG"], note="court")
        with pytest.raises(ValueError, match=r"overdue amount .* <= 50000"):
            refer(s, actor=SUPERVISOR, case_id=cases["SMALL"], note="court")
        file = refer(s, actor=SUPERVISOR, case_id=cases["BIG"], note="two broken promises")
        assert file.stage == "preparing-file" and file.referred_by == "sup"
        assert "repeated failure: 2 broken promises" in (file.referral_basis or "")
        with pytest.raises(ValueError, match="already referred"):
            refer(s, actor=SUPERVISOR, case_id=cases["BIG"], note="again")
    with transaction(engine) as s:
        case = s.get(CollectionCase, cases["BIG"])
        assert case is not None and case.stage == "legal" and case.agency_id is None
        placement = s.execute(select(Placement)).scalar_one()
        assert (placement.status, placement.recall_reason) == ("recalled", "legal")
        stages = s.execute(
            select(CaseStatusChange.new_value)
            .where(CaseStatusChange.case_id == case.id, CaseStatusChange.field == "stage")
            .order_by(CaseStatusChange.id)
        ).scalars()
        assert list(stages) == ["agency", "junior", "legal"]
        # litigation blocks placement: the batch takes the other two, not this one
        assert place_batch(s, actor=SUPERVISOR, business_date=START).cases == 2
        active = s.execute(select(Placement.case_id).where(Placement.status == "active"))
        assert set(active.scalars()) == {cases["SMALL"], cases["YOUNG"]}
        with pytest.raises(ValueError, match="not eligible"):
            place_case(
                s,
                actor=SUPERVISOR,
                case_id=case.id,
                agency_id="A1",
                business_date=START,
                reason="x",
            )


def test_stages_evidence_and_costs(engine: Engine, tmp_path: Path) -> None:
    cases = _book(engine, tmp_path)
    with transaction(engine) as s:
        file_id = refer(s, actor=SUPERVISOR, case_id=cases["BIG"], note="n").id
        with pytest.raises(ValueError, match="cannot go from preparing-file to hearing"):
            advance(s, actor=SUPERVISOR, legal_file_id=file_id, to_stage="hearing")
        with pytest.raises(ValueError, match="evidence not attached"):
            advance(s, actor=SUPERVISOR, legal_file_id=file_id, to_stage="filed")
        with pytest.raises(ValueError, match="no attached document"):
            set_evidence(
                s, actor=SUPERVISOR, legal_file_id=file_id, kind="contract", status="verified"
            )
        for kind in RULES.evidence:
            item = set_evidence(
                s,
                actor=SUPERVISOR,
                legal_file_id=file_id,
                kind=kind,
                status="attached",
                document=f"{kind} pdf".encode(),
                file_name=f"{kind}.pdf",
            )
            assert item.file_hash == hashlib.sha256(f"{kind} pdf".encode()).hexdigest()
        set_evidence(s, actor=SUPERVISOR, legal_file_id=file_id, kind="contract", status="verified")
        for stage in ("filed", "hearing", "judgment", "enforcement"):
            advance(
                s,
                actor=SUPERVISOR,
                legal_file_id=file_id,
                to_stage=stage,
                court="上海市浦东新区人民法院" if stage == "filed" else None,
            )
        with pytest.raises(ValueError, match="note"):
            advance(s, actor=SUPERVISOR, legal_file_id=file_id, to_stage="closed")
        add_cost(
            s,
            actor=SUPERVISOR,
            legal_file_id=file_id,
            kind="court-fee",
            amount="1234.50",
            incurred_on=START,
        )
        add_cost(
            s,
            actor=SUPERVISOR,
            legal_file_id=file_id,
            kind="lawyer-fee",
            amount="5000.00",
            incurred_on=START,
        )
        add_cost(
            s,
            actor=SUPERVISOR,
            legal_file_id=file_id,
            kind="lawyer-fee",
            amount="2500.25",
            incurred_on=START,
        )
        for bad, match in (("0", "positive"), ("10.005", "more than two decimals")):
            with pytest.raises(ValueError, match=match):
                add_cost(
                    s,
                    actor=SUPERVISOR,
                    legal_file_id=file_id,
                    kind="court-fee",
                    amount=bad,
                    incurred_on=START,
                )
        with pytest.raises(ValueError, match="kind"):
            add_cost(
                s,
                actor=SUPERVISOR,
                legal_file_id=file_id,
                kind="bribe",
                amount="1",
                incurred_on=START,
            )
        advance(
            s, actor=SUPERVISOR, legal_file_id=file_id, to_stage="closed", note="enforced in full"
        )
        with pytest.raises(ValueError, match="allowed: none"):
            advance(s, actor=SUPERVISOR, legal_file_id=file_id, to_stage="filed")
    with transaction(engine) as s:
        view = legal_file_view(s, actor=SUPERVISOR, legal_file_id=file_id)
        assert view["stage"] == "closed" and view["court"] == "上海市浦东新区人民法院"
        assert [h["to"] for h in view["history"]] == [
            "preparing-file",
            "filed",
            "hearing",
            "judgment",
            "enforcement",
            "closed",
        ]
        assert view["cost_totals"] == {
            "court-fee": Decimal("1234.50"),
            "lawyer-fee": Decimal("7500.25"),
        }
        assert view["cost_total"] == Decimal("8734.75")
        assert {e["kind"]: e["status"] for e in view["evidence"]}["contract"] == "verified"
        case = s.get(CollectionCase, cases["BIG"])
        assert case is not None and case.stage == "junior"  # back to its stage before referral
        actions = s.execute(select(AuditRecord.action).order_by(AuditRecord.id)).scalars().all()
        for action in ("legal.refer", "legal.evidence", "legal.stage", "legal.cost"):
            assert action in actions
        assert verify(s).ok
