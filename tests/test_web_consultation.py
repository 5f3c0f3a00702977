"""The consultation's pages: the list, a consultation's page, giving, changing and withdrawing an opinion, reading the
committee's answer, and the committee answering every opinion; refusals shown as pages, never a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.bootstrap import Engine
from engine.consultation.commands import AnswerOpinion, SubmitOpinion, WithdrawOpinion
from engine.consultation.models import Opinion
from engine.kernel.clock import ManualClock
from engine.kernel.commands import StartInstance
from tests.builders import complete_task, deliberate, open_consultation, open_vote, ready
from tests.helpers import make_community
from tests.pages import Pages, pages_for

pytestmark = pytest.mark.pages


def opinions_of(engine: Engine, instance_id: str) -> list[tuple[str, str, str, int]]:
    """Every opinion of the consultation as the engine holds it: author, text, status, revision."""
    with engine.read() as session:
        found = session.scalars(select(Opinion).where(Opinion.instance_id == instance_id).order_by(Opinion.id))
        return [(opinion.author.name, opinion.text, opinion.status, opinion.revision) for opinion in found]


def answer_of(engine: Engine, opinion_id: int) -> tuple[str | None, str | None]:
    with engine.read() as session:
        opinion = session.get(Opinion, opinion_id)
        return opinion.answer_verdict, opinion.answer_reason


@pytest.fixture
def consultation(deployed: Engine, neighbours: Any) -> str:
    return open_consultation(deployed, neighbours, title="Where the bike shed goes", affected="Buildings 2-4")


# --- a resident's journey ---------------------------------------------------------------------------------------------

def test_a_resident_reads_the_topic_with_its_deadline_in_the_community_time_in_chinese(deployed: Engine, neighbours: Any,
                                                                                      consultation: str) -> None:
    page = pages_for(deployed, neighbours, "alice", "zh_CN").get(f"/consultations/{consultation}")
    assert page.status == 200
    assert page.texts("//h1") == ["Where the bike shed goes"]
    assert page.texts("//dl[contains(@class,'consultation-facts')]/dt") == ["阶段", "受影响的居民", "征求意见截止"]
    assert "征求意见中" in page.texts("//span[contains(@class,'phase')]")[0]
    assert page.texts("//dl[contains(@class,'consultation-facts')]//time") == ["2026年3月9日周一 18:00"]
    assert page.texts("//div[@class='prose']") == ["Where should it go?"]
    assert page.texts("//label[@for='text']") == ["您的意见"]
    assert page.tree.xpath("//link[@rel='stylesheet']/@href")[-1] == "/static/css/consultation.css"


@pytest.mark.both_backends
def test_a_resident_gives_changes_and_withdraws_opinions_through_the_pages(deployed: Engine, neighbours: Any, consultation: str) -> None:
    alice = pages_for(deployed, neighbours, "alice")
    alice.get(f"/consultations/{consultation}")
    given = alice.post(f"/consultations/{consultation}/opinions", {"text": "  By the gate, please.  "})
    assert given.status == 303 and given.location.startswith(f"/consultations/{consultation}?given=")
    alice.post(f"/consultations/{consultation}/opinions", {"text": "And a roof."})
    assert opinions_of(deployed, consultation) == [("alice", "By the gate, please.", "submitted", 1), ("alice", "And a roof.", "submitted", 1)]

    page = alice.get(given.location)
    assert page.texts("//div[@class='panel-ok']") == ["Your opinion was sent. You can change or withdraw it until the deadline."]
    assert page.texts("//section[@class='mine']//blockquote") == ["By the gate, please.", "And a roof."]
    first, second = [int(node.get("id").split("-")[1]) for node in page.tree.xpath("//section[@class='mine']//li")]
    assert page.tree.xpath(f"//li[@id='opinion-{first}']//a/@href") == [f"/opinions/{first}/edit", f"/opinions/{first}/withdraw"]

    form = alice.get(f"/opinions/{first}/edit")
    assert form.status == 200 and form.texts("//textarea[@name='text']") == ["By the gate, please."]
    changed = alice.post(f"/opinions/{first}/edit", {"text": "By the north gate."})
    assert changed.status == 303
    assert "Your opinion was changed." in alice.get(changed.location).text

    confirm = alice.get(f"/opinions/{second}/withdraw")
    assert confirm.status == 200 and confirm.texts("//h1") == ["Withdraw your opinion?"]
    assert confirm.texts("//blockquote") == ["And a roof."]
    assert opinions_of(deployed, consultation)[1][2] == "submitted"  # asking is not withdrawing
    withdrawn = alice.post(f"/opinions/{second}/withdraw")
    assert withdrawn.status == 303
    page = alice.get(withdrawn.location)
    assert page.texts(f"//li[@id='opinion-{second}']//span[contains(@class,'tag')]") == ["Withdrawn"]
    assert page.tree.xpath(f"//li[@id='opinion-{second}']//a") == []
    assert opinions_of(deployed, consultation) == [("alice", "By the north gate.", "submitted", 2), ("alice", "And a roof.", "withdrawn", 1)]
    again = alice.get(f"/opinions/{second}/edit")
    assert again.status == 200 and again.tree.xpath("//textarea") == []
    assert alice.post(f"/opinions/{second}/edit", {"text": "Back again."}).status == 409
    assert alice.post(f"/opinions/{second}/withdraw").status == 409


@pytest.mark.parametrize("text, error", [
    ("", "Write your opinion"),
    ("   \n ", "Write your opinion"),
    ("x" * 5001, "Your opinion can be at most 5000 characters long"),
    ("x" * 100_000, "Your opinion can be at most 5000 characters long"),
    ("by the\x00gate", "Your opinion contains a character that cannot be saved (NUL). Remove it and send again."),
])
def test_a_bad_opinion_comes_back_with_its_error_beside_the_field(deployed: Engine, neighbours: Any, consultation: str,
                                                                   text: str, error: str) -> None:
    alice = pages_for(deployed, neighbours, "alice")
    alice.get(f"/consultations/{consultation}")
    page = alice.post(f"/consultations/{consultation}/opinions", {"text": text})
    assert page.status == 422
    assert page.field_errors() == {"text": [error]}
    assert page.tree.xpath("//div[@class='error-summary']//a/@href") == ["#text"]
    assert opinions_of(deployed, consultation) == []
    opinion_id = deployed.execute(SubmitOpinion(consultation, "Fine."), neighbours["alice"]).id
    alice.get(f"/opinions/{opinion_id}/edit")
    edited = alice.post(f"/opinions/{opinion_id}/edit", {"text": text})
    assert edited.status == 422 and edited.field_errors() == {"text": [error]}
    assert opinions_of(deployed, consultation) == [("alice", "Fine.", "submitted", 1)]


def test_the_field_error_is_in_chinese_for_a_chinese_page(deployed: Engine, neighbours: Any, consultation: str) -> None:
    alice = pages_for(deployed, neighbours, "alice", "zh_CN")
    alice.get(f"/consultations/{consultation}")
    page = alice.post(f"/consultations/{consultation}/opinions", {"text": ""})
    assert page.status == 422 and page.field_errors() == {"text": ["请填写您的意见"]}
    assert page.texts("//div[@class='error-summary']/h2") == ["出现问题"]


def test_forms_without_their_csrf_token_are_refused_and_change_nothing(deployed: Engine, neighbours: Any, consultation: str) -> None:
    opinion = deployed.execute(SubmitOpinion(consultation, "Mine."), neighbours["alice"]).id
    alice = pages_for(deployed, neighbours, "alice")
    for url, data in [(f"/consultations/{consultation}/opinions", {"text": "Forged."}), (f"/opinions/{opinion}/edit", {"text": "Forged."}),
                      (f"/opinions/{opinion}/withdraw", {})]:
        assert alice.post(url, data, csrf=False).status == 400
        assert alice.post(url, {**data, "csrf_token": "forged"}, csrf=False).status == 400
    assert opinions_of(deployed, consultation) == [("alice", "Mine.", "submitted", 1)]
    deliberate(deployed, neighbours, consultation)
    clerk = pages_for(deployed, neighbours, "clerk")
    refused = clerk.post(f"/opinions/{opinion}/answer", {"verdict": "adopted", "reason": "Forged."}, csrf=False)
    assert refused.status == 400 and answer_of(deployed, opinion) == (None, None)


def test_another_resident_can_neither_see_nor_change_an_opinion(deployed: Engine, neighbours: Any, consultation: str) -> None:
    opinion = deployed.execute(SubmitOpinion(consultation, "Alice's secret."), neighbours["alice"]).id
    bob = pages_for(deployed, neighbours, "bob")
    page = bob.get(f"/consultations/{consultation}")
    assert page.status == 200 and "secret" not in page.text
    assert page.texts("//section[@class='mine']/p") == ["You have not given an opinion yet."]
    assert bob.get(f"/opinions/{opinion}/edit").status == 404
    assert bob.get(f"/opinions/{opinion}/withdraw").status == 404
    assert bob.post(f"/opinions/{opinion}/edit", {"text": "Bob's now."}).status == 404
    assert bob.post(f"/opinions/{opinion}/withdraw").status == 404
    assert opinions_of(deployed, consultation) == [("alice", "Alice's secret.", "submitted", 1)]
    chair = pages_for(deployed, neighbours, "chair")  # the committee reads it, but does not change it
    assert "Alice's secret." in chair.get(f"/consultations/{consultation}").texts("//blockquote")
    assert chair.get(f"/opinions/{opinion}/edit").status == 403
    assert chair.post(f"/opinions/{opinion}/edit", {"text": "Chair's now."}).status == 403


@pytest.mark.parametrize("url", ["/consultations/{other}", "/consultations/{vote}", "/consultations/nothing-here",
                                 "/consultations/99999999999999999999", "/consultations/%00", "/opinions/{other_opinion}/edit",
                                 "/opinions/99999999999999999999/edit", "/opinions/2147483647/withdraw"])
def test_what_is_not_a_consultation_of_the_community_is_not_found(deployed: Engine, neighbours: Any, url: str) -> None:
    riverside = make_community(deployed, "riverside")
    other = open_consultation(deployed, riverside)
    other_opinion = deployed.execute(SubmitOpinion(other, "Over the river."), riverside["alice"]).id
    vote, _ = open_vote(deployed, neighbours)
    page = pages_for(deployed, neighbours, "alice").get(url.format(other=other, vote=vote, other_opinion=other_opinion))
    assert page.status == 404 and page.texts("//h1") == ["Page not found"]


def test_another_communitys_consultation_cannot_be_written_to(deployed: Engine, neighbours: Any) -> None:
    riverside = make_community(deployed, "riverside")
    other = open_consultation(deployed, riverside)
    alice = pages_for(deployed, neighbours, "alice")
    alice.get("/consultations")
    assert alice.post(f"/consultations/{other}/opinions", {"text": "Hello."}).status == 404
    assert opinions_of(deployed, other) == []


def test_a_visitor_is_sent_to_sign_in_and_back(deployed: Engine, consultation: str) -> None:
    page = Pages(deployed).get(f"/consultations/{consultation}")
    assert page.status == 302 and page.location == f"/sign-in?next=/consultations/{consultation}"


def test_giving_or_changing_an_opinion_after_the_period_closed_says_so(deployed: Engine, neighbours: Any, clock: ManualClock,
                                                                         consultation: str) -> None:
    opinion = deployed.execute(SubmitOpinion(consultation, "In time."), neighbours["alice"]).id
    alice = pages_for(deployed, neighbours, "alice")
    alice.get(f"/consultations/{consultation}")  # the form was read while the period was open…
    clock.advance(timedelta(days=8))
    assert deployed.fire_due_timers() == 1  # …and the deadline passed before it was sent
    late = alice.post(f"/consultations/{consultation}/opinions", {"text": "Too late?"})
    assert late.status == 409
    assert late.texts("//div[@class='error-summary']//li") == ["The opinion period is closed: opinions can no longer be given."]
    assert late.tree.xpath("//textarea[@name='text']") == []
    edit = alice.post(f"/opinions/{opinion}/edit", {"text": "Changed late."})
    assert edit.status == 409
    assert "The opinion period is closed: opinions can no longer be changed or withdrawn." in edit.texts("//div[@class='error-summary']//li")
    assert alice.post(f"/opinions/{opinion}/withdraw").status == 409
    assert opinions_of(deployed, consultation) == [("alice", "In time.", "submitted", 1)]
    page = alice.get(f"/consultations/{consultation}")
    assert "Under deliberation" in page.texts("//span[contains(@class,'phase')]")[0]
    assert page.texts("//li[@class='opinion']/p[@class='muted']") == ["The committee has not answered this opinion yet."]
    assert page.tree.xpath("//form[contains(@action,'/opinions')]") == []


def test_the_resident_reads_the_answer_the_meeting_and_the_outcome_in_chinese(deployed: Engine, neighbours: Any,
                                                                              consultation: str) -> None:
    mine = deployed.execute(SubmitOpinion(consultation, "放在北门。"), neighbours["alice"]).id
    theirs = deployed.execute(SubmitOpinion(consultation, "Bob's view."), neighbours["bob"]).id
    deliberate(deployed, neighbours, consultation, minutes="北门最方便。")
    deployed.execute(AnswerOpinion(mine, "partly_adopted", "北门可以，但要加顶棚。"), neighbours["chair"])
    alice = pages_for(deployed, neighbours, "alice", "zh_CN")
    page = alice.get(f"/consultations/{consultation}")
    assert page.texts(f"//li[@id='opinion-{mine}']//span[contains(@class,'verdict')]") == ["部分采纳"]
    assert page.texts(f"//li[@id='opinion-{mine}']//p[@class='answer__reason']") == ["北门可以，但要加顶棚。"]
    assert page.texts("//section[@class='meeting']//dd") == ["2026-03-10", "王主任、李委员"]
    assert "北门最方便。" in page.texts("//section[@class='meeting']//div[@class='prose']")
    assert "view." not in page.text and page.tree.xpath("//section[@class='everyone']") == []
    deployed.execute(AnswerOpinion(theirs, "not_adopted", "No room."), neighbours["chair"])
    complete_task(deployed, neighbours, consultation, "answer_opinions", {})
    complete_task(deployed, neighbours, consultation, "publish_outcome", {"summary": "车棚建在北门，加顶棚。", "decisions": ["北门建车棚"]})
    page = alice.get(f"/consultations/{consultation}")
    assert "结果已公布" in page.texts("//span[contains(@class,'phase')]")[0]
    assert page.texts("//section[@class='outcome']//div[@class='prose']") == ["车棚建在北门，加顶棚。"]
    assert page.texts("//section[@class='outcome']//li") == ["北门建车棚"]
    listed = alice.get("/consultations")
    assert listed.texts("//p[@class='card__outcome']") == ["结果： 车棚建在北门，加顶棚。"]


# --- the committee ------------------------------------------------------------------------------------------------------

def test_the_committee_answers_every_opinion_through_the_page(deployed: Engine, neighbours: Any, consultation: str) -> None:
    first = deployed.execute(SubmitOpinion(consultation, "By the gate."), neighbours["alice"]).id
    second = deployed.execute(SubmitOpinion(consultation, "Behind building 3."), neighbours["bob"]).id
    withdrawn = deployed.execute(SubmitOpinion(consultation, "No shed."), neighbours["carol"])
    clerk = pages_for(deployed, neighbours, "clerk")
    page = clerk.get(f"/consultations/{consultation}")
    assert page.texts("//section[@class='everyone']//h3") == [f"Opinion {first} by alice", f"Opinion {second} by bob",
                                                               f"Opinion {withdrawn.id} by carol"]
    assert page.tree.xpath("//form[@class='answer-form']") == []  # not while opinions are collected
    deployed.execute(WithdrawOpinion(withdrawn.id), neighbours["carol"])
    deliberate(deployed, neighbours, consultation)

    page = clerk.get(f"/consultations/{consultation}")
    assert page.texts("//p[contains(@class,'unanswered')]/strong") == ["2 opinions are not answered yet."]
    assert page.tree.xpath("//form[@class='answer-form']/@action") == [f"/opinions/{first}/answer", f"/opinions/{second}/answer"]
    assert page.texts(f"//fieldset[@id='answer-{first}-verdict']/legend") == [f"Your answer to opinion {first}"]
    assert page.texts(f"//fieldset[@id='answer-{first}-verdict']//label") == ["Opinion adopted", "Opinion partly adopted", "Opinion not adopted"]
    task = ready(deployed, consultation)["answer_opinions"]
    assert page.texts("//section[@class='committee-tasks']//li") in (["Confirm that every opinion is answered"],
                                                                      ["Confirm that every opinion is answered (open it in the committee's task list)"])
    assert page.tree.xpath("//section[@class='committee-tasks']//a/@href") in ([], [f"/desk/tasks/{task}"])

    bad = clerk.post(f"/opinions/{first}/answer", {"reason": "  "})
    assert bad.status == 422
    assert bad.field_errors() == {f"answer-{first}-verdict": ["Choose a verdict"], f"answer-{first}-reason": ["Give the reason for this answer"]}
    assert bad.tree.xpath("//div[@class='error-summary']//a/@href") == [f"#answer-{first}-verdict", f"#answer-{first}-reason"]
    assert clerk.post(f"/opinions/{first}/answer", {"verdict": "maybe", "reason": "Why not."}).field_errors() == {
        f"answer-{first}-verdict": ["Choose a verdict"]}
    assert clerk.post(f"/opinions/{first}/answer", {"verdict": "adopted", "reason": "r" * 5001}).status == 422
    assert answer_of(deployed, first) == (None, None)

    done = clerk.post(f"/opinions/{first}/answer", {"verdict": "adopted", "reason": "Most residents pass the gate."})
    assert done.status == 303 and done.location.endswith(f"#opinion-{first}")
    assert answer_of(deployed, first) == ("adopted", "Most residents pass the gate.")
    page = clerk.get(done.location)
    assert page.texts("//p[contains(@class,'unanswered')]/strong") == ["1 opinion is not answered yet."]
    assert page.texts(f"//li[@id='all-opinion-{first}']//span[contains(@class,'verdict')]") == ["Opinion adopted"]
    assert page.tree.xpath(f"//li[@id='all-opinion-{first}']//input[@value='adopted']/@checked") == ["checked"]  # to change it
    clerk.post(f"/opinions/{second}/answer", {"verdict": "not_adopted", "reason": "No room there."})
    assert answer_of(deployed, second) == ("not_adopted", "No room there.")
    assert clerk.post(f"/opinions/{withdrawn.id}/answer", {"verdict": "adopted", "reason": "Hm."}).status == 409
    page = clerk.get(f"/consultations/{consultation}")
    assert page.texts("//section[@class='everyone']/p[@class='muted']") == ["Every opinion has an answer."]
    complete_task(deployed, neighbours, consultation, "answer_opinions", {})
    late = clerk.post(f"/opinions/{first}/answer", {"verdict": "not_adopted", "reason": "Changed my mind."})
    assert late.status == 409
    assert "Opinions can be answered only while the committee's answering task is open." in late.texts("//div[@class='error-summary']//li")
    assert answer_of(deployed, first) == ("adopted", "Most residents pass the gate.")


def test_a_resident_cannot_answer_opinions(deployed: Engine, neighbours: Any, consultation: str) -> None:
    mine = deployed.execute(SubmitOpinion(consultation, "Mine."), neighbours["alice"]).id
    theirs = deployed.execute(SubmitOpinion(consultation, "Bob's."), neighbours["bob"]).id
    deliberate(deployed, neighbours, consultation)
    alice = pages_for(deployed, neighbours, "alice")
    page = alice.get(f"/consultations/{consultation}")
    assert page.tree.xpath("//form[@class='answer-form']") == []
    assert alice.post(f"/opinions/{mine}/answer", {"verdict": "adopted", "reason": "Self-praise."}).status == 403
    assert alice.post(f"/opinions/{theirs}/answer", {"verdict": "not_adopted", "reason": "Bob is wrong."}).status == 404
    assert answer_of(deployed, mine) == (None, None) and answer_of(deployed, theirs) == (None, None)


def test_a_committee_member_without_the_resident_role_gives_no_opinion(deployed: Engine, neighbours: Any, consultation: str) -> None:
    clerk = pages_for(deployed, neighbours, "clerk")
    page = clerk.get(f"/consultations/{consultation}")
    assert page.tree.xpath("//textarea[@name='text']") == [] and page.tree.xpath("//section[@class='mine']") == []
    assert clerk.post(f"/consultations/{consultation}/opinions", {"text": "Mine?"}).status == 403
    assert opinions_of(deployed, consultation) == []


# --- the list and the links -------------------------------------------------------------------------------------------

def test_the_list_shows_open_consultations_with_their_deadline_and_finished_ones_with_their_outcome(
        deployed: Engine, neighbours: Any, consultation: str) -> None:
    finished = open_consultation(deployed, neighbours, title="Stairwell colour")
    deliberate(deployed, neighbours, finished)
    complete_task(deployed, neighbours, finished, "answer_opinions", {})
    complete_task(deployed, neighbours, finished, "publish_outcome", {"summary": "Green it is."})
    draft = deployed.execute(StartInstance("consultation"), neighbours["chair"]).id
    page = pages_for(deployed, neighbours, "alice").get("/consultations")
    assert page.status == 200
    assert page.texts("//h2") == ["Going on now", "Finished consultations"]
    now_cards, finished_cards = page.tree.xpath("//ul[@class='cards']")
    assert [" ".join(a.text_content().split()) for a in now_cards.xpath(".//h3/a")] == ["Where the bike shed goes"]
    assert [" ".join(t.text_content().split()) for t in now_cards.xpath(".//time")] == ["Mon, Mar 9, 2026 18:00"]
    assert [" ".join(a.text_content().split()) for a in finished_cards.xpath(".//h3/a")] == ["Stairwell colour"]
    assert page.texts("//p[@class='card__outcome']") == ["Outcome: Green it is."]
    assert f"/consultations/{draft}" not in page.text  # a draft is the committee's until it is published
    committee = pages_for(deployed, neighbours, "clerk").get("/consultations")
    assert f"/consultations/{draft}" in committee.text and "Being prepared" in committee.text
    assert "/consultations" in page.tree.xpath("//nav[@class='site-nav']//a/@href")


def test_the_list_is_paged_and_survives_odd_page_numbers(deployed: Engine, neighbours: Any, consultation: str) -> None:
    alice = pages_for(deployed, neighbours, "alice")
    for number in ["0", "-1", "x", "99999999999999999999", "\x00"]:
        page = alice.get("/consultations", query_string={"page": number})
        assert page.status == 200 and page.texts("//h1") == ["Consultations"]
    assert "No consultation is going on at the moment." in alice.get("/consultations?page=7").text


def test_home_and_notifications_lead_to_the_consultation(deployed: Engine, neighbours: Any, consultation: str) -> None:
    from engine.kernel.notifications import notifications
    from web.links import link_for
    home = pages_for(deployed, neighbours, "alice", "zh_CN").get("/home")
    assert f"/consultations/{consultation}" in home.tree.xpath("//li[@class='card']//a/@href")
    assert "协商：发表您的意见" in home.texts("//p[@class='card__kind']")
    opinion = deployed.execute(SubmitOpinion(consultation, "Mine."), neighbours["alice"]).id
    deliberate(deployed, neighbours, consultation)
    deployed.execute(AnswerOpinion(opinion, "adopted", "Yes."), neighbours["chair"])
    with deployed.read() as session:
        found = notifications(session, neighbours["alice"], 1, 20)
    app = Pages(deployed).app
    with app.test_request_context():
        links = {entry.notification.kind if hasattr(entry, "notification") else entry.kind: link_for(getattr(entry, "notification", entry))
                 for entry in found.items}
    assert links["opinion_answered"] == f"/consultations/{consultation}#opinion-{opinion}"
    assert links["opinion_period_opened"] == f"/consultations/{consultation}"
