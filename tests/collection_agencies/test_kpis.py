"""Agency KPIs, ranking, the elimination flag, and performance feeding allocation."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from daihou.auth.permissions import PermissionDenied
from daihou.collection.agencies.kpis import agency_kpis, compute_kpis
from daihou.collection.agencies.placement import place_batch, place_case
from daihou.collection.agencies.settings import KpiThresholds, settings
from daihou.compliance.complaints.service import create_complaint
from daihou.compliance.gate.schema import ContactRequest
from daihou.compliance.gate.service import check_contact, record_attempt
from daihou.compliance.language.service import review_note
from daihou.db.engine import transaction
from daihou.payments.service import post_payment
from tests.collection_agencies.helpers import (
    MANAGER,
    START,
    SUPERVISOR,
    add_test_agency,
    agency_user,
    build_book,
    make_case,
    overdue_of,
    set_business_date,
)

SH = ZoneInfo("Asia/Shanghai")
PERIOD = {"start": date(2026, 10, 1), "end": date(2026, 11, 1)}


def _contact(customer: str, agency: str, at: datetime) -> ContactRequest:
    return ContactRequest(
        customer_id=customer,
        channel="call",
        party="borrower",
        at=at,
        organisation=agency,
        address="13800000000",
    )


def _setup(engine: Engine, tmp_path: Path) -> Decimal:
    """Returns A1's placed overdue amount (L1 + L2 at placement)."""
    build_book(engine, tmp_path, {"L1": {}, "L2": {}, "L3": {}})
    with transaction(engine) as s:
        for agency in ("A1", "A2", "A3"):
            add_test_agency(s, agency)
        cases = {loan: make_case(s, loan, dpd=40, bucket="M2").id for loan in ("L1", "L2", "L3")}
        placed = overdue_of(s, "L1") + overdue_of(s, "L2")
        for loan, agency in (("L1", "A1"), ("L2", "A1"), ("L3", "A2")):
            place_case(
                s,
                actor=SUPERVISOR,
                case_id=cases[loan],
                agency_id=agency,
                business_date=START,
                reason="t",
            )
    set_business_date(engine, date(2026, 10, 20))
    with transaction(engine) as s:
        post_payment(
            session=s,
            loan_id="L1",
            amount="500.00",
            value_date=date(2026, 10, 12),
            channel="online",
            reference="p1",
        )
        # complaints on L3: one before placement (not counted), one during
        for received in (
            datetime(2026, 9, 20, 10, tzinfo=SH),
            datetime(2026, 10, 8, 10, tzinfo=SH),
        ):
            create_complaint(
                s,
                actor=MANAGER,
                channel="hotline",
                category="other",
                description="rude call",
                received_at=received,
                loan_id="L3",
            )
        # A2: one connected call and one the gate denies (23:00, quiet hours)
        record_attempt(
            s,
            request=_contact("C-L3", "A2", datetime(2026, 10, 9, 10, tzinfo=SH)),
            outcome="connected",
        )
        denied = check_contact(s, _contact("C-L3", "A2", datetime(2026, 10, 9, 23, tzinfo=SH)))
        assert not denied.allowed
        # A1: two clean notes
        for i in range(2):
            review_note(
                s,
                text="客户表示下周还款",
                author_id="u-A1",
                agency_id="A1",
                object_type="agency-note",
                object_id=str(i),
                at=datetime(2026, 10, 9, 2 + i),
            )
    return Decimal(placed)


def test_kpis_ranking_and_elimination(engine: Engine, tmp_path: Path) -> None:
    placed = _setup(engine, tmp_path)
    config = settings().model_copy(update={"kpis": KpiThresholds(min_placements=1)})
    with transaction(engine) as s:
        kpis = {k.agency_id: k for k in compute_kpis(s, **PERIOD, config=config)}
        with pytest.raises(PermissionDenied):
            agency_kpis(s, actor=agency_user("A1"), **PERIOD)
    a1, a2, a3 = kpis["A1"], kpis["A2"], kpis["A3"]
    assert (a1.placements, a1.placed_amount, a1.recovered) == (2, placed, Decimal("500.00"))
    assert a1.recovery_rate == (Decimal("500.00") / placed).quantize(Decimal("0.000001"))
    assert (a1.complaints, a1.contacts, a1.violations) == (0, 2, 0)
    assert a1.compliance_rate == 1 and a1.complaint_rate == 0
    assert (a2.recovery_rate, a2.complaints, a2.complaint_rate) == (0, 1, 1)
    assert (a2.contacts, a2.violations, a2.compliance_rate) == (2, 1, Decimal("0.5"))
    assert (a1.rank, a2.rank, a3.rank) == (1, 2, 3)
    assert a3.recovery_rate is None and a3.compliance_rate is None and not a3.eliminate
    assert not a1.eliminate
    assert a2.eliminate and len(a2.flags) == 3  # recovery, complaints, compliance
    # too few placements to judge: no flag
    with transaction(engine) as s:
        assert not any(k.eliminate for k in compute_kpis(s, **PERIOD))


def test_better_recovery_gets_the_bigger_share(engine: Engine, tmp_path: Path) -> None:
    _setup(engine, tmp_path)
    build_more = {f"N{i}": {} for i in range(10)}
    from tests.factories import add_loans, loan_row

    add_loans(engine, tmp_path, [loan_row(k, disbursed_on="2026-01-15") for k in build_more])
    with transaction(engine) as s:
        from daihou.collection.agencies.registry import set_status

        set_status(s, actor=MANAGER, agency_id="A3", status="suspended", reason="audit")
        for loan in build_more:
            make_case(s, loan, dpd=35, bucket="M2")
        batch = place_batch(s, actor=SUPERVISOR, business_date=date(2026, 10, 20))
    # A1 ranks first (weight 40), A2 second (30): D'Hondt over 10 cases gives 6 and 4
    assert batch.allocation["A1"]["rank"] == 1 and batch.allocation["A2"]["rank"] == 2
    assert (batch.allocation["A1"]["placed"], batch.allocation["A2"]["placed"]) == (6, 4)
    assert "A3" not in batch.allocation
