"""Votes in a real browser, on a phone, in Chinese (and, for the plurality and approval ballots, English): a resident opens a yes/no vote from home, casts a ballot through
the confirmation step and keeps the receipt; casts a ranked ballot by keyboard only (Tab, arrow keys, Enter, Space:
the number selects and the move buttons); after the close reads the result and checks the receipt; the bulletin board.
axe on every page; screenshots ``voting-*.png``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.helpers import Watch, check_accessibility, path_of, screenshot, sign_in
from tests.builders import open_vote

OPTIONS = [{"id": "park", "label": "小公园"}, {"id": "bikes", "label": "自行车棚"}, {"id": "parking", "label": "四个车位"}]


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element ``selector`` names has the focus, as a keyboard user moves through the page."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("selector => document.activeElement && document.activeElement.matches(selector)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_resident_votes_keeps_the_receipt_ranks_by_keyboard_and_checks_the_receipt_after_the_close(
        page: Page, context: BrowserContext, live_server: LiveServer, neighbours: Any, watch: Watch) -> None:
    engine = live_server.engine
    _, yes_no = open_vote(engine, neighbours, title="楼道刷成绿色", question="楼道是否刷成绿色？")
    _, ranked = open_vote(engine, neighbours, title="空地用途", question="北门空地做什么用？", method="irv", options=OPTIONS)
    context.grant_permissions(["clipboard-read", "clipboard-write"])

    sign_in(page, neighbours.codes["alice"])
    card = page.locator("li.card", has_text="楼道刷成绿色")
    expect(card.locator(".card__kind")).to_have_text("表决：请投票")
    with page.expect_navigation():
        card.locator("a").click()
    assert path_of(page) == f"/votes/{yes_no}"
    expect(page.locator("h1")).to_have_text("楼道刷成绿色")
    expect(page.locator("[data-turnout-url]")).to_contain_text("4 位有投票权的人中已有 0 位投票")
    check_accessibility(page)
    screenshot(page, "voting-ballot")

    watch.allow(r"status of 422")  # the empty ballot is refused on purpose
    with page.expect_navigation():
        page.get_by_role("button", name="继续").click()
    expect(page.locator("#choice-error")).to_contain_text("请选择一项")
    check_accessibility(page)
    screenshot(page, "voting-ballot-refused")

    page.get_by_label("同意").check()
    with page.expect_navigation():
        page.get_by_role("button", name="继续").click()
    expect(page.locator("h1")).to_have_text("核对你的选票")
    expect(page.locator(".ballot-summary__choice")).to_have_text("同意")
    check_accessibility(page)
    screenshot(page, "voting-confirm")
    with page.expect_navigation():
        page.get_by_role("button", name="确认投票").click()
    expect(page.locator("h1")).to_have_text("你已成功投票")
    receipt = page.locator("#receipt-code").inner_text().strip()
    assert len(receipt) == 32
    page.get_by_role("button", name="复制回执").click()
    expect(page.locator("[data-copy-status]")).to_have_text("已复制")
    assert page.evaluate("() => navigator.clipboard.readText()") == receipt
    expect(page.get_by_role("button", name="打印回执")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "voting-receipt")
    page.goto(f"/votes/{yes_no}")
    assert receipt not in page.content()  # shown once
    expect(page.locator(".notice")).to_contain_text("你已于")

    # The ranked ballot, by keyboard only: 四个车位 first, 小公园 second, 自行车棚 not ranked.
    page.goto(f"/votes/{ranked}")
    expect(page.locator(".ranking__move")).to_have_count(6)  # the script added the move buttons
    check_accessibility(page)
    tab_to(page, "select[name='rank-park']")
    page.keyboard.press("ArrowDown")  # 第1
    expect(page.locator("select[name='rank-park']")).to_have_value("1")
    tab_to(page, "button[aria-label='把“四个车位”上移']")
    page.keyboard.press("Enter")
    expect(page.locator("[data-ranking-status]")).to_have_text("“四个车位”现在是第2。")
    page.keyboard.press("Space")
    expect(page.locator("[data-ranking-status]")).to_have_text("“四个车位”现在是第1。")
    expect(page.locator("select[name='rank-parking']")).to_have_value("1")
    expect(page.locator("select[name='rank-park']")).to_have_value("2")
    expect(page.locator("select[name='rank-bikes']")).to_have_value("")
    expect(page.locator(".ranking__item label")).to_have_text(["四个车位", "小公园", "自行车棚"])
    screenshot(page, "voting-ranked-by-keyboard")
    tab_to(page, "button[value='review']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(".ballot-summary ol li")).to_have_text(["四个车位", "小公园"])
    expect(page.locator(".ballot-summary")).to_contain_text("未排序： 自行车棚")
    check_accessibility(page)
    screenshot(page, "voting-ranked-confirm")
    tab_to(page, "button[value='cast']")
    with page.expect_navigation():
        page.keyboard.press("Space")
    expect(page.locator("h1")).to_have_text("你已成功投票")

    # The close: both deadlines pass, the ballots are tallied.
    live_server.clock.set(datetime(2026, 3, 10, 0, 0, tzinfo=timezone.utc))
    assert engine.fire_due_timers() == 2
    page.goto(f"/votes/{yes_no}")
    expect(page.locator(".result .lead")).to_have_text("通过")
    expect(page.locator("form[action$='/ballot']")).to_have_count(0)
    page.get_by_label("你的回执").fill(receipt)
    with page.expect_navigation():
        page.get_by_role("button", name="核对我的回执").click()
    expect(page.locator("div[role='status']")).to_contain_text("它在公告板上的内容是： 同意")
    check_accessibility(page)
    screenshot(page, "voting-result")
    with page.expect_navigation():
        page.get_by_role("link", name="查看公告板").click()
    expect(page.locator("h1")).to_have_text("公告板")
    expect(page.locator("tbody tr")).to_have_count(1)
    check_accessibility(page)
    screenshot(page, "voting-board")


@pytest.mark.parametrize("locale", ["en"])
def test_in_english_a_resident_casts_a_plurality_and_an_approval_ballot(
        page: Page, live_server: LiveServer, neighbours: Any, locale: str) -> None:
    engine = live_server.engine
    choices = [{"id": "park", "label": "A small park"}, {"id": "bikes", "label": "A bike shed"},
               {"id": "parking", "label": "Four parking spaces"}]
    _, one = open_vote(engine, neighbours, title="The north lot", question="What should the north lot become?",
                       method="plurality", options=choices)
    _, many = open_vote(engine, neighbours, title="Courtyard benches", question="Which may we build?",
                        method="approval", options=choices)
    sign_in(page, neighbours.codes["bob"])

    page.goto(f"/votes/{one}")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    check_accessibility(page)
    page.get_by_label("A bike shed").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    expect(page.locator(".ballot-summary")).to_contain_text("A bike shed")
    check_accessibility(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Cast my ballot").click()
    expect(page.locator("#receipt-code")).to_be_visible()
    screenshot(page, "voting-plurality-receipt-en")

    page.goto(f"/votes/{many}")
    page.get_by_label("A small park").check()
    page.get_by_label("Four parking spaces").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    expect(page.locator(".ballot-summary")).to_contain_text("A small park")
    expect(page.locator(".ballot-summary")).to_contain_text("Four parking spaces")
    expect(page.locator(".ballot-summary")).not_to_contain_text("A bike shed")
    check_accessibility(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Cast my ballot").click()
    expect(page.locator("#receipt-code")).to_be_visible()
    screenshot(page, "voting-approval-receipt-en")
