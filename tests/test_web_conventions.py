"""The community convention's pages: reading the text and the draft, proposing, supporting, withdrawing and commenting,
the committee's decisions, and the difference between two versions — each checked against the engine."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.bootstrap import Engine
from engine.conventions.models import Amendment, AmendmentSupport, ArticleComment
from engine.kernel.clock import ManualClock
from tests.builders import (
    complete_task, convention_in_second_round, convention_of, open_drafting, propose_amendment, review_amendments,
)
from tests.pages import Pages, pages_for

pytestmark = pytest.mark.pages


@pytest.fixture
def drafting(deployed: Engine, neighbours: Any) -> tuple[str, int]:
    """Round 1 of "邻里公约" open for amendments on version 1 (a1 Chinese, a2 English, a3 Chinese)."""
    instance_id = open_drafting(deployed, neighbours)
    return instance_id, convention_of(deployed, instance_id)


def amendments(engine: Engine) -> list[Amendment]:
    with engine.read() as session:
        found = list(session.scalars(select(Amendment).order_by(Amendment.id)))
        for amendment in found:
            session.expunge(amendment)
        return found


def supporters(engine: Engine, amendment_id: int) -> set[int]:
    with engine.read() as session:
        return set(session.scalars(select(AmendmentSupport.member_id).where(AmendmentSupport.amendment_id == amendment_id)))


# ---- reading -----------------------------------------------------------------------------------

def test_a_resident_reads_the_conventions_and_the_draft_article_by_article_in_chinese(deployed: Engine, neighbours: Any,
                                                                                     drafting: tuple[str, int]) -> None:
    _, convention_id = drafting
    browser = pages_for(deployed, neighbours, "alice", "zh_CN")
    index = browser.get("/conventions")
    assert index.status == 200
    assert index.texts("//h1") == ["社区公约"]
    assert index.texts("//li[contains(@class,'convention-card')]//h2") == ["邻里公约"]
    assert "征集修改建议中" in index.text
    assert f"/conventions/{convention_id}" in index.tree.xpath("//main//a/@href")
    assert "/conventions" in index.tree.xpath("//nav[@class='site-nav']//a/@href")

    show = browser.get(f"/conventions/{convention_id}")
    assert show.status == 200
    assert show.texts("//h1") == ["邻里公约"]
    assert show.texts("//section[@id='draft']//h3") == ["第1条", "第2条", "第3条"]
    assert show.texts("//section[@id='draft']//div[@class='draft-article']/p[@class='article__text']") == [
        "晚上十点后不得大声喧哗。", "Keep the stairwells clear of bicycles.", "宠物狗出门须拴绳。"]
    assert f"/conventions/{convention_id}/articles/a2/amend" in show.tree.xpath("//a/@href")
    assert show.tree.xpath("//html/@lang") == ["zh-CN"]
    assert [len(show.tree.xpath(f"//h{n}")) for n in (1,)] == [1]


def test_the_home_agenda_links_to_the_convention(deployed: Engine, neighbours: Any, drafting: tuple[str, int]) -> None:
    _, convention_id = drafting
    home = pages_for(deployed, neighbours, "bob").get("/home")
    assert f"/conventions/{convention_id}" in home.tree.xpath("//li[@class='card']//a/@href")


def test_agenda_items_and_notifications_of_conventions_link_to_the_convention_page(deployed: Engine, neighbours: Any) -> None:
    from datetime import datetime, timezone

    from engine.kernel.agenda import AgendaItem
    from engine.kernel.notifications import Notification
    from web.links import kind_label, link_for
    app = Pages(deployed).app
    moment = datetime(2026, 3, 2, tzinfo=timezone.utc)
    with app.test_request_context("/"):
        assert link_for(AgendaItem("propose_amendment", "邻里公约", moment, "i", {"convention_id": 3, "round": 1})) == "/conventions/3"
        assert link_for(Notification("amendment_period_opened", "邻里公约", "", moment, "i", {"convention_id": 3, "round": 2})) == "/conventions/3"
        assert link_for(Notification("amendment_decided", "邻里公约", "", moment, "i", {"convention_id": 3, "amendment_id": 7,
                                                                                     "outcome": "accepted"})) == "/conventions/3#amendment-7"
        assert kind_label("amendment_decided") == "Convention: your amendment was decided"


def test_a_visitor_is_sent_to_sign_in(deployed: Engine, drafting: tuple[str, int]) -> None:
    _, convention_id = drafting
    page = Pages(deployed).get(f"/conventions/{convention_id}")
    assert page.status == 302 and page.location.startswith("/sign-in")


def test_another_communitys_convention_and_ids_that_do_not_exist_are_not_found(deployed: Engine, neighbours: Any,
                                                                                  other_community: Any, drafting: tuple[str, int]) -> None:
    _, convention_id = drafting
    theirs = convention_of(deployed, open_drafting(deployed, other_community))
    their_amendment = propose_amendment(deployed, other_community, theirs, "alice", "delete", "a2")
    browser = pages_for(deployed, neighbours, "alice")
    for url in (f"/conventions/{theirs}", f"/conventions/{theirs}/diff?from=1&to=1", f"/conventions/{theirs}/history",
                f"/conventions/{theirs}/articles/a1/amend", f"/conventions/{theirs}/versions/1",
                "/conventions/99999999999999999999", f"/conventions/{convention_id}/versions/99999999999999999999",
                f"/conventions/{convention_id}/articles/a9/amend", f"/conventions/{convention_id}/articles/{'a' * 300}/comment",
                f"/conventions/{convention_id}/articles/%3Cscript%3E/amend", f"/conventions/{convention_id}/articles/a1%00/comment"):
        page = browser.get(url)
        assert page.status == 404, url
        assert "邻里公约" not in page.text or url.startswith(f"/conventions/{convention_id}/")
    browser.get(f"/conventions/{convention_id}")
    assert browser.post(f"/conventions/{convention_id}/amendments/{their_amendment.id}/support").status == 404
    assert browser.post(f"/conventions/{theirs}/amendments/{their_amendment.id}/support").status == 404
    assert supporters(deployed, their_amendment.id) == set()


# ---- proposing ---------------------------------------------------------------------------------

@pytest.mark.both_backends
def test_a_resident_proposes_a_replacement_an_insertion_and_a_deletion_through_the_page(deployed: Engine, neighbours: Any,
                                                                                        drafting: tuple[str, int]) -> None:
    _, convention_id = drafting
    browser = pages_for(deployed, neighbours, "alice")
    form = browser.get(f"/conventions/{convention_id}/articles/a1/amend")
    assert form.status == 200
    assert form.texts("//h1") == ["Propose an amendment to article 1"]
    assert form.tree.xpath("//input[@name='version']/@value") == ["1"]
    assert form.texts("//fieldset/legend") == ["What do you propose?"]
    url = f"/conventions/{convention_id}/articles/a1/amend"
    sent = browser.post(url, {"kind": "replace", "text": "晚上十一点后禁止喧哗。", "rationale": "十点太早。", "version": "1"})
    assert sent.status == 302
    browser.get(f"/conventions/{convention_id}/articles/a2/amend")
    assert browser.post(f"/conventions/{convention_id}/articles/a2/amend",
                        {"kind": "insert", "text": "Bicycles go in the shed.", "rationale": "Say where.", "version": "1"}).status == 302
    browser.get(f"/conventions/{convention_id}/articles/a3/amend")
    assert browser.post(f"/conventions/{convention_id}/articles/a3/amend",
                        {"kind": "delete", "text": "", "rationale": "A city rule covers it.", "version": "1"}).status == 302

    made = amendments(deployed)
    assert [(a.kind, a.article_id, a.after_id, a.text, a.version_number, a.author_id) for a in made] == [
        ("replace", "a1", None, "晚上十一点后禁止喧哗。", 1, neighbours["alice"].member_id),
        ("insert", None, "a2", "Bicycles go in the shed.", 1, neighbours["alice"].member_id),
        ("delete", "a3", None, None, 1, neighbours["alice"].member_id)]
    assert sent.location == f"/conventions/{convention_id}#amendment-{made[0].id}"
    page = browser.get(f"/conventions/{convention_id}")
    assert page.texts("//p[@class='convention-flash']") == ["Your amendment is proposed. Other residents can now read and support it."]
    assert page.texts(f"//li[@id='amendment-{made[0].id}']//ins") == ["[inserted: 一]", "[inserted: 禁止]"]
    assert page.texts(f"//li[@id='amendment-{made[0].id}']//del") == ["[deleted: 不得大声]"]
    assert page.texts(f"//div[@id='article-a2']//li[@id='amendment-{made[1].id}']/h4") == [f"Amendment #{made[1].id}: Add an article after it"]
    assert page.texts(f"//li[@id='amendment-{made[2].id}']//del") == ["[deleted: 宠物狗出门须拴绳。]"]


@pytest.mark.parametrize("data, errors", [
    ({"kind": "replace", "text": "晚上十一点后禁止喧哗。", "rationale": ""}, {"rationale": ["Say why you propose this change"]}),
    ({"kind": "replace", "text": "晚上十一点后禁止喧哗。", "rationale": "   "}, {"rationale": ["Say why you propose this change"]}),
    ({"text": "x", "rationale": "Why not."}, {"kind": ["Choose what you propose"]}),
    ({"kind": "replace", "text": "", "rationale": "Why not."}, {"text": ["Write 1 to 5000 characters"]}),
    ({"kind": "replace", "text": "晚上十点后不得大声喧哗。", "rationale": "Same."},
     {"text": ["This is the article as it stands: change something, or choose another kind of amendment"]}),
    ({"kind": "delete", "text": "Something.", "rationale": "Why not."},
     {"text": ["A deletion takes no new text: empty this box, or choose to change the article"]}),
    ({"kind": "replace", "text": "x" * 100_000, "rationale": "Long."}, {"text": ["Write at most 5000 characters"]}),
    ({"kind": "replace", "text": "nul\u0000here", "rationale": "Odd."}, {"text": ["Remove the special characters from this text"]}),
    ({"kind": "explode", "text": "x", "rationale": "Odd."}, {"kind": ["Not a valid choice."]}),
])
def test_a_proposal_with_a_problem_comes_back_with_the_error_beside_its_field(deployed: Engine, neighbours: Any,
                                                                               drafting: tuple[str, int], data: dict[str, str],
                                                                               errors: dict[str, list[str]]) -> None:
    _, convention_id = drafting
    browser = pages_for(deployed, neighbours, "alice")
    url = f"/conventions/{convention_id}/articles/a1/amend"
    browser.get(url)
    page = browser.post(url, {"version": "1", **data})
    assert page.status == 422
    assert page.field_errors() == errors
    assert page.texts("//div[@class='error-summary']//h2") == ["There is a problem"]
    if "rationale" not in errors:
        assert page.tree.xpath("//textarea[@name='rationale']/text()") == [data["rationale"]]
    assert amendments(deployed) == []


def test_a_proposal_on_a_draft_that_changed_comes_back_with_the_new_text_and_is_kept(deployed: Engine, neighbours: Any,
                                                                                   clock: ManualClock) -> None:
    _, convention_id = convention_in_second_round(deployed, neighbours, clock)
    browser = pages_for(deployed, neighbours, "carol", "zh_CN")
    url = f"/conventions/{convention_id}/articles/a1/amend"
    assert browser.get(url).tree.xpath("//input[@name='version']/@value") == ["2"]
    before = len(amendments(deployed))
    stale = browser.post(url, {"kind": "replace", "text": "晚上九点后禁止喧哗。", "rationale": "早点休息。", "version": "1"})
    assert stale.status == 409
    assert stale.texts("//div[@id='stale']/h2") == ["您写的时候，草案已经改了"]
    assert "晚上十一点后禁止喧哗。" in stale.texts("//div[@id='stale']/p[@class='article__text']")
    assert stale.tree.xpath("//textarea[@name='text']/text()") == ["晚上九点后禁止喧哗。"]
    assert stale.tree.xpath("//textarea[@name='rationale']/text()") == ["早点休息。"]
    assert stale.tree.xpath("//input[@name='kind'][@checked]/@value") == ["replace"]
    assert stale.tree.xpath("//input[@name='version']/@value") == ["2"]
    assert len(amendments(deployed)) == before
    again = browser.post(url, {"kind": "replace", "text": "晚上九点后禁止喧哗。", "rationale": "早点休息。", "version": "2"})
    assert again.status == 302
    assert (amendments(deployed)[-1].text, amendments(deployed)[-1].version_number) == ("晚上九点后禁止喧哗。", 2)


def test_a_proposal_without_its_csrf_token_is_refused(deployed: Engine, neighbours: Any, drafting: tuple[str, int]) -> None:
    _, convention_id = drafting
    browser = pages_for(deployed, neighbours, "alice")
    page = browser.post(f"/conventions/{convention_id}/articles/a1/amend",
                        {"kind": "delete", "rationale": "Forged.", "version": "1"}, csrf=False)
    assert page.status == 400 and "This form has expired" in page.text
    assert amendments(deployed) == []
    mine = propose_amendment(deployed, neighbours, convention_id, "bob", "delete", "a2")
    assert browser.post(f"/conventions/{convention_id}/amendments/{mine.id}/support", csrf=False).status == 400
    assert supporters(deployed, mine.id) == set()


# ---- support, withdraw, comment ----------------------------------------------------------------

def test_residents_support_others_amendments_but_not_their_own(deployed: Engine, neighbours: Any, drafting: tuple[str, int]) -> None:
    _, convention_id = drafting
    alices = propose_amendment(deployed, neighbours, convention_id, "alice", "replace", "a1", "晚上十一点后禁止喧哗。")
    bob = pages_for(deployed, neighbours, "bob")
    show = bob.get(f"/conventions/{convention_id}")
    assert show.texts(f"//li[@id='amendment-{alices.id}']//button") == [f"Support amendment #{alices.id}"]
    supported = bob.post(f"/conventions/{convention_id}/amendments/{alices.id}/support")
    assert supported.status == 302 and supported.location.endswith(f"#amendment-{alices.id}")
    assert supporters(deployed, alices.id) == {neighbours["bob"].member_id}
    after = bob.get(f"/conventions/{convention_id}")
    assert after.texts(f"//li[@id='amendment-{alices.id}']//p[@class='amendment__support']") == ["Supported by 1 resident (including you)"]
    assert after.texts(f"//li[@id='amendment-{alices.id}']//button") == []
    twice = bob.post(f"/conventions/{convention_id}/amendments/{alices.id}/support")
    assert twice.status == 409 and twice.texts("//p[@class='convention-problem']") == ["You already support this amendment."]

    alice = pages_for(deployed, neighbours, "alice", "zh_CN")
    own = alice.get(f"/conventions/{convention_id}")
    assert own.texts(f"//li[@id='amendment-{alices.id}']//button") == [f"撤回我的修改建议 #{alices.id}"]
    refused = alice.post(f"/conventions/{convention_id}/amendments/{alices.id}/support")
    assert refused.status == 409
    assert refused.texts("//p[@class='convention-problem']") == ["这是您自己的修改建议：提出它就已表示您的支持。您可以支持其他居民的修改建议。"]
    assert supporters(deployed, alices.id) == {neighbours["bob"].member_id}


def test_an_author_withdraws_their_amendment_and_no_one_else_can(deployed: Engine, neighbours: Any, drafting: tuple[str, int]) -> None:
    _, convention_id = drafting
    alices = propose_amendment(deployed, neighbours, convention_id, "alice", "delete", "a3")
    bob = pages_for(deployed, neighbours, "bob")
    bob.get(f"/conventions/{convention_id}")
    assert bob.post(f"/conventions/{convention_id}/amendments/{alices.id}/withdraw").status == 403
    alice = pages_for(deployed, neighbours, "alice")
    alice.get(f"/conventions/{convention_id}")
    assert alice.post(f"/conventions/{convention_id}/amendments/{alices.id}/withdraw").status == 302
    assert amendments(deployed)[0].status == "withdrawn"
    page = alice.get(f"/conventions/{convention_id}")
    assert page.texts(f"//li[@id='amendment-{alices.id}']//span[@class='tag']") == ["Withdrawn by its author"]
    again = alice.post(f"/conventions/{convention_id}/amendments/{alices.id}/withdraw")
    assert again.status == 409 and again.texts("//p[@class='convention-problem']") == ["This amendment was withdrawn."]


def test_a_resident_comments_on_an_article_and_everyone_reads_it(deployed: Engine, neighbours: Any, drafting: tuple[str, int]) -> None:
    _, convention_id = drafting
    alice = pages_for(deployed, neighbours, "alice", "zh_CN")
    url = f"/conventions/{convention_id}/articles/a3/comment"
    form = alice.get(url)
    assert form.status == 200 and form.texts("//h1") == ["评论第3条"]
    empty = alice.post(url, {"text": "  ", "version": "1"})
    assert empty.status == 422 and empty.field_errors() == {"text": ["请写下您的评论"]}
    long = alice.post(url, {"text": "长" * 100_000, "version": "1"})
    assert long.status == 422 and long.field_errors() == {"text": ["最多写 5000 个字"]}
    forged = alice.post(url, {"text": "Hi.", "version": "99999999999999999999"})
    assert forged.status == 422 and forged.texts("//div[@class='error-summary']//li") == ["此表单已过期，请刷新页面。"]
    alice.get(url)
    assert alice.post(url, {"text": "拴绳对孩子更安全。", "version": "1"}).status == 302
    with deployed.read() as session:
        assert [(n.article_id, n.version_number, n.text) for n in session.scalars(select(ArticleComment))] == [
            ("a3", 1, "拴绳对孩子更安全。")]
    bob = pages_for(deployed, neighbours, "bob")
    page = bob.get(f"/conventions/{convention_id}")
    assert page.texts("//div[@id='article-a3']//p[@class='comment__text']") == ["拴绳对孩子更安全。"]
    assert page.texts("//div[@id='article-a3']//h4") == ["1 comment"]
    assert bob.get(url).texts("//li[@class='comment']/p[@class='comment__text']") == ["拴绳对孩子更安全。"]


def test_nothing_can_be_proposed_once_the_amendment_period_is_over(deployed: Engine, neighbours: Any, drafting: tuple[str, int]) -> None:
    instance_id, convention_id = drafting
    alice = pages_for(deployed, neighbours, "alice")
    url = f"/conventions/{convention_id}/articles/a1/amend"
    alice.get(url)
    complete_task(deployed, neighbours, instance_id, "amendment_period", {"reason": "Enough."})
    late = alice.post(url, {"kind": "delete", "rationale": "Late.", "version": "1"})
    assert late.status == 409 and "Amendments are not open now." in late.texts("//div[@class='error-summary']//li")
    page = alice.get(f"/conventions/{convention_id}")
    assert "/amend" not in " ".join(page.tree.xpath("//a/@href"))
    assert alice.get(url).texts("//p[@class='notice']") == ["Amendments are not open now."]


# ---- the committee's decisions -----------------------------------------------------------------

def test_the_committee_decides_amendments_on_the_convention_page(deployed: Engine, neighbours: Any, drafting: tuple[str, int]) -> None:
    instance_id, convention_id = drafting
    first = propose_amendment(deployed, neighbours, convention_id, "alice", "replace", "a1", "晚上十一点后禁止喧哗。")
    second = propose_amendment(deployed, neighbours, convention_id, "bob", "insert", after="a2", text="Bicycles go in the shed.")
    chair = pages_for(deployed, neighbours, "chair")
    assert chair.get(f"/conventions/{convention_id}").tree.xpath("//form[@class='decision-form']") == []  # not while amending
    complete_task(deployed, neighbours, instance_id, "amendment_period", {"reason": "Everyone has been heard."})

    page = chair.get(f"/conventions/{convention_id}")
    assert len(page.tree.xpath("//form[@class='decision-form']")) == 2
    assert page.texts(f"//li[@id='amendment-{first.id}']//fieldset/legend") == [f"Your decision on amendment #{first.id}"]
    url = f"/conventions/{convention_id}/amendments/{first.id}/decision"
    empty = chair.post(url, {"outcome": "accepted", "reason": ""})
    assert empty.status == 422
    assert empty.field_errors() == {f"d{first.id}-reason": ["Give the reason for the decision"]}
    assert empty.tree.xpath(f"//input[@id='d{first.id}-outcome-accepted']/@checked") == ["checked"] or \
        empty.tree.xpath(f"//input[@id='d{first.id}-outcome-accepted'][@checked]")
    assert f"#d{first.id}-reason" in empty.tree.xpath("//div[@class='error-summary']//a/@href")
    wording = chair.post(url, {"outcome": "accepted_with_changes", "reason": "Reworded.", "text": ""})
    assert wording.status == 422 and wording.field_errors() == {f"d{first.id}-text": ["Write 1 to 5000 characters"]}
    decided = chair.post(url, {"outcome": "accepted", "reason": "多数居民赞成。"})
    assert decided.status == 302
    chair.get(f"/conventions/{convention_id}")
    assert chair.post(f"/conventions/{convention_id}/amendments/{second.id}/decision", {
        "outcome": "accepted_with_changes", "reason": "Name the shed.", "text": "Bicycles go in the shed by the east gate."}).status == 302
    made = {a.id: a for a in amendments(deployed)}
    assert (made[first.id].outcome, made[first.id].decision_reason) == ("accepted", "多数居民赞成。")
    assert (made[second.id].outcome, made[second.id].decision_text) == ("accepted_with_changes", "Bicycles go in the shed by the east gate.")

    alice = pages_for(deployed, neighbours, "alice", "zh_CN")
    seen = alice.get(f"/conventions/{convention_id}")
    assert seen.tree.xpath("//form[@class='decision-form']") == []
    assert seen.texts(f"//li[@id='amendment-{first.id}']//div[@class='decision']//span[contains(@class,'tag')]") == ["采纳"]
    assert "多数居民赞成。" in seen.texts(f"//li[@id='amendment-{first.id}']//div[@class='decision']/p")[1]
    assert seen.texts(f"//li[@id='amendment-{second.id}']//div[@class='decision']//ins")
    alice.get(f"/conventions/{convention_id}")
    refused = alice.post(url, {"outcome": "rejected", "reason": "I disagree."})
    assert refused.status == 403
    assert alice.post(url, {"outcome": "", "reason": ""}).status == 403
    assert {a.id: a.outcome for a in amendments(deployed)}[first.id] == "accepted"


def test_a_decision_the_engine_refuses_is_explained(deployed: Engine, neighbours: Any, drafting: tuple[str, int]) -> None:
    instance_id, convention_id = drafting
    first = propose_amendment(deployed, neighbours, convention_id, "alice", "replace", "a1", "晚上十一点后禁止喧哗。")
    second = propose_amendment(deployed, neighbours, convention_id, "bob", "delete", "a1")
    complete_task(deployed, neighbours, instance_id, "amendment_period", {"reason": "Enough."})
    clerk = pages_for(deployed, neighbours, "clerk")
    clerk.get(f"/conventions/{convention_id}")
    assert clerk.post(f"/conventions/{convention_id}/amendments/{first.id}/decision", {"outcome": "accepted", "reason": "Yes."}).status == 302
    clerk.get(f"/conventions/{convention_id}")
    overlap = clerk.post(f"/conventions/{convention_id}/amendments/{second.id}/decision", {"outcome": "accepted", "reason": "Also."})
    assert overlap.status == 409
    assert overlap.texts("//p[@class='convention-problem']") == [
        f"Amendment #{first.id}, already accepted, changes this article too: reject one of them, or accept one with wording "
        "that combines both."]
    assert overlap.tree.xpath(f"//textarea[@id='d{second.id}-reason']/text()") == ["Also."]


# ---- versions and diffs ------------------------------------------------------------------------

def test_the_diff_between_two_versions_marks_each_changed_chinese_character(deployed: Engine, neighbours: Any,
                                                                          drafting: tuple[str, int]) -> None:
    instance_id, convention_id = drafting
    changed = propose_amendment(deployed, neighbours, convention_id, "alice", "replace", "a1", "晚上十一点后不得大声喧哗。")
    deleted = propose_amendment(deployed, neighbours, convention_id, "bob", "delete", "a3")
    review_amendments(deployed, neighbours, instance_id, [(changed, "accepted", None), (deleted, "accepted", None)])
    browser = pages_for(deployed, neighbours, "carol")
    page = browser.get(f"/conventions/{convention_id}/diff?from=1&to=2")
    assert page.status == 200
    assert page.texts("//li[@id='diff-a1']//ins") == ["[inserted: 一]"]
    assert page.texts("//li[@id='diff-a1']//span[@class='tag']") == ["Changed"]
    assert page.texts("//li[@id='diff-a3']//del") == ["[deleted: 宠物狗出门须拴绳。]"]
    assert page.texts("//li[@id='diff-a3']//span[@class='tag']") == ["Deleted"]
    assert page.texts("//li[@id='diff-a2']//span[@class='tag']") == ["Unchanged"]
    assert page.tree.xpath("//select[@name='from']/option[@selected]/@value") == ["1"]
    assert "view=inline" in page.tree.xpath("//nav[@class='diff-views']//a[@aria-current='page']/@href")[0]

    side = browser.get(f"/conventions/{convention_id}/diff?from=1&to=2&view=side")
    assert side.texts("//li[@id='diff-a1']//p[@class='diff__side-label']") == ["Version 1", "Version 2"]
    assert side.texts("//li[@id='diff-a1']//div[@class='diff__side'][1]//ins") == []
    assert side.texts("//li[@id='diff-a1']//div[@class='diff__side'][2]//ins") == ["[inserted: 一]"]

    chinese = pages_for(deployed, neighbours, "alice", "zh_CN").get(f"/conventions/{convention_id}/diff")
    assert chinese.status == 200 and chinese.texts("//li[@id='diff-a1']//ins") == ["[插入： 一]"]
    assert chinese.texts("//li[@id='diff-a1']//span[@class='tag']") == ["已修改"]


@pytest.mark.parametrize("query", ["from=1&to=9", "from=x&to=1", "from=99999999999999999999&to=1", "from=&to=",
                                   "from=1&to=1%00"])
def test_a_diff_of_versions_that_do_not_exist_asks_again(deployed: Engine, neighbours: Any, drafting: tuple[str, int],
                                                          query: str) -> None:
    _, convention_id = drafting
    page = pages_for(deployed, neighbours, "alice").get(f"/conventions/{convention_id}/diff?{query}")
    assert page.status == 422
    assert page.field_errors()
    assert page.tree.xpath("//ol[contains(@class,'diff ')]") == []


def test_the_history_lists_versions_with_dates_and_each_version_reads_back(deployed: Engine, neighbours: Any,
                                                                            clock: ManualClock) -> None:
    _, convention_id = convention_in_second_round(deployed, neighbours, clock)
    browser = pages_for(deployed, neighbours, "bob")
    page = browser.get(f"/conventions/{convention_id}/history")
    assert page.status == 200
    assert page.texts("//ol[@class='history'][1]/li/h3") == ["Version 1", "Version 2"]
    assert all(page.tree.xpath("//ol[@class='history'][1]/li//time/@datetime"))
    assert f"/conventions/{convention_id}/diff?from=1&to=2" in page.tree.xpath("//a/@href")
    version = browser.get(f"/conventions/{convention_id}/versions/2")
    assert version.texts("//ol[@class='articles']//p") == ["晚上十一点后禁止喧哗。", "Keep the stairwells clear of bicycles."]
    show = browser.get(f"/conventions/{convention_id}")
    assert show.texts("//section[@id='draft']/h2") == ["Draft under discussion: version 2"]


def test_the_text_in_force_is_named_with_its_date_in_one_chinese_sentence(deployed: Engine, neighbours: Any, clock: ManualClock,
                                                                          drafting: tuple[str, int]) -> None:
    from tests.builders import vote_on_convention

    instance_id, convention_id = drafting
    review_amendments(deployed, neighbours, instance_id, [])
    vote_on_convention(deployed, clock, neighbours, instance_id, {"alice": "yes", "bob": "yes", "carol": "yes"})
    complete_task(deployed, neighbours, instance_id, "publish_convention", {"effective_date": "2026-03-20"})
    show = pages_for(deployed, neighbours, "alice", "zh_CN").get(f"/conventions/{convention_id}")
    assert show.status == 200
    (in_force,) = [" ".join(text.split()) for text in show.texts("//dl[@class='summary']/dd[2]")]
    assert in_force == "版本 1，自2026年3月20日周五起", in_force  # no amendment: version 1 adopted
    english = pages_for(deployed, neighbours, "bob", "en").get(f"/conventions/{convention_id}")
    assert [" ".join(text.split()) for text in english.texts("//dl[@class='summary']/dd[2]")][0].startswith("Version 1, since ")
