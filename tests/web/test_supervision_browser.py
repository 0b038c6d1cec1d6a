"""Browser flows of the supervisor and agency pages in Debian's Chromium (the set-up of
``test_browser``: real uvicorn on loopback, every other request aborted, screenshots
in ``test-artefacts/``): a supervisor approves a plan a senior collector requested and
a placement a junior collector proposed; an
agency user is refused a case not placed with the agency; the team board's chart
draws offline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from daihou.collection.approval_models import ApprovalRequest
from daihou.collection.models import CollectionCase
from daihou.collection.proposals import propose
from daihou.db.engine import transaction
from tests.web.conftest import Book, Server, open_book
from tests.web.supervision_book import actor, build, facts
from tests.web.test_browser import CHROMIUM, browser, page, sign_in

__all__ = ["browser", "page"]  # fixtures shared with test_browser

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)"
    ),
]

if CHROMIUM.exists():
    from playwright.sync_api import Page
    from playwright.sync_api import expect as _expect


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def book(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Book]:
    yield from open_book(str(request.param), tmp_path_factory, build)


def test_supervisor_approves_a_plan_a_collector_requested(page: Page, server: Server) -> None:
    request_id = facts(server.book.engine).plans["A"]  # requested by sen (senior collector)
    sign_in(page, "sup", "/approvals")
    row = page.locator(f'#approval-inbox tr[data-request="{request_id}"]')
    _expect(row).to_contain_text("分期还款")
    _expect(row).to_contain_text("sen")
    with page.expect_navigation(wait_until="load"):
        row.locator(f'a[href="/approvals/{request_id}"]').click()
    _expect(page.locator("#request-status")).to_have_text("待审批")
    page.get_by_label("审批意见").fill("收入证明齐全，同意分期")
    page.keyboard.press("Tab")  # the keyboard reaches 批准 next
    _expect(page.get_by_role("button", name="批准")).to_be_focused()
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    _expect(page.locator("p.notice")).to_contain_text("已批准")
    _expect(page.locator("#request-status")).to_have_text("已批准")
    _expect(page.locator("#request-basis")).to_contain_text("approvals.limits.plan.supervisor")
    _expect(page.locator("#decision-form")).to_have_count(0)
    with transaction(server.book.engine) as s:
        req = s.get(ApprovalRequest, request_id)
        assert req is not None
        assert (req.status, req.decided_by, req.requested_by) == ("approved", "sup", "sen")


def test_supervisor_approves_a_placement_a_collector_proposed(page: Page, server: Server) -> None:
    case_id = facts(server.book.engine).cases["S9"]  # col's case, 47 days past due
    with transaction(server.book.engine) as s:
        request_id = propose(
            s, actor=actor("col"), kind="placement", case_id=case_id, reason="电话长期无人接听"
        ).id
    sign_in(page, "sup", "/approvals?kind=placement")
    row = page.locator(f'#approval-inbox tr[data-request="{request_id}"]')
    _expect(row).to_contain_text("委外提议")
    _expect(row).to_contain_text("col")
    with page.expect_navigation(wait_until="load"):
        row.locator(f'a[href="/approvals/{request_id}"]').click()
    _expect(page.locator("#request-payload")).to_contain_text(str(case_id))
    page.get_by_label("审批意见").fill("同意委外")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="批准").click()
    _expect(page.locator("#request-status")).to_have_text("已批准")
    _expect(page.locator("#request-basis")).to_contain_text("approvals.limits.placement.supervisor")
    with transaction(server.book.engine) as s:
        case = s.get(CollectionCase, case_id)
        assert case is not None and case.agency_id is not None and case.stage == "agency"


def test_supervisor_sees_maker_checker_on_own_request(page: Page, server: Server) -> None:
    own = facts(server.book.engine).plans["C"]  # requested by sup himself
    sign_in(page, "sup", f"/approvals/{own}")
    _expect(page.locator("#cannot-decide")).to_contain_text("四眼原则")
    _expect(page.locator("#decision-form")).to_have_count(0)


def test_agency_user_is_refused_a_case_not_placed_with_it(page: Page, server: Server) -> None:
    cases = facts(server.book.engine).cases
    sign_in(page, "agy", "/portal")
    _expect(page.locator("#placed-cases")).to_contain_text("S6")
    _expect(page.locator("#placed-cases")).not_to_contain_text("S3")
    _expect(page.locator("header nav")).to_contain_text("委外案件")
    page.goto(f"/portal/cases/{cases['S3']}")
    _expect(page.locator("h1")).to_have_text("无权访问")
    _expect(page.locator("main")).to_contain_text("outside their scope (agency)")


def test_team_board_chart_draws_offline(page: Page, server: Server) -> None:
    on = facts(server.book.engine).on
    sign_in(page, "sup", f"/supervisor?date={on.isoformat()}")
    _expect(page.locator("#team-board")).to_contain_text("66.67%")
    page.wait_for_selector("body[data-charts-ready='1']", timeout=15000)
    painted = page.evaluate(
        """() => {
            const c = document.querySelector('#chart-board canvas');
            if (!c) return 0;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
            return n;
        }"""
    )
    assert painted > 500, f"the board chart drew {painted} pixels"


def test_agency_user_logs_an_action_on_a_placed_case(page: Page, server: Server) -> None:
    cases = facts(server.book.engine).cases
    sign_in(page, "agy", "/portal")
    with page.expect_navigation(wait_until="load"):
        page.locator(f'a[href="/portal/cases/{cases["S6"]}"]').click()
    _expect(page.locator("#placed-case")).to_contain_text("*")  # masked customer data
    page.get_by_label("行动").select_option("visit")
    page.get_by_label("备注").fill("上门拜访，客户承诺周五还款")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="记录行动").click()
    _expect(page.locator("p.notice")).to_contain_text("已记录行动")
    _expect(page.locator("#agency-notes")).to_contain_text("上门拜访，客户承诺周五还款")


def test_agency_management_with_commission_statement(page: Page, server: Server) -> None:
    month = facts(server.book.engine).on.strftime("%Y-%m")
    sign_in(page, "mgr", "/agencies")
    _expect(page.locator("#agency-ranking")).to_contain_text("agy-1")
    with page.expect_navigation(wait_until="load"):
        page.locator('a[href="/agencies/agy-1"]').click()
    _expect(page.locator("h2").first).to_contain_text(f"佣金结算单 {month}")
    _expect(page.locator("#active-placements")).to_contain_text("/ 50")
    _expect(page.locator("#commission-statement")).to_contain_text("S6")
    _expect(page.locator("#commission-statement")).to_contain_text("200.00")
    link = page.get_by_role("link", name="下载 xlsx")
    assert link.get_attribute("href") == f"/api/v1/agencies/agy-1/statements/{month}/xlsx"
