"""The agency registry: validation, permission, audit with basis, effective rates."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from daihou.auth.actor import Actor
from daihou.auth.permissions import PermissionDenied
from daihou.collection.agencies.registry import (
    AgencyTerms,
    add_agency,
    commission_rate,
    get_agency,
    update_agency,
    usable_on,
)
from daihou.compliance.audit.models import AuditRecord
from daihou.compliance.audit.service import verify
from daihou.db.engine import transaction
from tests.collection_agencies.helpers import MANAGER, START, add_test_agency, build_book


def _terms(**overrides: object) -> AgencyTerms:
    base: dict[str, object] = {
        "name": "乙公司",
        "licence_no": "L-9",
        "licence_expires_on": date(2026, 12, 31),
        "contract_from": date(2026, 1, 1),
        "contract_until": date(2027, 6, 30),
        "max_cases": 10,
    }
    base.update(overrides)
    return AgencyTerms(**base)  # type: ignore[arg-type]


def test_bad_terms_are_refused_naming_each_field(engine: Engine, tmp_path: Path) -> None:
    build_book(engine, tmp_path, {})
    with transaction(engine) as s:
        with pytest.raises(ValueError) as err:
            add_agency(
                s,
                actor=MANAGER,
                agency_id="B1",
                terms=_terms(
                    name=" ",
                    contract_until=date(2025, 1, 1),
                    max_cases=-1,
                    buckets=["M9"],
                    contacts=[{"phone": "1"}],
                ),
                reason="r",
            )
        message = str(err.value)
        for field in ("name", "contract_until", "max_cases", "buckets", "contacts[0].name"):
            assert field in message
        with pytest.raises(ValueError, match=r"commission_rates\[M2\]"):
            add_agency(
                s, actor=MANAGER, agency_id="B1", terms=_terms(commission_rates={"M2": "1.5"}),
                reason="r",
            )  # fmt: skip
        with pytest.raises(ValueError, match="unknown bucket"):
            add_agency(
                s, actor=MANAGER, agency_id="B1", terms=_terms(commission_rates={"X": "0.1"}),
                reason="r",
            )  # fmt: skip
        with pytest.raises(PermissionDenied):
            add_agency(
                s,
                actor=Actor(user_id="c", roles=frozenset({"collector-senior"})),
                agency_id="B1",
                terms=_terms(),
                reason="r",
            )
        with pytest.raises(PermissionDenied):  # agency users do not manage agencies
            add_agency(
                s,
                actor=Actor(user_id="a", roles=frozenset({"agency-user"}), agency_id="B1"),
                agency_id="B1",
                terms=_terms(),
                reason="r",
            )


def test_rates_usability_and_audit(engine: Engine, tmp_path: Path) -> None:
    build_book(engine, tmp_path, {})
    with transaction(engine) as s:
        add_test_agency(s, "A1", rates={"M3": "20%"})
        with pytest.raises(ValueError, match="already exists"):
            add_test_agency(s, "A1")
        agency = get_agency(s, "A1")
        assert commission_rate(agency, "M3") == Decimal("0.2")  # contract
        assert commission_rate(agency, "M2") == Decimal("0.15")  # pack default
        assert usable_on(agency, START) == []
        update_agency(
            s,
            actor=MANAGER,
            agency_id="A1",
            terms=_terms(licence_expires_on=date(2026, 9, 30)),
            reason="licence renewal pending",
        )
        problems = usable_on(get_agency(s, "A1"), START)
        assert problems == ["licence expired on 2026-09-30"]
        assert usable_on(get_agency(s, "A1"), date(2027, 7, 1))[-1].startswith("outside contract")
    with transaction(engine) as s:
        records = (
            s.execute(
                select(AuditRecord).where(AuditRecord.object_id == "A1").order_by(AuditRecord.id)
            )
            .scalars()
            .all()
        )
        assert [r.action for r in records] == ["agency.add", "agency.update"]
        basis = json.loads(records[-1].basis or "{}")
        assert (basis["role"], basis["reason"]) == ("manager", "licence renewal pending")
        assert verify(s).ok
