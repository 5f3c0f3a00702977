"""The notifications page: the member's notifications newest first in their language, each linked to where it is acted
on, new ones tagged, the unread count in the menu, and "mark all as read"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.bootstrap import Engine
from engine.kernel.clock import ManualClock
from engine.kernel.notifications import unread_count
from engine.pdca.commands import AnswerServiceRequest, FileServiceRequest
from tests.builders import Series, consultation, open_vote, pdca_staff
from tests.pages import pages_for

pytestmark = pytest.mark.pages

MENU_COUNT = "//nav[@class='site-nav']//a[@href='/notifications']/span[@class='badge']"


def unread(engine: Engine, actor: Any) -> int:
    with engine.read() as session:
        return unread_count(session, actor)


@pytest.mark.both_backends
def test_a_resident_reads_that_the_committee_answered_their_opinion_and_marks_it_read(
        deployed: Engine, neighbours: Any, clock: ManualClock) -> None:
    consultation(deployed, neighbours, clock, close_early=True)
    browser = pages_for(deployed, neighbours, "alice")
    page = browser.get("/notifications")
    assert page.status == 200 and page.texts("//h1") == ["Notifications"]
    words = page.texts("//p[@class='notification__words']")
    assert words[0] == "Your opinion was answered: adopted."
    assert "An opinion period opened: you may give your opinion." in words
    assert page.texts("//li[contains(@class, 'card--new')]//strong[@class='tag tag--new']") == ["New"] * len(words)
    count = unread(deployed, neighbours["alice"])
    assert count == len(words) >= 2
    assert page.texts(MENU_COUNT) == [f"{count} new"]
    assert page.texts("//p[@class='lead']") == [f"You have {count} new notifications."]

    marked = browser.post("/notifications/read")
    assert marked.status == 302 and marked.location == "/notifications"
    assert unread(deployed, neighbours["alice"]) == 0
    after = browser.get("/notifications")
    assert after.texts("//strong[@class='tag tag--new']") == [] and after.texts(MENU_COUNT) == []
    assert after.texts("//p[@class='lead']") == ["You have no new notification."]
    assert after.tree.xpath("//form[@class='mark-read']") == []
    assert after.texts("//p[@class='notification__words']") == words


def test_the_page_speaks_chinese_and_links_each_notification_to_where_it_is_acted_on(
        deployed: Engine, neighbours: Any, clock: ManualClock) -> None:
    series = Series(deployed, neighbours, pdca_staff(deployed, neighbours), clock).define()
    series.serve()
    made = deployed.execute(FileServiceRequest(series.cycle_id, "complaint", "Late again."), neighbours["alice"])
    clock.advance(timedelta(minutes=10))
    deployed.execute(AnswerServiceRequest(made.id, "Sorry."), neighbours["chair"])
    series.close_period()
    page = pages_for(deployed, neighbours, "alice", "zh_CN").get("/notifications")
    assert page.status == 200 and page.texts("//h1") == ["通知"]
    cards = page.tree.xpath("//ul[contains(@class, 'notifications')]/li")
    shown = [(" ".join(card.xpath("string(.//p[@class='notification__words'])").split()), card.xpath(".//h2/a/@href")) for card in cards]
    assert shown == [
        ("请评价您在第 1 周期接受的服务。", [f"/services/cycles/{series.cycle_id}#rate"]),
        ("您的投诉已得到答复。", [f"/services/cycles/{series.cycle_id}#request-{made.id}"]),
    ]
    assert page.texts("//strong[@class='tag tag--new']") == ["新"] * 2
    assert page.texts(MENU_COUNT) == ["2 条新消息"]
    assert all("年" in text for text in page.texts("//ul[contains(@class, 'notifications')]//time"))


def test_a_kind_no_area_links_yet_is_shown_without_a_link(deployed: Engine, neighbours: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from web import links
    monkeypatch.delitem(links.LINKS, "vote_opened", raising=False)
    open_vote(deployed, neighbours)
    page = pages_for(deployed, neighbours, "bob").get("/notifications")
    assert page.texts("//p[@class='notification__words']") == ["A vote opened: you may cast a ballot."]
    assert page.tree.xpath("//ul[contains(@class, 'notifications')]//h2/a") == []
    assert page.texts("//ul[contains(@class, 'notifications')]//h2") == ["Stairwell colour"]


def test_marking_read_without_the_csrf_token_is_refused(deployed: Engine, neighbours: Any, clock: ManualClock) -> None:
    consultation(deployed, neighbours, clock, close_early=True)
    browser = pages_for(deployed, neighbours, "bob")
    before = unread(deployed, neighbours["bob"])
    refused = browser.post("/notifications/read", csrf=False)
    assert refused.status == 400 and refused.texts("//h1") == ["This form has expired"]
    assert unread(deployed, neighbours["bob"]) == before > 0


def test_marking_read_keeps_new_what_arrived_after_the_page_was_read(deployed: Engine, neighbours: Any, clock: ManualClock) -> None:
    open_vote(deployed, neighbours)
    browser = pages_for(deployed, neighbours, "carol")
    [until] = browser.get("/notifications").tree.xpath("//form[@class='mark-read']/input[@name='until']/@value")
    clock.advance(timedelta(minutes=5))
    open_vote(deployed, neighbours, key="vote")
    assert unread(deployed, neighbours["carol"]) == 2
    browser.post("/notifications/read", {"until": until})
    assert unread(deployed, neighbours["carol"]) == 1
    tampered = browser.post("/notifications/read", {"until": "not a moment\x00"}, from_page="/notifications")
    assert tampered.status == 302 and unread(deployed, neighbours["carol"]) == 0


def test_notifications_are_paged(deployed: Engine, neighbours: Any, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from web.notifications import routes
    monkeypatch.setattr(routes, "PAGE_SIZE", 5)
    for _ in range(6):
        clock.advance(timedelta(minutes=1))
        open_vote(deployed, neighbours)
    browser = pages_for(deployed, neighbours, "alice")
    first = browser.get("/notifications")
    assert len(first.tree.xpath("//ul[contains(@class, 'notifications')]/li")) == 5
    assert first.texts("//nav[@class='pagination']/p") == ["Page 1 of 2"]
    second = browser.get("/notifications?page=2")
    assert len(second.tree.xpath("//ul[contains(@class, 'notifications')]/li")) == 1
    assert second.tree.xpath("//a[@rel='prev']/@href") == ["/notifications?page=1"]
    assert browser.get("/notifications?page=99999999999999999999").status == 200
    assert browser.get("/notifications?page=-3").status == 200


def test_a_visitor_is_sent_to_sign_in(deployed: Engine) -> None:
    from tests.pages import Pages
    assert Pages(deployed).get("/notifications").location == "/sign-in?next=/notifications"
