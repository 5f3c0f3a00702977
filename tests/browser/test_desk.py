"""The committee's desk in a real browser, on a desktop screen, in Chinese: the chair starts a vote from the desk and
fills its configuration with the Civil Code art. 278 preset (the rule's own quorum and threshold hidden by the script
until chosen, the options hidden for a yes/no vote); a consultation's topic form; axe on each page; screenshots
``desk-*.png``."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.kernel.commands import StartInstance
from engine.voting.models import Vote
from tests.browser.conftest import LiveServer
from tests.browser.helpers import Watch, check_accessibility, path_of, screenshot, sign_in
from tests.builders import add_member


@pytest.mark.parametrize("screen", ["desktop"])
def test_the_chair_starts_a_vote_from_the_desk_with_the_civil_code_278_preset(
        page: Page, live_server: LiveServer, neighbours: Any, watch: Watch) -> None:
    engine = live_server.engine
    add_member(engine, neighbours, "owen", ["owner"], household="1-101", area="86.35")
    sign_in(page, neighbours.codes["chair"])
    with page.expect_navigation():
        page.locator("nav a", has_text="工作台").click()
    assert path_of(page) == "/desk"
    expect(page.locator("h1")).to_have_text("工作台：您的角色的待办任务")
    check_accessibility(page)
    screenshot(page, "desk-empty")

    with page.expect_navigation():
        page.get_by_role("link", name="启动流程").click()
    check_accessibility(page)
    screenshot(page, "desk-start")
    page.get_by_label("社区表决").check()
    with page.expect_navigation():
        page.get_by_role("button", name="启动", exact=True).click()
    expect(page.locator("h1")).to_have_text("配置表决")
    custom = page.locator("#f-vote-rule-custom")
    expect(custom).to_be_hidden()
    page.get_by_label("标题", exact=True).fill("动用维修资金")
    page.get_by_label("表决事项").fill("是否同意动用维修资金更换电梯？")
    page.get_by_label("同意／反对／弃权").check()
    expect(page.locator("#f-vote-options")).to_be_hidden()
    page.get_by_label("《民法典》第二百七十八条：一般事项").check()
    page.get_by_label("无记名投票").check()
    page.get_by_label("业主", exact=True).check()
    page.get_by_label("截止时间").fill("2026-03-20T18:00")
    check_accessibility(page)
    screenshot(page, "desk-configure-vote")
    page.get_by_label("自定法定人数和通过比例").check()
    expect(custom).to_be_visible()
    page.get_by_label("《民法典》第二百七十八条：一般事项").check()
    with page.expect_navigation():
        page.get_by_role("button", name="完成任务").click()
    expect(page.locator("h1")).to_have_text("表决进行中——提前结束")
    check_accessibility(page)
    screenshot(page, "desk-vote-open")
    with engine.read() as session:
        vote = session.scalars(select(Vote)).one()
        assert vote.status == "open" and vote.rule.get("preset") == "civil_code_278"


@pytest.mark.parametrize("screen", ["desktop"])
def test_a_consultation_topic_is_written_and_refused_field_by_field_first(
        page: Page, live_server: LiveServer, neighbours: Any, watch: Watch) -> None:
    engine = live_server.engine
    instance_id = engine.execute(StartInstance("consultation"), neighbours["chair"]).id
    sign_in(page, neighbours.codes["chair"])
    page.goto("/desk")
    with page.expect_navigation():
        page.get_by_role("link", name="起草议题").click()
    expect(page.locator("h1")).to_have_text("起草议题")
    watch.allow(r"status of 422")
    with page.expect_navigation():
        page.get_by_role("button", name="完成任务").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#f-title-error")).to_contain_text("请填写“标题”")
    check_accessibility(page)
    screenshot(page, "desk-topic-refused")
    page.get_by_label("标题").fill("自行车棚")
    page.get_by_label("议题说明").fill("自行车棚建在哪里？")
    page.get_by_label("受影响的居民").fill("2-4 号楼")
    page.get_by_label("征求意见截止时间").fill("2026-03-09T18:00")
    with page.expect_navigation():
        page.get_by_role("button", name="完成任务").click()
    expect(page.locator("h1")).to_have_text("征求意见期——提前结束")
    check_accessibility(page)
    screenshot(page, "desk-opinion-period")
    assert instance_id
