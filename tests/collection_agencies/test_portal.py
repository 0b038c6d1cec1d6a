"""Agency users see and work only the cases placed with their agency, masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from daihou.auth.actor import Actor
from daihou.auth.permissions import PermissionDenied
from daihou.collection.agencies.placement import place_case
from daihou.collection.agencies.portal import log_note, my_cases, view_case
from daihou.collection.agencies.recall import recall_case
from daihou.compliance.language.models import LanguageFlag
from daihou.db.engine import transaction
from tests.collection_agencies.helpers import (
    START,
    SUPERVISOR,
    add_test_agency,
    agency_user,
    build_book,
    make_case,
)


def _setup(engine: Engine, tmp_path: Path) -> dict[str, int]:
    build_book(
        engine,
        tmp_path,
        {
            "L1": {"customer_name": "张三丰", "phone": "13812345678"},
            "L2": {},
            "L3": {},
        },
    )
    with transaction(engine) as s:
        add_test_agency(s, "A1")
        add_test_agency(s, "A2")
        cases = {loan: make_case(s, loan, dpd=40, bucket="M2").id for loan in ("L1", "L2", "L3")}
        for loan, agency in (("L1", "A1"), ("L2", "A2")):
            place_case(
                s,
                actor=SUPERVISOR,
                case_id=cases[loan],
                agency_id=agency,
                business_date=START,
                reason="t",
            )
    return cases


def test_agency_user_sees_only_their_cases_masked(engine: Engine, tmp_path: Path) -> None:
    cases = _setup(engine, tmp_path)
    a1 = agency_user("A1")
    with transaction(engine) as s:
        mine = my_cases(s, actor=a1)
        assert [c.case_id for c in mine] == [cases["L1"]]
        view = view_case(s, actor=a1, case_id=cases["L1"])
        assert view.customer.name == "张**"
        assert view.customer.phone == "138****5678"
        assert view.customer.id_number is not None and "*" in view.customer.id_number
        assert view.overdue_amount > 0 and view.bucket == "M2"
        for other in (cases["L2"], cases["L3"]):  # another agency's, and never placed
            with pytest.raises(PermissionDenied):
                view_case(s, actor=a1, case_id=other)
            with pytest.raises(PermissionDenied):
                log_note(s, actor=a1, case_id=other, kind="note", note="called")
        # a user with no agency sees nothing through the agency door
        with pytest.raises(PermissionDenied):
            my_cases(s, actor=Actor(user_id="x", roles=frozenset({"agency-user"})))


def test_recalled_case_is_refused(engine: Engine, tmp_path: Path) -> None:
    cases = _setup(engine, tmp_path)
    a1 = agency_user("A1")
    with transaction(engine) as s:
        log_note(s, actor=a1, case_id=cases["L1"], kind="call", note="客户承诺周五还款")
        recall_case(s, actor=SUPERVISOR, case_id=cases["L1"], reason="recalled")
    with transaction(engine) as s:
        assert my_cases(s, actor=a1) == []
        with pytest.raises(PermissionDenied):
            view_case(s, actor=a1, case_id=cases["L1"])
        with pytest.raises(PermissionDenied):
            log_note(s, actor=a1, case_id=cases["L1"], kind="note", note="again")


def test_a_threatening_note_is_flagged(engine: Engine, tmp_path: Path) -> None:
    cases = _setup(engine, tmp_path)
    with transaction(engine) as s:
        note = log_note(
            s, actor=agency_user("A1"), case_id=cases["L1"], kind="note", note="不还钱就起诉你家人"
        )
        assert note.language_passed is False
        flag = s.execute(select(LanguageFlag)).scalar_one()
        assert (flag.agency_id, flag.object_id) == ("A1", str(note.id))
        with pytest.raises(ValueError, match="kind"):
            log_note(s, actor=agency_user("A1"), case_id=cases["L1"], kind="sms", note="x")
