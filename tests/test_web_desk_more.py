"""The desk's further pages: the committee's queues, the tellers' paper ballots, the admin's definitions and incidents.
Each page against the engine: counts as the engine has them, ballots really entered and corrected, definitions really
deployed, instances really retried; permissions, other communities, CSRF, bad input; Chinese and English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.bootstrap import Engine
from engine.consultation.commands import AnswerOpinion, SubmitOpinion
from engine.kernel.clock import ManualClock
from engine.kernel.commands import CompleteTask, StartInstance
from engine.kernel.models import Definition, Event, Instance
from engine.voting.commands import CastBallot
from engine.voting.models import Participation
from tests import bpmn_samples as b
from tests.builders import (complete_task, convention_of, deliberate, open_consultation, open_drafting, open_vote,
                            propose_amendment, ready)
from tests.helpers import Community, make_community
from tests.pages import Page, Pages, pages_for
from web.i18n import LOCALE_COOKIE

pytestmark = pytest.mark.pages


def queue_total(page: Page, key: str) -> int:
    (text,) = page.tree.xpath(f"//strong[@class='desk-count' and @data-queue='{key}']/text()")
    return int(text)


def row_counts(page: Page, key: str) -> list[int]:
    return [int(t) for t in page.tree.xpath(f"//li[@data-queue='{key}']//strong[@class='desk-row-count']/text()")]


# --- queues -----------------------------------------------------------------------------------------

def test_the_queues_count_what_the_engine_has_and_drop_when_an_opinion_is_answered(deployed: Engine, neighbours: Community) -> None:
    instance_id = open_consultation(deployed, neighbours)
    first = deployed.execute(SubmitOpinion(instance_id, "By the gate."), neighbours["alice"])
    deployed.execute(SubmitOpinion(instance_id, "Behind building 3."), neighbours["bob"])
    chair = pages_for(deployed, neighbours, "chair")
    assert queue_total(chair.get("/desk/queues"), "opinion_answers") == 0  # the opinion period is still open
    deliberate(deployed, neighbours, instance_id)
    page = chair.get("/desk/queues")
    assert page.status == 200 and page.texts("//h1") == ["Queues: what waits for you"]
    assert queue_total(page, "opinion_answers") == 2 and row_counts(page, "opinion_answers") == [2]
    assert f"/consultations/{instance_id}" in page.tree.xpath("//li[@data-queue='opinion_answers']//a/@href")
    deployed.execute(AnswerOpinion(first.id, "adopted", "Convenient."), neighbours["chair"])
    assert queue_total(chair.get("/desk/queues"), "opinion_answers") == 1
    zh = pages_for(deployed, neighbours, "clerk", "zh_CN").get("/desk/queues")
    assert zh.status == 200 and "待答复的意见 (1)" in zh.texts("//h2")


def test_amendments_to_decide_are_counted_with_a_short_diff(deployed: Engine, neighbours: Community) -> None:
    instance_id = open_drafting(deployed, neighbours)
    convention_id = convention_of(deployed, instance_id)
    propose_amendment(deployed, neighbours, convention_id, "alice", "replace", "a1", "晚上十一点后禁止喧哗。")
    propose_amendment(deployed, neighbours, convention_id, "bob", "delete", "a3")
    complete_task(deployed, neighbours, instance_id, "amendment_period", {"reason": "Everyone has had their say."})
    page = pages_for(deployed, neighbours, "chair").get("/desk/queues")
    assert queue_total(page, "amendment_decisions") == 2
    items = page.texts("//li[@data-queue='amendment_decisions']//ul[@class='desk-queue-items']/li")
    assert any("a1" in item and "禁止" in item for item in items) and any("a3" in item and "宠物狗" in item for item in items)
    assert page.tree.xpath("//li[@data-queue='amendment_decisions']//del") and page.tree.xpath("//li[@data-queue='amendment_decisions']//ins")
    assert f"/conventions/{convention_id}" in page.tree.xpath("//li[@data-queue='amendment_decisions']//a/@href")


def test_residents_and_admins_get_403_on_the_queues(deployed: Engine, neighbours: Community) -> None:
    browser = Pages(deployed)
    alice = pages_for(deployed, neighbours, "alice")
    assert alice.get("/desk/queues").status == 403
    admin = pages_for(deployed, neighbours, "admin")
    assert admin.get("/desk/queues").status == 403
    assert browser.get("/desk/queues").location == "/sign-in?next=/desk/queues"


# --- tellers ----------------------------------------------------------------------------------------

@pytest.mark.both_backends
def test_a_teller_finds_a_voter_by_name_enters_corrects_and_the_list_names_the_teller(deployed: Engine, neighbours: Community) -> None:
    _, vote_id = open_vote(deployed, neighbours)
    chair = pages_for(deployed, neighbours, "chair")
    assert vote_id in "".join(chair.get("/desk/votes").tree.xpath("//main//a/@href"))
    found = chair.get(f"/desk/votes/{vote_id}/paper?q=ALI")
    assert found.status == 200
    assert found.texts("//table[@class='desk-voters']//tbody/tr/td[1]") == ["alice"]
    url = f"/desk/votes/{vote_id}/paper/{neighbours['alice'].member_id}"
    assert url in found.tree.xpath("//table[@class='desk-voters']//a/@href")
    form = chair.get(url)
    assert form.status == 200 and form.tree.xpath("//fieldset[@id='choice']//input[@value='yes']")
    entered = chair.post(url, {"choice": "yes"})
    assert entered.status == 200, entered.text[:2000]
    (receipt,) = entered.tree.xpath("//code[@data-receipt]/text()")
    with deployed.read() as session:
        row = session.scalars(select(Participation).where(Participation.vote_id == vote_id)).one()
        assert (row.channel, row.teller_id, row.member_id) == ("paper", neighbours["chair"].member_id, neighbours["alice"].member_id)
    again = chair.post(url, {"choice": "no"}, from_page=url)
    assert again.status == 409
    assert "This voter has already voted (online or on paper)" in " ".join(again.texts("//div[@class='error-summary']//li"))
    deployed.execute(CastBallot(vote_id, "no"), neighbours["bob"])
    bob = f"/desk/votes/{vote_id}/paper/{neighbours['bob'].member_id}"
    refused = chair.post(bob, {"choice": "yes"}, from_page=bob)
    assert refused.status == 409 and "one ballot per voter" in refused.text
    correct = f"{url}/correct"
    no_reason = chair.post(correct, {"choice": "no", "receipt": receipt, "reason": "  "}, from_page=correct)
    assert no_reason.status == 422
    assert no_reason.field_errors() == {"reason": ["Enter the reason for the correction."]}
    assert "#reason" in no_reason.tree.xpath("//div[@class='error-summary']//a/@href")
    wrong = chair.post(correct, {"choice": "no", "receipt": "x" * 32, "reason": "Misread."}, from_page=correct)
    assert wrong.status == 422 and "receipt" in wrong.field_errors()
    bad_choice = chair.post(correct, {"choice": "maybe", "receipt": receipt, "reason": "Misread."}, from_page=correct)
    assert bad_choice.status == 422 and "choice" in bad_choice.field_errors()
    clerk = pages_for(deployed, neighbours, "clerk")
    done = clerk.post(correct, {"choice": "no", "receipt": receipt, "reason": "The slip said no; misread."}, from_page=correct)
    assert done.status == 200, done.text[:2000]
    with deployed.read() as session:
        corrected = session.scalars(select(Event).where(Event.type == "paper_ballot_corrected")).one()
        assert corrected.actor_id == neighbours["clerk"].member_id and corrected.input["reason"] == "The slip said no; misread."
    listing = chair.get(f"/desk/votes/{vote_id}/paper")
    rows = [r for r in listing.tree.xpath("//table[@class='desk-entries']//tbody/tr")]
    cells = [[" ".join(td.text_content().split()) for td in row.xpath("td")] for row in rows]
    assert [(c[1], c[2], c[3], c[4]) for c in cells] == [("Corrected", "alice", "clerk", "The slip said no; misread."),
                                                       ("Entered", "alice", "chair", "—")]


def test_the_teller_pages_in_chinese(deployed: Engine, neighbours: Community) -> None:
    _, vote_id = open_vote(deployed, neighbours)
    chair = pages_for(deployed, neighbours, "chair", "zh_CN")
    page = chair.get(f"/desk/votes/{vote_id}/paper?q=")
    assert page.status == 200 and "按姓名或户查找选民" in page.texts("//label")
    assert len(page.texts("//table[@class='desk-voters']//tbody/tr")) == 4  # chair, alice, bob, carol: the residents
    url = f"/desk/votes/{vote_id}/paper/{neighbours['carol'].member_id}"
    empty = chair.post(url, {}, from_page=url)
    assert empty.status == 422 and empty.field_errors().get("choice")
    assert chair.post(url, {"choice": "abstain"}, from_page=url).status == 200
    listing = chair.get(f"/desk/votes/{vote_id}/paper")
    assert "录入" in listing.texts("//table[@class='desk-entries']//td")


def test_tellers_are_the_committee_and_another_communitys_vote_is_404(deployed: Engine, neighbours: Community) -> None:
    _, vote_id = open_vote(deployed, neighbours)
    alice = pages_for(deployed, neighbours, "alice")
    member = neighbours["bob"].member_id
    for url in ("/desk/votes", f"/desk/votes/{vote_id}/paper", f"/desk/votes/{vote_id}/paper/{member}",
                f"/desk/votes/{vote_id}/paper/{member}/correct"):
        assert alice.get(url).status == 403, url
    assert pages_for(deployed, neighbours, "admin").get(f"/desk/votes/{vote_id}/paper").status == 403
    riverside = make_community(deployed, "riverside")
    _, theirs = open_vote(deployed, riverside)
    chair = pages_for(deployed, neighbours, "chair")
    assert chair.get(f"/desk/votes/{theirs}/paper").status == 404
    assert chair.get(f"/desk/votes/{theirs}/paper/{riverside['alice'].member_id}").status == 404
    assert chair.get(f"/desk/votes/{vote_id}/paper/{riverside['alice'].member_id}").status == 404  # not in this electorate
    for odd in ("99999999999999999999", "x" * 500, "a%00b"):
        assert chair.get(f"/desk/votes/{odd}/paper").status == 404
    assert chair.get(f"/desk/votes/{vote_id}/paper/99999999999999999999").status == 404
    assert chair.get(f"/desk/votes/{vote_id}/paper?q=" + "x" * 300).status == 422
    assert chair.get(f"/desk/votes/{vote_id}/paper?q=a%00").status == 422
    url = f"/desk/votes/{vote_id}/paper/{member}"
    chair.get(url)
    assert chair.post(url, {"choice": "yes"}, csrf=False).status == 400
    assert chair.post(f"{url}/correct", {"choice": "yes", "receipt": "x" * 32, "reason": "r"}, csrf=False).status == 400
    with deployed.read() as session:
        assert session.scalars(select(Participation).where(Participation.vote_id == vote_id)).all() == []


# --- definitions --------------------------------------------------------------------------------------

BROKEN = b.minimal("upload").replace(b"</bpmn:process>", b'<bpmn:fooTask id="mystery"/></bpmn:process>')


def test_a_broken_upload_names_file_element_and_line_and_a_good_one_deploys(deployed: Engine, neighbours: Community) -> None:
    from io import BytesIO
    admin = pages_for(deployed, neighbours, "admin")
    page = admin.get("/desk/definitions")
    assert page.status == 200 and page.texts("//h1") == ["Process definitions"]
    broken = admin.post("/desk/definitions", {"file": (BytesIO(BROKEN), "upload.bpmn")}, content_type="multipart/form-data")
    assert broken.status == 422
    (row,) = broken.tree.xpath("//table[@class='desk-problems']//tbody/tr")
    cells = [" ".join(td.text_content().split()) for td in row.xpath("td")]
    assert cells[0] == "upload.bpmn" and cells[1] == "mystery" and cells[2].isdigit()
    assert "bpmn:fooTask" in cells[3]
    assert broken.tree.xpath("//div[@class='error-summary']//a[@href='#file']")
    with deployed.read() as session:
        assert session.scalars(select(Definition).where(Definition.key == "upload")).all() == []
    good = admin.post("/desk/definitions", {"file": (BytesIO(b.minimal("upload")), "upload.bpmn")},
                      content_type="multipart/form-data", from_page="/desk/definitions")
    assert good.status == 302
    shown = admin.get(good.location)
    assert "Deployed: version 1 of upload." in shown.text
    with deployed.read() as session:
        (definition,) = session.scalars(select(Definition).where(Definition.key == "upload")).all()
        assert (definition.community_id, definition.version) == (neighbours.id, 1)
    assert shown.texts("//tr[@data-key='upload']/td[@class='desk-running']") == ["Version 1 · your community's own"]
    for data, message in (({}, "Choose a BPMN or DMN file to upload."),
                          ({"file": (BytesIO(b"<x/>"), "notes.txt")}, "The file must be a .bpmn or .dmn file."),
                          ({"file": (BytesIO(b"\x00\x01binary"), "junk.bpmn")}, None)):
        refused = admin.post("/desk/definitions", data, content_type="multipart/form-data", from_page="/desk/definitions")
        assert refused.status == 422
        if message:
            assert message in refused.text
    assert admin.post("/desk/definitions", {"file": (BytesIO(b.minimal("x")), "x.bpmn")}, content_type="multipart/form-data",
                      csrf=False).status == 400


def test_an_admin_adopts_a_platform_version(deployed: Engine, neighbours: Community) -> None:
    from engine.kernel.commands import DeployDefinition
    deployed.execute(StartInstance("vote"), neighbours["chair"])  # pins the platform's version 1 of vote
    source = (b.minimal("vote", task_name="Another review"))
    deployed.execute(DeployDefinition("vote.bpmn", source))  # the platform's version 2
    admin = pages_for(deployed, neighbours, "admin", "zh_CN")
    page = admin.get("/desk/definitions")
    assert page.status == 200
    assert page.tree.xpath("//tr[@data-key='vote']//form[contains(@action,'/desk/definitions/vote/adopt')]")
    bad = admin.post("/desk/definitions/vote/adopt", {"version": "x"})
    assert bad.status == 422
    adopted = admin.post("/desk/definitions/vote/adopt", {"version": "2"}, from_page="/desk/definitions")
    assert adopted.status == 302
    after = admin.get(adopted.location)
    assert "第 2 版" in " ".join(after.texts("//tr[@data-key='vote']/td[@class='desk-running']"))
    assert admin.post("/desk/definitions/nope/adopt", {"version": "1"}, from_page="/desk/definitions").status in (404, 409, 422)
    assert admin.post("/desk/definitions/vote/adopt", {"version": "2"}, csrf=False).status == 400


# --- incidents ----------------------------------------------------------------------------------------

REQUEST_KIND = "request"
FRAGILE = b.linear("fragile", b.user_task("review"), b.script_task("count", "total = len(items) + 1"), b.user_task("after"))


def test_a_failed_script_is_an_incident_retried_with_corrected_data(deployed: Engine, neighbours: Community, clock: ManualClock) -> None:
    from io import BytesIO
    admin = pages_for(deployed, neighbours, "admin")
    admin.get("/desk/definitions")
    assert admin.post("/desk/definitions", {"file": (BytesIO(FRAGILE), "fragile.bpmn")}, content_type="multipart/form-data").status == 302
    instance_id = deployed.execute(StartInstance("fragile", {"items": None}), neighbours["chair"]).id
    clock.advance(timedelta(minutes=5))
    deployed.execute(CompleteTask(ready(deployed, instance_id)["review"]), neighbours["chair"])
    page = admin.get("/desk/incidents")
    assert page.status == 200
    (row,) = page.tree.xpath(f"//li[@data-instance='{instance_id}']")
    assert " ".join(row.xpath(".//dd[@class='desk-incident-element']")[0].text_content().split()) == "count"
    assert row.xpath(".//dd[@class='desk-error-detail']")[0].text_content().strip()
    again = admin.post(f"/desk/incidents/{instance_id}", {}, from_page="/desk/incidents")
    assert again.status == 409 and "The retry failed again" in again.text
    bad = admin.post(f"/desk/incidents/{instance_id}", {"data": "[1, 2"})
    assert bad.status == 422 and bad.field_errors() == {"data": ["Write the corrected data as a JSON object, e.g. {\"count\": 3}."]}
    fixed = admin.post(f"/desk/incidents/{instance_id}", {"data": '{"items": [1, 2]}'}, from_page=f"/desk/incidents/{instance_id}")
    assert fixed.status == 302, fixed.text[:3000]
    with deployed.read() as session:
        instance = session.get(Instance, instance_id)
        assert instance.status == "running" and instance.data["total"] == 3
    assert instance_id not in admin.get("/desk/incidents").text
    admin.client.set_cookie(LOCALE_COOKIE, "zh_CN")
    zh = admin.get("/desk/incidents")
    assert zh.texts("//h1") == ["故障：因错误而停止的流程"]


def test_admin_pages_are_for_admins_and_another_communitys_instance_is_404(deployed: Engine, neighbours: Community,
                                                                          clock: ManualClock) -> None:
    from engine.kernel.commands import DeployDefinition
    for name in ("alice", "chair"):
        browser = pages_for(deployed, neighbours, name)
        for url in ("/desk/definitions", "/desk/incidents", "/desk/incidents/abc"):
            assert browser.get(url).status == 403, (name, url)
        browser.get("/desk")
        assert browser.post("/desk/definitions/vote/adopt", {"version": "1"}).status == 403
    riverside = make_community(deployed, "riverside")
    deployed.execute(DeployDefinition("fragile.bpmn", FRAGILE))
    theirs = deployed.execute(StartInstance("fragile", {"items": None}), riverside["chair"]).id
    deployed.execute(CompleteTask(ready(deployed, theirs)["review"]), riverside["chair"])
    admin = pages_for(deployed, neighbours, "admin")
    assert theirs not in admin.get("/desk/incidents").text
    assert admin.get(f"/desk/incidents/{theirs}").status == 404
    assert admin.post(f"/desk/incidents/{theirs}", {}, from_page="/desk/incidents").status == 404
    for odd in ("99999999999999999999", "x" * 500, "a%00b"):
        assert admin.get(f"/desk/incidents/{odd}").status == 404
    assert admin.post(f"/desk/incidents/{theirs}", {}, csrf=False).status == 400


def test_the_desk_links_to_the_new_pages_by_role(deployed: Engine, neighbours: Community) -> None:
    chair = pages_for(deployed, neighbours, "chair").get("/desk")
    assert {"/desk/queues", "/desk/votes"} <= set(chair.tree.xpath("//ul[@class='desk-more']//a/@href"))
    admin = pages_for(deployed, neighbours, "admin").get("/desk")
    assert set(admin.tree.xpath("//ul[@class='desk-more']//a/@href")) == {"/desk/definitions", "/desk/incidents"}


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_every_new_page_renders_in_both_languages(deployed: Engine, neighbours: Community, locale: str) -> None:
    _, vote_id = open_vote(deployed, neighbours)
    chair = pages_for(deployed, neighbours, "chair", locale)
    admin = pages_for(deployed, neighbours, "admin", locale)
    for browser, url in ((chair, "/desk/queues"), (chair, "/desk/votes"), (chair, f"/desk/votes/{vote_id}/paper?q=a"),
                         (chair, f"/desk/votes/{vote_id}/paper/{neighbours['alice'].member_id}"),
                         (admin, "/desk/definitions"), (admin, "/desk/incidents")):
        page = browser.get(url)
        assert page.status == 200, url
        assert len(page.texts("//h1")) == 1


def test_requests_and_corrective_actions_wait_in_the_committees_queues(deployed: Engine, neighbours: Community,
                                                                        clock: ManualClock) -> None:
    from engine.pdca.commands import FileServiceRequest, ReportCorrectiveAction
    from engine.pdca.models import ServiceRequest
    from tests.builders import Series, pdca_staff
    staff = pdca_staff(deployed, neighbours)
    series = Series(deployed, neighbours, staff, clock).define()
    series.serve(hours=(30, 40, 50))
    deployed.execute(FileServiceRequest(series.cycle_id, REQUEST_KIND, "The stairwell light is out."), neighbours["alice"])
    chair = pages_for(deployed, neighbours, "chair")
    page = chair.get("/desk/queues")
    assert queue_total(page, "requests") == 1
    assert f"/services/cycles/{series.cycle_id}" in page.tree.xpath("//li[@data-queue='requests']//a/@href")
    with deployed.read() as session:
        assert session.scalars(select(ServiceRequest).where(ServiceRequest.answered_at.is_(None))).all()
    series.rate({"alice": 2, "bob": 2, "carol": 5, "chair": 3})
    missed = series.instance()["data"]["check"]["missed"]
    assert missed and "assign_actions" in series.ready()
    page = chair.get("/desk/queues")
    assert queue_total(page, "corrective_actions") == len(missed)
    actions = [series.assign(key) for key in missed]
    assert queue_total(chair.get("/desk/queues"), "corrective_actions") == 0
    series.complete("assign_actions")
    for action in actions:
        deployed.execute(ReportCorrectiveAction(action.id, "Done as planned."), staff["provider"])
    series.complete("carry_out_actions", actor=staff["provider"])
    page = chair.get("/desk/queues")
    assert queue_total(page, "action_verifications") == len(actions)
    assert "Fix " + missed[0] in " ".join(page.texts("//li[@data-queue='action_verifications']//li"))
