"""The acceptance walk: people sign in with their printed codes and walk a consultation, a vote and a convention round
to adoption, in the browser only, in Chinese, on a server in demo mode.

Each person has a browser of their own: the chair (committee) on a desktop screen, the residents alice, bob and carol
on phones, the admin on a desktop for the demo clock. After the community is made (with its sign-in codes, by the
fixtures) nothing is done through the engine, a builder or the API: every step is a page, a link, a form or a button.
axe runs on every kind of page met; screenshots ``walk-*.png`` (``YISHI_README_SCREENSHOTS=1``: for the README)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from engine.bootstrap import Engine, EngineConfig
from engine.kernel.clock import ManualClock
from engine.kernel.db import Database
from tests.browser.conftest import LiveServer, open_context
from tests.browser.helpers import Watch, check_accessibility, path_of, screenshot, sign_in

TOPIC = {"title": "电动车充电桩选址", "description": "拟在北门或3号楼后面安装充电桩。请说说您的看法。",
         "affected": "1至6号楼全体居民"}

CONVENTION = "楼道文明公约"
ARTICLES = ("楼道内不得堆放杂物。", "晚上十点后不得大声喧哗。")
AMENDED = "晚上十一点后不得大声喧哗。"


@pytest.fixture
def engine(database_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[Engine]:
    """The walk's server runs in demo mode (as ``scripts/run`` serves): the admin may move the clock forward."""
    yishi = Engine(Database(database_url), clock, EngineConfig(audit_key=tmp_path / "audit-key.pem", demo=True))
    yield yishi
    yishi.db.dispose()


def go(page: Page, locator: Locator) -> None:
    """Follow a link or press a button that loads another page."""
    with page.expect_navigation():
        locator.click()


def complete(page: Page) -> None:
    go(page, page.get_by_role("button", name="完成任务"))


def desk_task(page: Page, name: str) -> None:
    """From the desk, open the task ``name`` (its link in the task list)."""
    page.goto("/desk")
    go(page, page.locator("main").get_by_role("link", name=name).first)
    expect(page.locator("h1")).to_contain_text(name)


@pytest.mark.parametrize("screen", ["desktop"])
def test_newcomers_walk_a_consultation_a_vote_and_a_convention_to_adoption(
        context: BrowserContext, browser: Browser, live_server: LiveServer, neighbours: Any, watch: Watch) -> None:
    people: dict[str, Page] = {"chair": context.new_page()}
    opened: list[BrowserContext] = []
    for name, screen in (("alice", "phone"), ("bob", "phone"), ("carol", "phone"), ("admin", "desktop")):
        other = open_context(browser, live_server, "zh_CN", screen, watch)
        opened.append(other)
        people[name] = other.new_page()
    try:
        for name, page in people.items():
            sign_in(page, neighbours.codes[name])
        walk(people, watch)
    finally:
        for other in opened:
            other.close()


def walk(people: dict[str, Page], watch: Watch) -> None:
    chair, alice, bob, carol, admin = (people[n] for n in ("chair", "alice", "bob", "carol", "admin"))

    # --- 1. A consultation ----------------------------------------------------------------------------------------
    go(chair, chair.locator("nav").get_by_role("link", name="工作台"))
    assert path_of(chair) == "/desk"
    check_accessibility(chair)
    screenshot(chair, "walk-desk")
    go(chair, chair.get_by_role("link", name="启动流程"))
    check_accessibility(chair)
    chair.get_by_label("社区协商").check()
    go(chair, chair.get_by_role("button", name="启动", exact=True))
    expect(chair.locator("h1")).to_have_text("起草议题")
    chair.get_by_label("标题").fill(TOPIC["title"])
    chair.get_by_label("议题说明").fill(TOPIC["description"])
    chair.get_by_label("受影响的居民").fill(TOPIC["affected"])
    chair.get_by_label("征求意见截止时间").fill("2026-03-09T18:00")
    check_accessibility(chair)
    screenshot(chair, "walk-topic-form")
    complete(chair)
    expect(chair.locator("h1")).to_have_text("征求意见期——提前结束")

    opinions = {"alice": "放在北门，远离儿童游乐区。", "bob": "请在充电桩旁配灭火器。"}
    for name, text in opinions.items():
        resident = people[name]
        resident.goto("/home")
        card = resident.locator("li.card", has_text=TOPIC["title"])
        if name == "alice":
            check_accessibility(alice)
            screenshot(alice, "walk-home")
        go(resident, card.locator("h2 a"))
        expect(resident.locator("h1")).to_have_text(TOPIC["title"])
        resident.get_by_role("textbox", name="您的意见").fill(text)
        go(resident, resident.get_by_role("button", name="提交意见"))
        expect(resident.locator("section.mine blockquote")).to_have_text(text)
    check_accessibility(bob)
    screenshot(bob, "walk-consultation-with-opinion")
    consultation_url = path_of(alice)  # without the fragment the redirect added

    # The chair closes the period early, records the meeting, answers every opinion on the consultation page.
    desk_task(chair, "征求意见期——提前结束")
    chair.get_by_label("提前结束的理由").fill("六栋楼都已反馈。")
    complete(chair)
    expect(chair.locator("h1")).to_have_text("记录协商会议")
    chair.get_by_label("会议日期").fill("2026-03-03")
    chair.locator("#f-attendees-0").fill("王主任")
    go(chair, chair.get_by_role("button", name=re.compile("再添加一项")))
    chair.locator("#f-attendees-1").fill("张阿姨")
    chair.get_by_label("会议纪要").fill("充电桩装在北门，每排配一个灭火器。")
    check_accessibility(chair)
    complete(chair)
    expect(chair.locator("h1")).to_have_text("答复每条意见")
    chair.goto(consultation_url)
    expect(chair.locator(".unanswered strong")).to_have_text("还有 2 条意见未答复。")
    check_accessibility(chair)
    screenshot(chair, "walk-consultation-opinions")
    for name, verdict, reason in (("alice", "采纳", "北门离游乐区最远。"), ("bob", "部分采纳", "每排充电桩配一个灭火器。")):
        form = chair.locator("section.everyone li.opinion", has_text=opinions[name]).locator("form[action$='/answer']")
        form.get_by_label(verdict, exact=True).check()
        form.get_by_label("理由").fill(reason)
        go(chair, form.get_by_role("button", name=re.compile("保存答复")))
        expect(chair.locator(".panel-ok")).to_contain_text("答复已保存")
    go(chair, chair.locator("section.committee-tasks a").first)
    expect(chair.locator("h1")).to_have_text("答复每条意见")
    complete(chair)
    expect(chair.locator("h1")).to_have_text("公布协商结果")
    chair.get_by_label("结果摘要").fill("充电桩装在北门，每排配一个灭火器。")
    complete(chair)

    expect(chair.locator(".panel-ok")).to_contain_text("任务已完成")
    alice.goto(consultation_url)
    expect(alice.locator("section.mine .answer .verdict")).to_have_text("采纳")
    expect(alice.locator("section.outcome .prose")).to_have_text("充电桩装在北门，每排配一个灭火器。")
    check_accessibility(alice)
    screenshot(alice, "walk-answer-shown")

    # --- 2. A vote ------------------------------------------------------------------------------------------------
    chair.goto("/desk/start")
    chair.get_by_label("社区表决").check()
    go(chair, chair.get_by_role("button", name="启动", exact=True))
    expect(chair.locator("h1")).to_have_text("配置表决")
    chair.get_by_label("标题", exact=True).fill("充电桩装在北门")
    chair.get_by_label("表决事项").fill("是否同意把充电桩装在北门？")
    chair.get_by_label("同意／反对／弃权").check()
    chair.get_by_label("自定法定人数和通过比例").check()
    chair.get_by_label("须参与表决的有投票权者比例").fill("1/2")
    chair.get_by_label("通过所需").select_option(label="超过所投票数的一半（简单多数）")
    chair.get_by_label("无记名投票").check()
    chair.get_by_label("居民", exact=True).check()
    chair.get_by_label("截止时间").fill("2026-03-09T18:00")
    check_accessibility(chair)
    screenshot(chair, "walk-vote-configure")
    complete(chair)
    expect(chair.locator("h1")).to_have_text("表决进行中——提前结束")

    receipts: dict[str, str] = {}
    for name, choice in (("alice", "同意"), ("bob", "同意"), ("carol", "反对")):
        resident = people[name]
        resident.goto("/home")
        card = resident.locator("li.card", has_text="充电桩装在北门")
        expect(card.locator(".card__kind")).to_have_text("表决：请投票")
        go(resident, card.locator("a").first)
        expect(resident.locator("h1")).to_have_text("充电桩装在北门")
        if name == "alice":
            check_accessibility(alice)
            screenshot(alice, "walk-ballot")
        resident.get_by_label(choice, exact=True).check()
        go(resident, resident.get_by_role("button", name="继续"))
        expect(resident.locator("h1")).to_have_text("核对你的选票")
        expect(resident.locator(".ballot-summary__choice")).to_have_text(choice)
        if name == "alice":
            check_accessibility(alice)
        go(resident, resident.get_by_role("button", name="确认投票"))
        expect(resident.locator("h1")).to_have_text("你已成功投票")
        receipts[name] = resident.locator("#receipt-code").inner_text().strip()
        if name == "alice":
            check_accessibility(alice)
            screenshot(alice, "walk-receipt")

    desk_task(chair, "表决进行中——提前结束")
    chair.get_by_label("提前结束的理由").fill("三位居民都已投票。")
    complete(chair)
    expect(chair.locator(".panel-ok")).to_contain_text("任务已完成")

    alice.goto("/votes")
    check_accessibility(alice)
    go(alice, alice.locator("main").get_by_role("link", name="充电桩装在北门"))
    expect(alice.locator(".result .lead")).to_have_text("通过")
    alice.get_by_label("你的回执").fill(receipts["alice"])
    go(alice, alice.get_by_role("button", name="核对我的回执"))
    expect(alice.locator("div[role='status']")).to_contain_text("它在公告板上的内容是： 同意")
    check_accessibility(alice)
    screenshot(alice, "walk-result")

    # --- 3. A convention round, to adoption --------------------------------------------------------------------------
    chair.goto("/desk/start")
    chair.get_by_label("社区公约").check()
    go(chair, chair.get_by_role("button", name="启动", exact=True))
    expect(chair.locator("h1")).to_have_text("起草本轮文本")
    chair.get_by_label("公约名称").fill(CONVENTION)
    chair.locator("#f-draft-articles-0-text").fill(ARTICLES[0])
    go(chair, chair.get_by_role("button", name=re.compile("再添加一项")))
    chair.locator("#f-draft-articles-1-text").fill(ARTICLES[1])
    chair.get_by_label("起草说明").fill("居民反映楼道杂物多、夜里吵。")
    chair.get_by_label("修改建议截止时间").fill("2026-03-09T18:00")
    chair.get_by_label("公示天数").fill("3")
    check_accessibility(chair)
    screenshot(chair, "walk-convention-draft-form")
    complete(chair)
    expect(chair.locator("h1")).to_have_text("修改建议征集期——提前结束")

    go(alice, alice.locator("nav.site-nav").get_by_role("link", name="社区公约"))
    check_accessibility(alice)
    go(alice, alice.locator("main").get_by_role("link", name=CONVENTION))
    expect(alice.locator("#draft h3")).to_have_text(["第1条", "第2条"])
    check_accessibility(alice)
    screenshot(alice, "walk-convention-draft")
    convention_url = path_of(alice)
    go(alice, alice.locator("#article-a2").get_by_role("link", name="对这一条提出修改建议"))
    alice.get_by_label("修改本条：写出修改后的全文").check()
    alice.get_by_label("新的条文").fill(AMENDED)
    alice.get_by_label("理由").fill("十点太早，很多人还没下班。")
    check_accessibility(alice)
    go(alice, alice.get_by_role("button", name="提交修改建议"))
    expect(alice.locator(".convention-flash")).to_contain_text("您的修改建议已提交")

    bob.goto(convention_url)
    go(bob, bob.locator("li.amendment").first.get_by_role("button", name=re.compile(r"支持第 \d+ 号修改建议")))
    expect(bob.locator("li.amendment .amendment__support").first).to_have_text("1 位居民支持 （包括您）")
    check_accessibility(bob)
    screenshot(bob, "walk-amendment")

    desk_task(chair, "修改建议征集期——提前结束")
    chair.get_by_label("提前结束的理由").fill("各楼都已提出意见。")
    complete(chair)
    expect(chair.locator("h1")).to_have_text("处理每条修改建议")
    go(chair, chair.get_by_role("link", name="查看居民看到的公约页面"))
    form = chair.locator("form.decision-form").first
    form.get_by_label("采纳", exact=True).check()
    form.get_by_label("理由").fill("多数居民赞成。")
    go(chair, form.get_by_role("button", name=re.compile(r"记录对第 \d+ 号的决定")))
    expect(chair.locator("li.amendment .decision .tag").first).to_have_text("采纳")
    desk_task(chair, "处理每条修改建议")
    complete(chair)
    expect(chair.locator(".panel-ok")).to_contain_text("任务已完成")

    # The text is on public notice for three days: the admin moves the demo clock past it.
    go(admin, admin.locator("nav").get_by_role("link", name="工作台"))
    check_accessibility(admin)
    admin.goto("/desk/demo-clock")  # the desk has no link to it yet: the address is in the README
    expect(admin.locator("h1")).to_have_text("演示时钟")
    expect(admin.locator("main")).to_contain_text(CONVENTION)
    admin.get_by_label("天数").fill("3")
    admin.get_by_label("小时数").fill("1")
    go(admin, admin.get_by_role("button", name="把时钟向前拨"))
    expect(admin.locator(".panel-ok")).to_contain_text(CONVENTION)
    check_accessibility(admin)
    screenshot(admin, "walk-demo-clock")

    # The adoption vote: the convention process called the vote process; the committee configures it.
    desk_task(chair, "配置表决")
    chair.get_by_label("标题", exact=True).fill("表决通过《楼道文明公约》")
    chair.get_by_label("表决事项").fill("是否同意《楼道文明公约》修订稿（版本 2）？")
    chair.get_by_label("同意／反对／弃权").check()
    chair.get_by_label("表决方式的默认规则").check()
    chair.get_by_label("无记名投票").check()
    chair.get_by_label("居民", exact=True).check()
    chair.get_by_label("截止时间").fill("2026-03-20T18:00")
    complete(chair)
    expect(chair.locator("h1")).to_have_text("表决进行中——提前结束")
    for name in ("alice", "bob", "carol"):
        resident = people[name]
        resident.goto("/home")
        go(resident, resident.locator("li.card", has_text="楼道文明公约").locator("a").first)
        resident.get_by_label("同意", exact=True).check()
        go(resident, resident.get_by_role("button", name="继续"))
        go(resident, resident.get_by_role("button", name="确认投票"))
        expect(resident.locator("h1")).to_have_text("你已成功投票")

    # The vote's deadline passes on the demo clock: the ballots are tallied, the text is adopted.
    admin.get_by_label("天数").fill("16")
    go(admin, admin.get_by_role("button", name="把时钟向前拨"))
    expect(admin.locator(".panel-ok")).to_contain_text(CONVENTION)
    desk_task(chair, "公布通过的公约")
    chair.get_by_label("生效日期").fill("2026-03-21")
    complete(chair)
    expect(chair.locator(".panel-ok")).to_contain_text("任务已完成")

    go(alice, alice.locator("nav.site-nav").get_by_role("link", name="社区公约"))
    go(alice, alice.locator("main").get_by_role("link", name=CONVENTION))
    expect(alice.locator("dl.summary dd").nth(1)).to_have_text("版本 2，自2026年3月21日周六起")
    in_force = alice.locator("#in-force")
    expect(in_force.locator("h2")).to_have_text("现行文本：版本 2")
    expect(in_force).to_contain_text(ARTICLES[0])
    expect(in_force).to_contain_text(AMENDED)
    check_accessibility(alice)
    screenshot(alice, "walk-adopted-convention")
