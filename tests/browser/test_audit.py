"""The auditor's view in a real browser, on a desktop screen, in Chinese: an auditor opens a finished consultation from the
audit overview, sees its diagram drawn by bpmn-js with the executed path marked on the expected elements, steps back to
the opinion period (its open task and armed deadline marked), then verifies the process and reads the verdict.
axe on every page; screenshots ``audit-*.png``."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.helpers import Watch, check_accessibility, path_of, screenshot, sign_in
from tests.builders import consultation

COMPLETED = ["start", "draft_topic", "publish_topic", "opinion_deadline_reached", "period_closed", "enter_deliberation",
             "record_deliberation", "answer_opinions", "publish_outcome", "close_consultation", "end"]
OPINION_PERIOD_SEQ = 7


@pytest.mark.parametrize("screen", ["desktop"])
def test_an_auditor_reads_a_consultations_path_steps_back_and_verifies(page: Page, live_server: LiveServer, neighbours: Any,
                                                                       watch: Watch) -> None:
    instance_id = consultation(live_server.engine, neighbours, live_server.clock, close_early=False)

    sign_in(page, neighbours.codes["auditor"])
    with page.expect_navigation():
        page.get_by_role("navigation", name="主导航").get_by_role("link", name="审计").click()
    assert path_of(page) == "/audit"
    expect(page.locator("h1")).to_have_text("审计")
    check_accessibility(page)
    screenshot(page, "audit-overview")

    with page.expect_navigation():
        page.locator(f"a[href='/audit/instances/{instance_id}']").first.click()
    diagram = page.locator(".audit-diagram[data-rendered='true']")
    expect(diagram.locator("svg").first).to_be_visible()
    for element in COMPLETED:
        expect(page.locator(f"g.djs-element.audit-completed[data-element-id='{element}']")).to_have_count(1)
    expect(page.locator("g.djs-element[data-element-id='opinion_period'].audit-completed")).to_have_count(0)
    expect(page.locator("g.djs-connection.audit-taken[data-element-id='flow_deadline_to_period_closed']")).to_have_count(1)
    expect(page.locator("g.djs-connection[data-element-id='flow_opinion_period_to_period_closed'].audit-taken")).to_have_count(0)
    expect(page.locator(".audit-badge--completed").first).to_contain_text("已完成")
    check_accessibility(page)
    screenshot(page, "audit-instance-finished")

    while page.locator("#travel-title").inner_text() != f"截至第 {OPINION_PERIOD_SEQ} 个事件（共 14 个）":
        with page.expect_navigation():
            page.get_by_role("link", name="上一个事件").click()
    assert path_of(page) == f"/audit/instances/{instance_id}"
    expect(page.locator(".audit-diagram[data-rendered='true'] svg").first).to_be_visible()
    expect(page.locator("g.djs-element.audit-ready[data-element-id='opinion_period']")).to_have_count(1)
    expect(page.locator("g.djs-element.audit-waiting[data-element-id='opinion_deadline_reached']")).to_have_count(1)
    expect(page.locator("g.djs-element[data-element-id='record_deliberation'].audit-completed")).to_have_count(0)
    expect(page.locator("li[data-open-task='opinion_period']")).to_contain_text("居委会")
    check_accessibility(page)
    screenshot(page, "audit-instance-opinion-period")

    page.locator("#as_of").fill("3")  # the slider goes to the event as soon as it is let go
    page.wait_for_url(f"**/audit/instances/{instance_id}?as_of=3")
    expect(page.locator("#travel-title")).to_have_text("截至第 3 个事件（共 14 个）")

    with page.expect_navigation():
        page.get_by_role("button", name="核验").click()
    expect(page.locator("h1")).to_have_text("流程 consultation 的核验结果")
    expect(page.locator("[data-verdict='ok'] h2")).to_have_text("全部检查通过")
    expect(page.locator("tr[data-check] .audit-ok")).to_have_count(6)
    check_accessibility(page)
    screenshot(page, "audit-verdict")
