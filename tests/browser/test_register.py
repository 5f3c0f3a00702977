"""The community register in a real browser, on a desktop screen, in Chinese: the admin opens the register from the
menu, uploads a register file with one bad line and sees it refused whole (every line shown, the bad one named, no
import button), then a good file previewed and imported; axe on each page; screenshots ``register-*.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from engine.identity.models import Member
from tests.browser.conftest import LiveServer
from tests.browser.helpers import Watch, check_accessibility, path_of, screenshot, sign_in

BAD = "姓名,角色,户号,面积\n张阿姨,居民,3-402,\n王先生,居民 业主,5-101,八十六\n李委员,居委会 居民,1-201,\n"
GOOD = BAD.replace("八十六", "86.35")


def members(live_server: LiveServer, community_id: int) -> int:
    with live_server.engine.read() as session:
        return session.scalar(select(func.count()).select_from(Member).where(Member.community_id == community_id))


@pytest.mark.parametrize("screen", ["desktop"])
def test_an_admin_imports_a_register_refused_whole_for_one_bad_line_then_whole(
        page: Page, live_server: LiveServer, neighbours: Any, watch: Watch, tmp_path: Path) -> None:
    watch.allow(r"/register/import: Failed to load resource: .*422")  # the refused preview answers 422, as a form with errors does
    sign_in(page, neighbours.codes["admin"])
    with page.expect_navigation():
        page.locator("nav a", has_text="名册").click()
    assert path_of(page) == "/register"
    expect(page.locator("h1")).to_have_text("社区名册")
    check_accessibility(page)
    screenshot(page, "register-list")

    with page.expect_navigation():
        page.get_by_role("link", name="导入名册文件").click()
    check_accessibility(page)
    bad = tmp_path / "名册.csv"
    bad.write_bytes(BAD.encode("gbk"))
    page.get_by_label("名册文件（CSV）").set_input_files(str(bad))
    with page.expect_navigation():
        page.get_by_role("button", name="预览导入").click()
    expect(page.locator("h1")).to_have_text("核对导入内容")
    expect(page.locator(".register-errors li")).to_have_text(["第 3 行 面积：不是正数的平方米面积（最多 4 位小数），例如 86.35"])
    expect(page.locator("table.register-table tbody tr")).to_have_count(3)
    expect(page.get_by_role("button", name="导入 3 名成员")).to_have_count(0)
    check_accessibility(page)
    screenshot(page, "register-refused")
    assert members(live_server, neighbours.id) == 7

    with page.expect_navigation():
        page.get_by_role("link", name="上传其他文件").click()
    good = tmp_path / "register.csv"
    good.write_bytes(GOOD.encode("gbk"))
    page.get_by_label("名册文件（CSV）").set_input_files(str(good))
    with page.expect_navigation():
        page.get_by_role("button", name="预览导入").click()
    expect(page.locator("dl.summary dd").first).to_have_text("GBK")
    check_accessibility(page)
    screenshot(page, "register-preview")
    with page.expect_navigation():
        page.get_by_role("button", name="导入 3 名成员").click()
    expect(page.locator(".panel-ok h2")).to_have_text("已导入 3 名成员")
    assert members(live_server, neighbours.id) == 10
    with page.expect_navigation():
        page.get_by_role("link", name="打印登录信").click()
    expect(page.locator("h1")).to_have_text("打印登录信")
    check_accessibility(page)
    screenshot(page, "register-letters")
