"""Service quality in a real browser, on a phone, in Chinese: a resident served in a cycle opens the rating from home,
sends it without a score first, then rates the service; reads the answer to her complaint on the services page, the
series report with its charts and tables once the cycle is checked, and her notifications, which she marks read.
axe on every page; screenshots ``pdca-*.png`` and ``notifications.png``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.sync_api import Page, expect

from engine.pdca.commands import AnswerServiceRequest, FileServiceRequest
from engine.pdca.queries import series_of
from tests.browser.conftest import LiveServer
from tests.browser.helpers import Watch, check_accessibility, path_of, screenshot, sign_in
from tests.builders import Series, pdca_staff


def test_a_resident_rates_a_service_and_reads_her_notifications(page: Page, live_server: LiveServer, neighbours: Any,
                                                               watch: Watch) -> None:
    engine, clock = live_server.engine, live_server.clock
    series = Series(engine, neighbours, pdca_staff(engine, neighbours), clock).define(service="1-6 号楼维修")
    series.serve(hours=(6, 12, 30))
    complaint = engine.execute(FileServiceRequest(series.cycle_id, "complaint", "水管工晚来了两天。"), neighbours["alice"])
    clock.advance(timedelta(hours=2))
    engine.execute(AnswerServiceRequest(complaint.id, "抱歉，那周人手不够，已增加值班人员。"), neighbours["chair"])
    series.close_period()

    sign_in(page, neighbours.codes["alice"])
    card = page.locator("li.card", has_text="1-6 号楼维修")
    expect(card.locator(".card__kind")).to_have_text("服务质量：评价一项服务")
    with page.expect_navigation():
        card.locator("h2 a").click()
    assert path_of(page) == f"/services/cycles/{series.cycle_id}"
    expect(page.locator("h1")).to_have_text("1-6 号楼维修 · 第 1 周期")
    expect(page.locator("#score legend")).to_have_text("这次服务怎么样？")
    check_accessibility(page)
    screenshot(page, "pdca-cycle-rating")

    watch.allow(r"status of 422")  # the rating without a score is refused on purpose
    with page.expect_navigation():
        page.get_by_role("button", name="提交我的评价").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#score-error")).to_contain_text("请选择您对服务的评价")
    check_accessibility(page)
    screenshot(page, "pdca-rating-refused")

    page.get_by_label("好 (4/5)", exact=True).check()
    page.get_by_label("意见（可不填）").fill("修得很快，就是来晚了。")
    with page.expect_navigation():
        page.get_by_role("button", name="提交我的评价").click()
    expect(page.locator(".panel-ok")).to_contain_text("您对本周期服务的评价：好（4 分，满分 5 分）")
    expect(page.locator("#score")).to_have_count(0)
    expect(page.locator(f"#request-{complaint.id} .answer")).to_have_text("抱歉，那周人手不够，已增加值班人员。")
    check_accessibility(page)
    screenshot(page, "pdca-rated")

    series.complete("rating_window", {"reason": "评价已收齐。"})
    with page.expect_navigation():
        page.locator("nav.site-nav a", has_text="服务质量").click()
    expect(page.locator("h1")).to_have_text("服务质量")
    expect(page.locator(f"#request-{complaint.id} .tag")).to_have_text("已答复")
    check_accessibility(page)
    screenshot(page, "pdca-services")

    with page.expect_navigation():
        page.get_by_role("link", name="1-6 号楼维修").first.click()
    with engine.read() as session:
        series_id = series_of(session, series.instance_id).id
    assert path_of(page) == f"/services/series/{series_id}"
    charts = page.locator("figure.chart img")
    expect(charts).to_have_count(2)
    assert all(charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(2))
    expect(page.locator("table[data-indicator='satisfaction'] td.value")).to_have_text(["100"])
    check_accessibility(page)
    screenshot(page, "pdca-series")

    badge = page.locator("nav.site-nav a[href='/notifications'] .badge")
    expect(badge).to_contain_text("2")
    with page.expect_navigation():
        page.locator("nav.site-nav a[href='/notifications']").click()
    expect(page.locator("h1")).to_have_text("通知")
    expect(page.locator(".notification__words")).to_have_text(["请评价您在第 1 周期接受的服务。", "您的投诉已得到答复。"])
    expect(page.locator(".tag--new")).to_have_count(2)
    check_accessibility(page)
    screenshot(page, "notifications")
    with page.expect_navigation():
        page.get_by_role("button", name="全部标为已读").click()
    expect(page.locator(".tag--new")).to_have_count(0)
    expect(badge).to_have_count(0)
    with page.expect_navigation():
        page.locator("ul.notifications h2 a").last.click()
    assert path_of(page) == f"/services/cycles/{series.cycle_id}"


def test_the_committee_assigns_a_corrective_action_on_a_phone_in_chinese(page: Page, live_server: LiveServer, neighbours: Any,
                                                                          watch: Watch) -> None:
    """The chair opens a cycle that missed two indicators, sends the first assign form empty (refused beside its fields),
    then fills it: the action is listed with its status, who and its due date in words. axe on the form both times."""
    from zoneinfo import ZoneInfo

    from tests.builders import series_missed
    engine, clock = live_server.engine, live_server.clock
    series = series_missed(engine, neighbours, pdca_staff(engine, neighbours), clock)
    sign_in(page, neighbours.codes["chair"])
    page.goto(f"/services/cycles/{series.cycle_id}")
    expect(page.locator("#actions .notice")).to_have_text("现在由居委会为每项未达标指标指定整改措施。")
    expect(page.locator(".missed-list .tag")).to_have_text(["尚无整改措施", "尚无整改措施"])
    form = page.locator("#assign-satisfaction")
    check_accessibility(page)
    screenshot(page, "pdca-actions-assign")

    watch.allow(r"status of 422")  # the empty form is refused on purpose
    with page.expect_navigation():
        form.get_by_role("button", name="指定这项措施").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#assign-satisfaction-description-error")).to_contain_text("请描述整改措施")
    expect(page.locator("#assign-satisfaction-due-date-error")).to_contain_text("请填写截止日期")
    check_accessibility(page)
    screenshot(page, "pdca-actions-assign-refused")

    due = (clock.now().astimezone(ZoneInfo("Asia/Shanghai")) + timedelta(days=10)).date()
    form = page.locator("#assign-satisfaction")
    form.get_by_label("将采取的措施").fill("对维修人员进行服务礼仪培训。")
    form.get_by_label("截止日期").fill(due.isoformat())
    with page.expect_navigation():
        form.get_by_role("button", name="指定这项措施").click()
    card = page.locator("#actions li.card")
    expect(card).to_have_count(1)
    expect(card.locator("dd strong.tag")).to_have_text("已布置")
    expect(card.locator("time")).to_have_text(f"{due.year}年{due.month}月{due.day}日周{'一二三四五六日'[due.weekday()]}")
    expect(page.locator(".missed-list .tag")).to_have_text(["已有整改措施", "尚无整改措施"])
    check_accessibility(page)
    screenshot(page, "pdca-actions-assigned")
