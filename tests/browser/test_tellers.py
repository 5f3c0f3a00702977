"""Tellers in a real browser, on a desktop screen, in Chinese: the chair finds a voter by name, enters her paper
ballot, writes the receipt down, then corrects the ballot with a reason (refused first without one); the entries list
names the teller. axe on each page; screenshot ``desk-teller.png``."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.voting.models import Participation
from tests.browser.conftest import LiveServer
from tests.browser.helpers import Watch, check_accessibility, path_of, screenshot, sign_in
from tests.builders import open_vote


@pytest.mark.parametrize("screen", ["desktop"])
def test_a_teller_enters_and_corrects_a_paper_ballot(page: Page, live_server: LiveServer, neighbours: Any, watch: Watch) -> None:
    engine = live_server.engine
    watch.allow(r"status of 422")  # the correction without a reason is refused on purpose
    _, vote_id = open_vote(engine, neighbours, title="楼道粉刷颜色")
    sign_in(page, neighbours.codes["chair"])
    page.goto("/desk")
    with page.expect_navigation():
        page.get_by_role("link", name="纸质选票").click()
    expect(page.locator("h1")).to_have_text("纸质选票：进行中的表决")
    check_accessibility(page)
    with page.expect_navigation():
        page.get_by_role("link", name="楼道粉刷颜色").click()
    assert path_of(page) == f"/desk/votes/{vote_id}/paper"
    page.get_by_label("按姓名或户查找选民").fill("ali")
    with page.expect_navigation():
        page.get_by_role("button", name="查找").click()
    expect(page.locator("table.desk-voters tbody tr")).to_have_count(1)
    check_accessibility(page)
    with page.expect_navigation():
        page.get_by_role("link", name="录入 alice 的选票").click()
    expect(page.locator("h1")).to_have_text("录入 alice 的纸质选票")
    check_accessibility(page)
    page.locator("input[name=choice][value=yes]").check()
    with page.expect_navigation():
        page.get_by_role("button", name="录入选票").click()
    expect(page.locator("h1")).to_have_text("alice 的纸质选票已录入")
    receipt = page.locator("code[data-receipt]").inner_text().strip()
    assert len(receipt) >= 8
    check_accessibility(page)

    page.goto(f"/desk/votes/{vote_id}/paper?q=alice")
    with page.expect_navigation():
        page.get_by_role("link", name="更正 alice 的选票").click()
    expect(page.locator("h1")).to_have_text("更正 alice 的纸质选票")
    page.get_by_label("选民纸条上的回执").fill(receipt)
    page.locator("input[name=choice][value=no]").check()
    with page.expect_navigation():
        page.get_by_role("button", name="更正选票").click()
    expect(page.locator(".error-summary")).to_contain_text("请填写更正原因。")
    expect(page.locator("#reason-error")).to_contain_text("请填写更正原因。")
    check_accessibility(page)
    page.get_by_label("选民纸条上的回执").fill(receipt)
    page.locator("input[name=choice][value=no]").check()
    page.get_by_label("更正原因").fill("纸条上写的是反对，录入时看错了。")
    with page.expect_navigation():
        page.get_by_role("button", name="更正选票").click()
    expect(page.locator("h1")).to_have_text("alice 的纸质选票已更正")

    page.goto(f"/desk/votes/{vote_id}/paper")
    rows = page.locator("table.desk-entries tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("更正")
    expect(rows.nth(0)).to_contain_text("chair")
    expect(rows.nth(0)).to_contain_text("纸条上写的是反对")
    expect(rows.nth(1)).to_contain_text("录入")
    check_accessibility(page)
    screenshot(page, "desk-teller")
    with engine.read() as session:
        (row,) = session.scalars(select(Participation).where(Participation.vote_id == vote_id))
        assert (row.channel, row.changes) == ("paper", 1)
