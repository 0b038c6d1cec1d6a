"""Browser flows in Debian's Chromium (Playwright, never a downloaded browser) against a
real uvicorn server on loopback, with every non-loopback request aborted: sign in with
the keyboard, post a payment and see it on the loan page, dashboard charts drawn
offline, complaint intake, a refused page. Screenshots go to ``test-artefacts/``
(``DAIHOU_TEST_ARTEFACTS``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.web.conftest import ARTEFACTS, PASSWORD, Server

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)"
    ),
]

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, Route, sync_playwright
    from playwright.sync_api import expect as _expect


LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield b
        b.close()


class Offline:
    """Aborts every request that would leave the machine and remembers it."""

    def __init__(self) -> None:
        self.blocked: list[str] = []

    def __call__(self, route: Route) -> None:
        host = urlparse(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()


@pytest.fixture
def page(browser: Browser, server: Server, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="zh-CN", base_url=server.url
    )
    offline = Offline()
    context.route("**/*", offline)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("[", "-").replace("]", "")
    pg.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
    context.close()
    assert offline.blocked == [], f"pages tried to reach the network: {offline.blocked}"
    assert errors == [], f"JavaScript errors: {errors}"


def sign_in(page: Page, user: str, then: str = "/") -> None:
    """Keyboard only: type, Tab, type, Enter."""
    page.goto(f"/login?next={then}")
    page.locator("#username").focus()
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")


def test_sign_in_lands_on_the_role_home(page: Page) -> None:
    sign_in(page, "ops")
    page.wait_for_url("**/loans")
    _expect(page.locator("#loan-list")).to_contain_text("W1")
    _expect(page.locator("header nav")).to_contain_text("贷款")


def test_operations_posts_a_payment_and_sees_it(page: Page) -> None:
    sign_in(page, "ops", "/loans/W2")
    page.get_by_label("金额").first.fill("123.45")
    page.get_by_label("渠道").select_option("counter")
    page.get_by_label("流水号").fill("browser-pay-1")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="提交还款").click()
    _expect(page.locator("p.notice")).to_contain_text("已入账交易")
    row = page.locator("#transactions tr", has_text="browser-pay-1")
    _expect(row).to_contain_text("123.45")
    _expect(row).to_contain_text("已入账")


def test_dashboard_charts_draw_offline(page: Page) -> None:
    sign_in(page, "risk", "/dashboard")
    page.wait_for_selector("body[data-charts-ready='6']", timeout=15000)
    for chart in ("trend", "buckets", "classes", "rolls", "cure", "recoveries"):
        painted = page.evaluate(
            """(id) => {
                const c = document.querySelector('#' + id + ' canvas');
                if (!c) return 0;
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                return n;
            }""",
            f"chart-{chart}",
        )
        assert painted > 500, f"chart {chart} drew {painted} pixels"


def test_complaint_intake(page: Page) -> None:
    sign_in(page, "col", "/complaints/new")
    page.get_by_label("渠道").select_option("hotline")
    page.get_by_label("类别").select_option("harassment")
    page.get_by_label("贷款编号").fill("W1")
    page.get_by_label("描述").fill("browser intake: calls after 21:00")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="提交投诉").click()
    _expect(page.locator("p.notice")).to_contain_text("投诉已受理")


def test_role_without_rights_is_refused(page: Page) -> None:
    sign_in(page, "col", "/dashboard")
    _expect(page.locator("h1")).to_have_text("无权访问")
    _expect(page.locator("header nav")).not_to_contain_text("风险看板")


def test_collector_logs_a_contact_and_a_promise(page: Page, server: Server) -> None:
    """Today's task list by keyboard, the case page, the note's language warning as it is
    typed, a contact logged and a promise recorded."""
    from tests.web.collector_data import at, case_of, task_for

    # W3: the complaint test places a complaint hold on W1's customer, which stops calls
    case_id = case_of(server.book.engine, "W3")
    task = task_for(server.book.engine, "W3")
    sign_in(page, "col")
    page.wait_for_url("**/workbench")
    row = page.locator("#task-list tbody tr[data-href]").first
    _expect(row).to_contain_text("W3")
    _expect(page.locator("#windows")).to_contain_text("08:00–22:00")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "collector-task-list.png"), full_page=True)
    page.keyboard.press("j")
    _expect(row).to_be_focused()
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    page.wait_for_url(f"**/cases/{case_id}?task={task}")
    form = page.locator("#contact-form")
    form.get_by_label("渠道", exact=True).select_option("call")
    form.get_by_label("结果", exact=True).select_option("rpc")
    form.get_by_label("时间（借款人当地时间）", exact=True).fill(at(10).strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("还款态度", exact=True).select_option("cooperative")
    note = form.get_by_label("备注", exact=True)
    note.press_sequentially("再不还就去你单位闹", delay=20)
    _expect(page.locator("#c-note-check")).to_contain_text("该备注将被拒绝", timeout=5000)
    note.fill("")
    note.press_sequentially("客户称下周还款", delay=20)
    _expect(page.locator("#c-note-check")).to_have_text("", timeout=5000)
    with page.expect_navigation(wait_until="load"):
        form.get_by_role("button", name="保存催记").click()
    _expect(page.locator("p.notice")).to_contain_text("已记录催记")
    _expect(page.locator("#contact-history li").first).to_contain_text("客户称下周还款")
    promise = page.locator("#promise-form")
    promise.get_by_label("金额", exact=True).fill("100.00")
    promise.get_by_label("承诺还款日", exact=True).fill("2024-04-10")
    with page.expect_navigation(wait_until="load"):
        promise.get_by_role("button", name="保存承诺").click()
    _expect(page.locator("p.notice")).to_contain_text("已记录承诺还款")
    _expect(page.locator("#promises tbody tr").first).to_contain_text("100.00")
    page.screenshot(path=str(ARTEFACTS / "collector-case-page.png"), full_page=True)
    page.goto("/workbench")
    _expect(page.locator("#task-list tbody tr", has_text="W3").first).to_contain_text("已完成")
