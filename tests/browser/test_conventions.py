"""The community convention in a real browser, on a phone, in Chinese: a resident reads the draft article by article,
proposes an amendment (first without a reason, refused beside the field), another resident supports it and comments;
the committee decides it on the convention page; the diff page shows the changed characters inline and side by side.
axe on every page; screenshots ``convention-*.png``."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.helpers import Watch, check_accessibility, path_of, screenshot, sign_in, sign_out
from tests.builders import complete_task, convention_of, open_drafting


def test_residents_amend_the_draft_the_committee_decides_and_the_diff_shows_the_change(
        page: Page, live_server: LiveServer, neighbours: Any, watch: Watch) -> None:
    engine = live_server.engine
    instance_id = open_drafting(engine, neighbours)
    convention_id = convention_of(engine, instance_id)

    # Alice reads the draft and proposes to change article 1.
    sign_in(page, neighbours.codes["alice"])
    with page.expect_navigation():
        page.locator("nav.site-nav").get_by_role("link", name="社区公约").click()
    expect(page.locator("h1")).to_have_text("社区公约")
    check_accessibility(page)
    screenshot(page, "convention-index")
    with page.expect_navigation():
        page.get_by_role("link", name="邻里公约").click()
    assert path_of(page) == f"/conventions/{convention_id}"
    expect(page.locator("#draft h3")).to_have_text(["第1条", "第2条", "第3条"])
    check_accessibility(page)
    screenshot(page, "convention-draft")

    with page.expect_navigation():
        page.locator("#article-a1").get_by_role("link", name="对这一条提出修改建议").click()
    expect(page.locator("h1")).to_have_text("对第1条提出修改建议")
    check_accessibility(page)
    page.get_by_role("button", name="把现在的条文复制到框里修改").click()
    expect(page.get_by_label("新的条文")).to_have_value("晚上十点后不得大声喧哗。")
    expect(page.get_by_label("修改本条：写出修改后的全文")).to_be_checked()
    page.get_by_label("新的条文").fill("晚上十一点后不得大声喧哗。")
    watch.allow(r"status of 422")  # the proposal without a reason is refused on purpose
    with page.expect_navigation():
        page.get_by_role("button", name="提交修改建议").click()
    expect(page.locator("#rationale-error")).to_contain_text("请说明修改理由")
    expect(page.get_by_label("新的条文")).to_have_value("晚上十一点后不得大声喧哗。")
    check_accessibility(page)
    screenshot(page, "convention-propose-refused")
    page.get_by_label("理由").fill("十点太早，很多人还没下班。")
    with page.expect_navigation():
        page.get_by_role("button", name="提交修改建议").click()
    expect(page.locator(".convention-flash")).to_contain_text("您的修改建议已提交")
    amendment = page.locator("li.amendment").first
    expect(amendment.locator("ins")).to_contain_text("一")
    check_accessibility(page)
    screenshot(page, "convention-amendment-proposed")
    sign_out(page)

    # Bob supports it and comments on article 3.
    sign_in(page, neighbours.codes["bob"])
    page.goto(f"/conventions/{convention_id}")
    with page.expect_navigation():
        page.locator("li.amendment").first.get_by_role("button").click()
    expect(page.locator("li.amendment .amendment__support").first).to_have_text("1 位居民支持 （包括您）")
    with page.expect_navigation():
        page.locator("#article-a3").get_by_role("link", name="评论这一条").click()
    check_accessibility(page)
    page.get_by_label("您的评论").fill("拴绳对孩子更安全。")
    with page.expect_navigation():
        page.get_by_role("button", name="发布我的评论").click()
    expect(page.locator("#article-a3 .comment__text")).to_have_text("拴绳对孩子更安全。")
    check_accessibility(page)
    screenshot(page, "convention-supported-and-commented")
    sign_out(page)

    # The period closes; the chair decides on the page and finishes the review.
    complete_task(engine, neighbours, instance_id, "amendment_period", {"reason": "大家都发表了意见。"})
    sign_in(page, neighbours.codes["chair"])
    page.goto(f"/conventions/{convention_id}")
    form = page.locator("form.decision-form").first
    form.get_by_label("采纳", exact=True).check()
    form.get_by_label("理由").fill("多数居民赞成。")
    check_accessibility(page)
    screenshot(page, "convention-committee-decides")
    with page.expect_navigation():
        form.get_by_role("button").click()
    expect(page.locator("li.amendment .decision .tag").first).to_have_text("采纳")
    complete_task(engine, neighbours, instance_id, "review_amendments", {})

    # Version 2 is consolidated: the diff marks the inserted character, inline and side by side.
    page.goto(f"/conventions/{convention_id}")
    with page.expect_navigation():
        page.get_by_role("link", name="查看本轮的改动：版本 1 到版本 2").click()
    expect(page.locator("#diff-a1 ins")).to_have_text("[插入： 一]")
    expect(page.locator("#diff-a1 .tag")).to_have_text("已修改")
    check_accessibility(page)
    screenshot(page, "convention-diff-inline")
    with page.expect_navigation():
        page.get_by_role("link", name="左右对照").click()
    expect(page.locator("#diff-a1 .diff__side-label")).to_have_text(["版本 1", "版本 2"])
    expect(page.locator("#diff-a1 .diff__side").nth(1).locator("ins")).to_have_text("[插入： 一]")
    check_accessibility(page)
    screenshot(page, "convention-diff-side-by-side")
