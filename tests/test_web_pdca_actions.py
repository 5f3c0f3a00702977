"""Corrective actions on the cycle page: the committee assigns one to each missed indicator, the provider reports each
done, the committee verifies each one's effect — each through the page, each checked in the engine, and each step's task
then completed on the desk; refusals (a resident, too early, bad input, no CSRF token, another community) in words.
Also: the API says why a task cannot be completed yet in the caller's language."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engine.bootstrap import Engine
from engine.kernel.clock import ManualClock
from engine.pdca.commands import ReportCorrectiveAction
from engine.pdca.models import CorrectiveAction
from tests.builders import Series, desk_staff, pdca_staff, series_missed
from tests.fixtures import bearer
from tests.helpers import Community
from tests.pages import Pages, pages_for
from tests.test_web_desk_forms import submit

pytestmark = pytest.mark.pages


@pytest.fixture
def missed(deployed: Engine, neighbours: Community, clock: ManualClock) -> Series:
    """A series whose first cycle missed satisfaction and response time: the task to assign actions is open; the
    provider ("provider") signs in with a code."""
    return series_missed(deployed, neighbours, desk_staff(deployed, neighbours), clock)


def actions(engine: Engine, cycle_id: int) -> list[CorrectiveAction]:
    with engine.read() as session:
        found = list(session.scalars(select(CorrectiveAction).where(CorrectiveAction.cycle_id == cycle_id).order_by(CorrectiveAction.id)))
        session.expunge_all()
        return found


def due(clock: ManualClock, days: int = 10) -> str:
    return (clock.now().astimezone(ZoneInfo("Asia/Shanghai")) + timedelta(days=days)).date().isoformat()


def assignment(missed: Series, clock: ManualClock, key: str, **overrides: Any) -> dict[str, Any]:
    return {"indicator": key, "description": f"Fix {key}: train the team", "owner_id": str(missed.provider.member_id),
            "due_date": due(clock), **overrides}


def api(deployed: Engine) -> Any:
    from api import create_app
    return create_app({"TESTING": True}, engine=deployed).test_client()


# ---- the journey -----------------------------------------------------------------------------------

@pytest.mark.both_backends
def test_assign_report_and_verify_through_the_cycle_page_each_step_then_completed_on_the_desk(
        deployed: Engine, neighbours: Community, missed: Series, clock: ManualClock) -> None:
    cycle_url = f"/services/cycles/{missed.cycle_id}"
    chair = pages_for(deployed, neighbours, "chair")
    page = chair.get(cycle_url)
    assert page.status == 200
    assert page.texts("//section[@id='actions']/p[@class='notice']") == [
        "Now the committee assigns a corrective action to each missed indicator."]
    assert page.texts("//ul[contains(@class,'missed-list')]/li") == [
        "Resident satisfaction: still without a corrective action", "Repair response time (P90): still without a corrective action"]
    assert page.texts("//div[@class='act-form']/h3") == [
        "Assign a corrective action: Resident satisfaction", "Assign a corrective action: Repair response time (P90)"]
    assert page.texts("//label[@for='assign-satisfaction-owner-id']") == ["Who carries it out"]
    options = page.tree.xpath("//select[@id='assign-satisfaction-owner-id']/option")
    assert options[1].get("value") == str(missed.provider.member_id) and options[1].text == "provider"
    assert page.tree.xpath("//select[@id='assign-satisfaction-owner-id']/option[@selected]/@value") == [str(missed.provider.member_id)]
    assert page.tree.xpath("//input[@id='assign-satisfaction-due-date']/@type") == ["date"]

    sent = chair.post(f"/services/cycles/{missed.cycle_id}/corrective-actions", assignment(missed, clock, "satisfaction"))
    [made] = actions(deployed, missed.cycle_id)
    assert sent.status == 302 and sent.location == f"{cycle_url}#action-{made.id}"
    assert (made.indicator, made.description, made.owner_id, made.status, made.due_date.isoformat()) == (
        "satisfaction", "Fix satisfaction: train the team", missed.provider.member_id, "assigned", due(clock))
    page = chair.get(cycle_url)
    assert page.texts("//ul[contains(@class,'missed-list')]/li") == [
        "Resident satisfaction: has a corrective action", "Repair response time (P90): still without a corrective action"]
    card = f"//li[@id='action-{made.id}']"
    assert page.texts(f"{card}//h3") == ["Resident satisfaction"]
    facts = dict(zip(page.texts(f"{card}//dt"), page.texts(f"{card}//dd")))
    assert facts["Status"] == "Assigned" and facts["Who carries it out"] == "provider"
    day = clock.now().astimezone(ZoneInfo("Asia/Shanghai")) + timedelta(days=10)
    assert facts["Due date"] == day.strftime("%a, %b ") + str(day.day) + day.strftime(", %Y")
    assert page.tree.xpath(f"{card}//time/@datetime") == [due(clock)]
    assert facts["Assigned"].startswith("by chair, ")

    # the desk's task cannot be completed while "response" has no action
    assert missed.ready().keys() == {"assign_actions"}
    chair.post(f"/services/cycles/{missed.cycle_id}/corrective-actions", assignment(missed, clock, "response"), from_page=cycle_url)
    assert {a.indicator for a in actions(deployed, missed.cycle_id)} == {"satisfaction", "response"}
    desk_link = chair.get(cycle_url).tree.xpath("//section[@id='actions']//a[contains(@href, '/desk/tasks/')]/@href")
    assert desk_link == [f"/desk/tasks/{missed.ready()['assign_actions']}"]
    submit(chair, deployed, missed.instance_id, "assign_actions", "pdca/actions_assigned.json", {"note": "Both assigned."})
    assert missed.ready().keys() == {"carry_out_actions"}

    # the provider reports each action done, in Chinese
    provider = pages_for(deployed, neighbours, "provider", "zh_CN")
    page = provider.get(cycle_url)
    assert page.texts("//section[@id='actions']/p[@class='notice']") == ["现在落实整改措施：服务方逐项报告完成情况。"]
    first, second = actions(deployed, missed.cycle_id)
    assert page.texts(f"//label[@for='action-{first.id}-report']") == ["做了什么"]
    done = provider.post(f"/services/corrective-actions/{first.id}/report", {"report": "两次培训，签到表已存档。"})
    assert done.status == 302 and done.location == f"{cycle_url}#action-{first.id}"
    first = actions(deployed, missed.cycle_id)[0]
    assert (first.status, first.report, first.reported_by) == ("done", "两次培训，签到表已存档。", missed.provider.member_id)
    page = provider.get(cycle_url)
    assert page.tree.xpath(f"//form[contains(@action, '/corrective-actions/{first.id}/report')]") == []
    facts = dict(zip(page.texts(f"//li[@id='action-{first.id}']//dt"), page.texts(f"//li[@id='action-{first.id}']//dd")))
    assert facts["状态"] == "已报告完成，等待核验" and facts["做了什么"] == "两次培训，签到表已存档。"
    provider.post(f"/services/corrective-actions/{second.id}/report", {"report": "Faster dispatch."}, from_page=cycle_url)
    submit(provider, deployed, missed.instance_id, "carry_out_actions", "pdca/actions_reported.json", {"note": "都已完成。"})
    assert missed.ready().keys() == {"verify_actions"}

    # the committee verifies each one's effect
    page = chair.get(cycle_url)
    assert page.texts(f"//fieldset[@id='action-{first.id}-effective']/legend") == ["Did the action work?"]
    assert page.texts(f"//fieldset[@id='action-{first.id}-effective']//label") == ["Yes, it worked", "No, it did not work"]
    checked = chair.post(f"/services/corrective-actions/{first.id}/verify", {"effective": "yes", "note": "Fewer complaints."})
    assert checked.status == 302 and checked.location == f"{cycle_url}#action-{first.id}"
    chair.post(f"/services/corrective-actions/{second.id}/verify", {"effective": "no", "note": "Still slow."}, from_page=cycle_url)
    first, second = actions(deployed, missed.cycle_id)
    assert (first.status, first.effective, first.verification) == ("closed", True, "Fewer complaints.")
    assert (second.status, second.effective, second.verification) == ("closed", False, "Still slow.")
    page = chair.get(cycle_url)
    assert page.texts("//li[@class='card']//dd/strong[@class='tag']") == [
        "Verified and closed · effective", "Verified and closed · not effective"]
    assert page.tree.xpath("//form[contains(@action, '/verify')]") == []
    submit(chair, deployed, missed.instance_id, "verify_actions", "pdca/actions_verified.json", {"note": "One worked."})
    assert missed.ready().keys() == {"service_period"}
    assert missed.replayed()


# ---- refusals -------------------------------------------------------------------------------------------

def test_a_resident_sees_the_actions_but_no_form_and_is_refused_each_step(
        deployed: Engine, neighbours: Community, missed: Series, clock: ManualClock) -> None:
    alice = pages_for(deployed, neighbours, "alice")
    page = alice.get(f"/services/cycles/{missed.cycle_id}")
    assert page.texts("//h2[@id='actions-title']") == ["Corrective actions"]
    assert page.tree.xpath("//section[@id='actions']//form") == []
    refused = alice.post(f"/services/cycles/{missed.cycle_id}/corrective-actions", assignment(missed, clock, "satisfaction"))
    assert refused.status == 403 and refused.texts("//div[@class='error-summary']//li") == ["this needs the role committee"]
    assert actions(deployed, missed.cycle_id) == []
    action = missed.assign("satisfaction")
    assert alice.post(f"/services/corrective-actions/{action.id}/report", {"report": "I did it"},
                      from_page=f"/services/cycles/{missed.cycle_id}").status == 403
    assert actions(deployed, missed.cycle_id)[0].status == "assigned"
    # the chair (committee, not the owner nor the series' provider) may not report it either
    chair = pages_for(deployed, neighbours, "chair", "zh_CN")
    missed.assign("response")
    missed.complete("assign_actions")
    no = chair.post(f"/services/corrective-actions/{action.id}/report", {"report": "Done"}, from_page=f"/services/cycles/{missed.cycle_id}")
    assert no.status == 403 and no.texts("//div[@class='error-summary']//li") == ["只有措施负责人或该服务的服务方才能报告完成"]
    deployed.execute(ReportCorrectiveAction(action.id, "Done."), missed.provider)
    assert alice.post(f"/services/corrective-actions/{action.id}/verify", {"effective": "yes", "note": "ok"},
                      from_page=f"/services/cycles/{missed.cycle_id}").status == 403


def test_reporting_or_verifying_too_early_is_refused_in_words(deployed: Engine, neighbours: Community, missed: Series) -> None:
    action = missed.assign("satisfaction")
    provider = pages_for(deployed, neighbours, "provider")
    page = provider.get(f"/services/cycles/{missed.cycle_id}")
    assert page.tree.xpath("//section[@id='actions']//form") == []
    early = provider.post(f"/services/corrective-actions/{action.id}/report", {"report": "Done already"})
    assert early.status == 409
    assert early.texts("//div[@class='error-summary']//li") == ["actions are reported done only while the task carry_out_actions is open"]
    chair = pages_for(deployed, neighbours, "chair", "zh_CN")
    chair.get(f"/services/cycles/{missed.cycle_id}")
    unverified = chair.post(f"/services/corrective-actions/{action.id}/verify", {"effective": "yes", "note": "好"})
    assert unverified.status == 409
    assert unverified.texts("//div[@class='error-summary']//li") == ["只有在“核验整改成效”这一步进行期间才能核验整改措施"]
    assert actions(deployed, missed.cycle_id)[0].status == "assigned"


def test_assigning_after_the_step_and_reporting_twice_are_conflicts(deployed: Engine, neighbours: Community, missed: Series,
                                                                    clock: ManualClock) -> None:
    first, second = missed.assign("satisfaction"), missed.assign("response")
    missed.complete("assign_actions")
    chair = pages_for(deployed, neighbours, "chair")
    chair.get(f"/services/cycles/{missed.cycle_id}")
    late = chair.post(f"/services/cycles/{missed.cycle_id}/corrective-actions", assignment(missed, clock, "satisfaction"))
    assert late.status == 409
    assert late.texts("//div[@class='error-summary']//li") == ["corrective actions are assigned only while the task assign_actions is open"]
    provider = pages_for(deployed, neighbours, "provider")
    provider.get(f"/services/cycles/{missed.cycle_id}")
    assert provider.post(f"/services/corrective-actions/{first.id}/report", {"report": "Done"}).status == 302
    twice = provider.post(f"/services/corrective-actions/{first.id}/report", {"report": "Done again"},
                          from_page=f"/services/cycles/{missed.cycle_id}")
    assert twice.status == 409 and twice.texts("//div[@class='error-summary']//li") == ["the action is done, not waiting to be carried out"]
    assert [a.status for a in actions(deployed, missed.cycle_id)] == ["done", "assigned"]
    assert second.id


@pytest.mark.parametrize("overrides, errors", [
    ({"description": "   "}, {"assign-satisfaction-description": ["1 to 2000 characters"]}),
    ({"description": ""}, {"assign-satisfaction-description": ["Describe the corrective action"]}),
    ({"description": "x" * 2001}, {"assign-satisfaction-description": ["1 to 2000 characters"]}),
    ({"description": "x" * 100_000}, {"assign-satisfaction-description": ["Your text is too long"]}),
    ({"description": "nul \x00"}, {"assign-satisfaction-description": [
        "Your text contains a character that cannot be stored. Remove it and send it again."]}),
    ({"owner_id": ""}, {"assign-satisfaction-owner-id": ["Choose who carries it out"]}),
    ({"owner_id": "99999999999999999999"}, {"assign-satisfaction-owner-id": ["not a member of this community"]}),
    ({"owner_id": "abc"}, {"assign-satisfaction-owner-id": ["not a member of this community"]}),
    ({"due_date": ""}, {"assign-satisfaction-due-date": ["Enter the due date"]}),
    ({"due_date": "2026-02-30"}, {"assign-satisfaction-due-date": ["Enter a due date from today ({today}) on, as YYYY-MM-DD"]}),
    ({"due_date": "2000-01-01"}, {"assign-satisfaction-due-date": ["Enter a due date from today ({today}) on, as YYYY-MM-DD"]}),
    ({"due_date": "9" * 50}, {"assign-satisfaction-due-date": ["Enter a date as YYYY-MM-DD"]}),
])
def test_a_bad_assignment_comes_back_with_each_error_beside_its_field(deployed: Engine, neighbours: Community, missed: Series,
                                                                     clock: ManualClock, overrides: dict[str, str],
                                                                     errors: dict[str, list[str]]) -> None:
    chair = pages_for(deployed, neighbours, "chair")
    chair.get(f"/services/cycles/{missed.cycle_id}")
    page = chair.post(f"/services/cycles/{missed.cycle_id}/corrective-actions", assignment(missed, clock, "satisfaction", **overrides))
    assert page.status == 422
    today = clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    words = today.strftime("%a, %b ") + str(today.day) + today.strftime(", %Y")
    assert page.field_errors() == {field: [m.replace("{today}", words) for m in messages] for field, messages in errors.items()}
    assert page.tree.xpath("//div[@class='error-summary']//a/@href") == [f"#{field}" for field in errors]
    assert actions(deployed, missed.cycle_id) == []


def test_an_indicator_that_was_not_missed_is_refused_on_the_form_and_chinese_says_the_date(
        deployed: Engine, neighbours: Community, missed: Series, clock: ManualClock) -> None:
    chair = pages_for(deployed, neighbours, "chair", "zh_CN")
    chair.get(f"/services/cycles/{missed.cycle_id}")
    page = chair.post(f"/services/cycles/{missed.cycle_id}/corrective-actions", assignment(missed, clock, "nope<script>"))
    assert page.status == 422
    assert page.texts("//div[@class='error-summary']//li") == ["本周期该指标没有未达标，不需要整改措施。"]
    past = chair.post(f"/services/cycles/{missed.cycle_id}/corrective-actions",
                      assignment(missed, clock, "satisfaction", due_date="2000-01-01"), from_page=f"/services/cycles/{missed.cycle_id}")
    today = clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    assert past.status == 422 and past.field_errors() == {"assign-satisfaction-due-date": [
        f"请填写从今天（{today.year}年{today.month}月{today.day}日周{'一二三四五六日'[today.weekday()]}）起的截止日期，格式为 YYYY-MM-DD"]}
    assert [t.strip() for t in past.tree.xpath("//textarea[@id='assign-satisfaction-description']/text()")] == ["Fix satisfaction: train the team"]


@pytest.mark.parametrize("sent, errors", [
    ({"report": ""}, {"report": ["Say what was done"]}),
    ({"report": "   "}, {"report": ["1 to 2000 characters"]}),
    ({"report": "y" * 100_000}, {"report": ["Your text is too long"]}),
    ({"report": "\x00"}, {"report": ["Your text contains a character that cannot be stored. Remove it and send it again."]}),
])
def test_a_bad_report_comes_back_beside_its_field(deployed: Engine, neighbours: Community, missed: Series,
                                                  sent: dict[str, str], errors: dict[str, list[str]]) -> None:
    action = missed.assign("satisfaction")
    missed.assign("response")
    missed.complete("assign_actions")
    provider = pages_for(deployed, neighbours, "provider")
    provider.get(f"/services/cycles/{missed.cycle_id}")
    page = provider.post(f"/services/corrective-actions/{action.id}/report", sent)
    assert page.status == 422
    assert page.field_errors() == {f"action-{action.id}-{field}": messages for field, messages in errors.items()}
    assert actions(deployed, missed.cycle_id)[0].status == "assigned"


@pytest.mark.parametrize("sent, errors", [
    ({"note": "ok"}, {"effective": ["Choose whether the action worked"]}),
    ({"effective": "maybe", "note": "ok"}, {"effective": ["Choose whether the action worked"]}),
    ({"effective": "yes", "note": ""}, {"note": ["Write what the committee found"]}),
    ({"effective": "no", "note": " \t "}, {"note": ["1 to 2000 characters"]}),
    ({"effective": "no", "note": "z" * 100_000}, {"note": ["Your text is too long"]}),
])
def test_a_bad_verification_comes_back_beside_its_fields(deployed: Engine, neighbours: Community, missed: Series,
                                                         sent: dict[str, str], errors: dict[str, list[str]]) -> None:
    action = missed.assign("satisfaction")
    missed.assign("response")
    missed.complete("assign_actions")
    for made in actions(deployed, missed.cycle_id):
        deployed.execute(ReportCorrectiveAction(made.id, "Done."), missed.provider)
    missed.complete("carry_out_actions", actor=missed.provider)
    chair = pages_for(deployed, neighbours, "chair")
    chair.get(f"/services/cycles/{missed.cycle_id}")
    page = chair.post(f"/services/corrective-actions/{action.id}/verify", sent)
    assert page.status == 422
    assert page.field_errors() == {f"action-{action.id}-{field}": messages for field, messages in errors.items()}
    assert actions(deployed, missed.cycle_id)[0].status == "done"


def test_no_csrf_token_no_action(deployed: Engine, neighbours: Community, missed: Series, clock: ManualClock) -> None:
    chair = pages_for(deployed, neighbours, "chair")
    page = chair.post(f"/services/cycles/{missed.cycle_id}/corrective-actions", assignment(missed, clock, "satisfaction"), csrf=False)
    assert page.status == 400 and page.texts("//h1") == ["This form has expired"]
    action = missed.assign("satisfaction")
    assert chair.post(f"/services/corrective-actions/{action.id}/verify", {"effective": "yes", "note": "x"}, csrf=False).status == 400
    assert pages_for(deployed, neighbours, "provider").post(
        f"/services/corrective-actions/{action.id}/report", {"report": "x"}, csrf=False).status == 400
    assert [a.status for a in actions(deployed, missed.cycle_id)] == ["assigned"]


@pytest.mark.parametrize("url", ["/services/cycles/{cycle}/corrective-actions", "/services/corrective-actions/{action}/report",
                                 "/services/corrective-actions/{action}/verify", "/services/corrective-actions/99999999999999999999/verify",
                                 "/services/corrective-actions/2147483648/report", "/services/cycles/2147483648/corrective-actions"])
def test_another_communitys_cycle_or_action_and_ids_that_cannot_be_are_not_found(
        deployed: Engine, neighbours: Community, other_community: Community, clock: ManualClock, url: str) -> None:
    theirs = series_missed(deployed, other_community, pdca_staff(deployed, other_community), clock)
    action = theirs.assign("satisfaction")
    chair = pages_for(deployed, neighbours, "chair")
    chair.get("/services")
    page = chair.post(url.format(cycle=theirs.cycle_id, action=action.id),
                      {"indicator": "response", "description": "x", "owner_id": "1", "due_date": due(clock), "report": "x",
                       "effective": "yes", "note": "x"})
    assert page.status == 404 and page.texts("//h1") == ["Page not found"]
    assert [a.id for a in actions(deployed, theirs.cycle_id)] == [action.id]


def test_a_cycle_without_a_missed_indicator_shows_no_action_section(deployed: Engine, neighbours: Community, clock: ManualClock) -> None:
    made = Series(deployed, neighbours, pdca_staff(deployed, neighbours), clock).define()
    made.serve()
    page = pages_for(deployed, neighbours, "chair").get(f"/services/cycles/{made.cycle_id}")
    assert page.status == 200 and page.tree.xpath("//section[@id='actions']") == []


# ---- the API says why a task waits, in the caller's language ------------------------------------------

def test_the_apis_not_yet_messages_are_translated_for_chinese_callers(deployed: Engine, neighbours: Community, missed: Series) -> None:
    client = api(deployed)
    task = missed.ready()["assign_actions"]
    for language, message in (("en", "assign a corrective action to each missed indicator first (none yet: response, satisfaction)"),
                              ("zh-CN", "请先为每项未达标指标指定整改措施（尚未指定的：response, satisfaction）")):
        refused = client.post(f"/api/tasks/{task}/complete", json={"data": {}},
                              headers={**bearer(neighbours.tokens["chair"]), "Accept-Language": language})
        assert refused.status_code == 409
        assert refused.get_json()["error"]["message"] == message
    missed.assign("satisfaction")
    missed.assign("response")
    missed.complete("assign_actions")
    task = missed.ready()["carry_out_actions"]
    with deployed.read() as session:
        from engine.identity.models import Member
        assert session.get(Member, missed.provider.member_id) is not None
    from engine.identity.commands import IssueToken
    token = deployed.execute(IssueToken(missed.provider.member_id, "test"), neighbours["admin"])
    refused = client.post(f"/api/tasks/{task}/complete", json={"data": {}}, headers={**bearer(token), "Accept-Language": "zh-CN"})
    assert refused.status_code == 409 and refused.get_json()["error"]["message"] == "还有 2 项整改措施未报告完成"
    english = client.post(f"/api/tasks/{task}/complete", json={"data": {}}, headers=bearer(token))
    assert english.get_json()["error"]["message"] == "2 corrective actions are not reported done yet"


@pytest.mark.parametrize("count, english, chinese", [
    (1, "1 corrective action is reported done but not verified: verify the effect of each first",
     "还有 1 项整改措施已报告完成但尚未核实：请先逐项核实整改成效"),
    (2, "2 corrective actions are reported done but not verified: verify the effect of each first",
     "还有 2 项整改措施已报告完成但尚未核实：请先逐项核实整改成效"),
])
def test_the_verification_precondition_speaks_both_languages(deployed: Engine, neighbours: Community, missed: Series,
                                                             count: int, english: str, chinese: str) -> None:
    made = [missed.assign("satisfaction"), missed.assign("response")]
    missed.complete("assign_actions")
    for action in made:
        deployed.execute(ReportCorrectiveAction(action.id, "Done."), missed.provider)
    missed.complete("carry_out_actions", actor=missed.provider)
    if count == 1:
        from engine.pdca.commands import VerifyCorrectiveAction
        deployed.execute(VerifyCorrectiveAction(made[0].id, True, "ok"), neighbours["chair"])
    client, task = api(deployed), missed.ready()["verify_actions"]
    for language, message in (("en", english), ("zh-CN", chinese)):
        refused = client.post(f"/api/tasks/{task}/complete", json={"data": {}},
                              headers={**bearer(neighbours.tokens["chair"]), "Accept-Language": language})
        assert refused.status_code == 409 and refused.get_json()["error"]["message"] == message


def test_the_other_processes_not_yet_messages_are_extracted_and_translated() -> None:
    from babel.messages.pofile import read_po

    from api.errors import CATALOGUE
    with CATALOGUE.open("rb") as file:
        catalogue = read_po(file)
    for msgid, chinese in (("%(count)s opinion is still unanswered; answer every opinion first", "还有 %(count)s 条意见未答复：请先答复每一条意见"),
                           ("%(count)s amendments are still undecided; decide every amendment first",
                            "还有 %(count)s 条修改建议未作决定：请先对每一条修改建议作出决定")):
        assert catalogue.get(msgid) is not None and catalogue.get(msgid).string == chinese


def test_the_series_report_words_each_actions_due_date_in_the_communitys_zone(deployed: Engine, neighbours: Community,
                                                                             missed: Series, clock: ManualClock) -> None:
    action = missed.assign("satisfaction")
    with deployed.read() as session:
        from engine.pdca.queries import series_of
        series_id = series_of(session, missed.instance_id).id
    page = pages_for(deployed, neighbours, "carol", "zh_CN").get(f"/services/series/{series_id}")
    day = action.due_date
    assert page.texts("//table[@class='actions-table']/tbody/tr/td[4]") == [
        f"{day.year}年{day.month}月{day.day}日周{'一二三四五六日'[day.weekday()]}"]
    assert page.tree.xpath("//table[@class='actions-table']/tbody/tr/td[4]/time/@datetime") == [day.isoformat()]
    cycle = pages_for(deployed, neighbours, "bob").get(f"/services/cycles/{missed.cycle_id}")
    assert cycle.texts("//ul[contains(@class,'missed-list')]/li")[0] == "Resident satisfaction: has a corrective action"
