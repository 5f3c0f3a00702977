"""A consultation in a real browser, on a phone, in Chinese: a resident opens it from home, gives an opinion (an empty
one first), changes it, looks at withdrawing it, and later reads the committee's answer; the committee answers an
opinion on the same page. axe on every page; screenshots ``consultation-*.png``."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from engine.consultation.commands import AnswerOpinion, SubmitOpinion
from tests.browser.conftest import LiveServer
from tests.browser.helpers import Watch, check_accessibility, path_of, screenshot, sign_in
from tests.builders import deliberate, open_consultation

TOPIC = {"title": "电动车充电桩选址", "description": "拟在北门、3号楼后面或车棚旁安装充电桩。\n请说说您的看法。",
         "affected": "1至6号楼全体居民"}


def test_a_resident_gives_an_opinion_from_home_and_later_reads_the_answer(page: Page, live_server: LiveServer, neighbours: Any,
                                                                          watch: Watch) -> None:
    engine = live_server.engine
    instance_id = open_consultation(engine, neighbours, **TOPIC)
    sign_in(page, neighbours.codes["alice"])
    card = page.locator("li.card", has_text="电动车充电桩选址")
    expect(card.locator(".card__kind")).to_have_text("协商：发表您的意见")
    with page.expect_navigation():
        card.locator("h2 a").click()
    assert path_of(page) == f"/consultations/{instance_id}"
    expect(page.locator("h1")).to_have_text("电动车充电桩选址")
    expect(page.locator(".consultation-facts time")).to_have_text("2026年3月9日周一 18:00")
    expect(page.locator(".phase")).to_have_text("征求意见中")
    check_accessibility(page)
    screenshot(page, "consultation-open")

    watch.allow(r"status of 422")  # the empty opinion is refused on purpose
    with page.expect_navigation():
        page.get_by_role("button", name="提交意见").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#text-error")).to_contain_text("请填写您的意见")
    check_accessibility(page)
    screenshot(page, "consultation-opinion-refused")

    page.get_by_role("textbox", name="您的意见").fill("放在北门，远离儿童游乐区。")
    with page.expect_navigation():
        page.get_by_role("button", name="提交意见").click()
    expect(page.locator(".panel-ok")).to_contain_text("您的意见已提交")
    expect(page.locator("section.mine blockquote")).to_have_text("放在北门，远离儿童游乐区。")
    check_accessibility(page)
    screenshot(page, "consultation-opinion-given")

    with page.expect_navigation():
        page.locator("section.mine a", has_text="修改").click()
    expect(page.locator("h1")).to_have_text("修改您的意见")
    check_accessibility(page)
    page.get_by_role("textbox", name="您的意见").fill("放在北门，远离儿童游乐区，并配灭火器。")
    screenshot(page, "consultation-opinion-edit")
    with page.expect_navigation():
        page.get_by_role("button", name="保存修改").click()
    expect(page.locator(".panel-ok")).to_contain_text("您的意见已修改")
    expect(page.locator("section.mine blockquote")).to_have_text("放在北门，远离儿童游乐区，并配灭火器。")

    with page.expect_navigation():
        page.locator("section.mine a", has_text="撤回").click()
    expect(page.locator("h1")).to_have_text("确定撤回您的意见吗？")
    check_accessibility(page)
    screenshot(page, "consultation-withdraw-confirm")
    with page.expect_navigation():
        page.get_by_role("link", name="不撤回，保留").click()
    assert path_of(page) == f"/consultations/{instance_id}"

    (opinion_id,) = [int(node.split("-")[1]) for node in page.locator("section.mine li").evaluate_all("nodes => nodes.map(n => n.id)")]
    deliberate(engine, neighbours, instance_id, minutes="北门离游乐区最远，决定装在北门。")
    engine.execute(AnswerOpinion(opinion_id, "partly_adopted", "充电桩装在北门；灭火器每排配一个。"), neighbours["chair"])
    page.reload()
    answer = page.locator(f"#opinion-{opinion_id} .answer")
    expect(answer.locator(".verdict")).to_have_text("部分采纳")
    expect(answer.locator(".answer__reason")).to_have_text("充电桩装在北门；灭火器每排配一个。")
    expect(page.locator("section.meeting .prose")).to_have_text("北门离游乐区最远，决定装在北门。")
    expect(page.locator("textarea")).to_have_count(0)
    check_accessibility(page)
    screenshot(page, "consultation-answered")


def test_the_committee_answers_an_opinion_on_the_consultation_page(page: Page, live_server: LiveServer, neighbours: Any,
                                                                    watch: Watch) -> None:
    engine = live_server.engine
    instance_id = open_consultation(engine, neighbours, **TOPIC)
    opinion_id = engine.execute(SubmitOpinion(instance_id, "请加装灭火器。"), neighbours["bob"]).id
    deliberate(engine, neighbours, instance_id)
    sign_in(page, neighbours.codes["clerk"])
    page.goto("/consultations")
    check_accessibility(page)
    screenshot(page, "consultation-list-committee")
    with page.expect_navigation():
        page.get_by_role("link", name="电动车充电桩选址").click()
    expect(page.locator(".unanswered strong")).to_have_text("还有 1 条意见未答复。")
    check_accessibility(page)

    watch.allow(r"status of 422")  # the answer without a verdict is refused on purpose
    form = page.locator(f"form[action='/opinions/{opinion_id}/answer']")
    form.get_by_label("理由").fill("每排充电桩配一个灭火器。")
    with page.expect_navigation():
        form.get_by_role("button", name="保存答复").click()
    expect(page.locator(f"#answer-{opinion_id}-verdict-error")).to_contain_text("请选择答复结论")
    check_accessibility(page)
    screenshot(page, "consultation-answer-refused")

    form = page.locator(f"form[action='/opinions/{opinion_id}/answer']")
    form.get_by_label("采纳", exact=True).check()
    with page.expect_navigation():
        form.get_by_role("button", name="保存答复").click()
    expect(page.locator(".panel-ok")).to_contain_text("答复已保存")
    expect(page.locator(f"#all-opinion-{opinion_id} .verdict")).to_have_text("采纳")
    check_accessibility(page)
    screenshot(page, "consultation-answered-committee")
