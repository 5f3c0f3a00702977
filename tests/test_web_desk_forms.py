"""Every form in processes/forms/ is filled through the desk's task page, by its rendered fields, on a real instance of
a bundled process, and submitted: the task completes in the engine and the instance moves on.

tests/test_web_desk.py submits 13 of the forms; this module the other six: the convention's publishing and next step
after a failed vote, the quality series' three corrective-action tasks and the street office's review. The first test
checks the claim itself: it reads the desk's test modules and fails when a form under processes/forms/ has no test
that submits it.
"""

from __future__ import annotations

import pytest

import ast
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.bootstrap import Engine
from engine.conventions import queries as conventions_queries
from engine.conventions.models import Convention
from engine.kernel.clock import ManualClock
from engine.kernel.models import HumanTask, Instance
from engine.pdca.commands import ReportCorrectiveAction, VerifyCorrectiveAction
from engine.pdca.models import CorrectiveAction, ServiceCycle
from tests.builders import Series, convention_voted, desk_staff, ready, series_escalated, series_missed
from tests.helpers import Community
from tests.pages import Page, Pages, pages_for
from tests.test_web_desk import FORMS, fill, instance_data, load_form

pytestmark = pytest.mark.pages

ROOT = Path(__file__).resolve().parent.parent
DESK_TESTS = sorted(Path(__file__).resolve().parent.glob("test_web_desk*.py"))


# --- the claim: every form is submitted -------------------------------------------------------------

def _form_submitted(call: ast.Call) -> str | None:
    """The form a call submits: ``fill(browser, url, data, load_form("x/y.json"))`` (expecting a redirect, the
    default) or ``submit(…, "x/y.json", …)``; else None."""
    name = call.func.id if isinstance(call.func, ast.Name) else None
    expect = next((k.value for k in call.keywords if k.arg == "expect"), None)
    if expect is not None and not (isinstance(expect, ast.Constant) and expect.value == 302):
        return None
    if name == "fill":
        for arg in call.args:
            if (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "load_form"
                    and arg.args and isinstance(arg.args[0], ast.Constant)):
                return str(arg.args[0].value)
    if name == "submit":
        for arg in call.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.endswith(".json"):
                return arg.value
    return None


def submitted_forms() -> dict[str, list[str]]:
    """Each form some desk page test submits successfully, with those tests (``module::test``)."""
    found: dict[str, list[str]] = {}
    for path in DESK_TESTS:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                for call in ast.walk(node):
                    form = _form_submitted(call) if isinstance(call, ast.Call) else None
                    if form:
                        found.setdefault(form, []).append(f"{path.name}::{node.name}")
    return found


def test_every_form_in_processes_forms_is_submitted_through_the_desk_by_some_test() -> None:
    on_disk = sorted(str(p.relative_to(ROOT / "processes" / "forms")) for p in (ROOT / "processes" / "forms").rglob("*.json"))
    assert on_disk == FORMS and len(on_disk) == 19
    submitted = submitted_forms()
    assert sorted(set(on_disk) - set(submitted)) == [], "forms no desk test fills and submits"
    assert sorted(set(submitted) - set(on_disk)) == [], "tests submit forms that do not exist"


def test_the_check_itself_sees_a_missing_submission() -> None:
    source = ast.parse('def test_x():\n    fill(b, u, {}, load_form("a/b.json"))\n    fill(b, u, {}, load_form("a/c.json"), expect=422)\n'
                       '    submit(b, e, i, "t", "a/d.json", {})\n').body[0]
    calls = [_form_submitted(c) for c in ast.walk(source) if isinstance(c, ast.Call)]
    assert [c for c in calls if c] == ["a/b.json", "a/d.json"]


# --- helpers ----------------------------------------------------------------------------------------

def form_of(engine: Engine, instance_id: str, element: str) -> tuple[str, str | None]:
    """The READY task of ``element``: its id and its form."""
    task_id = ready(engine, instance_id)[element]
    with engine.read() as session:
        return task_id, session.get(HumanTask, task_id).form


def submit(browser: Pages, engine: Engine, instance_id: str, element: str, form: str, data: dict[str, Any]) -> Page:
    """Fill the READY task ``element``'s form (which must be ``form``) on its desk page by its fields, and send it:
    redirected, and the task is completed in the engine."""
    task_id, shown = form_of(engine, instance_id, element)
    assert shown == form
    sent = fill(browser, f"/desk/tasks/{task_id}", data, load_form(form))
    with engine.read() as session:
        assert session.get(HumanTask, task_id).state == "COMPLETED"
    return sent


def field_names(page: Page) -> list[str]:
    return page.tree.xpath("//form[contains(@class,'desk-form')]//*[self::input or self::textarea or self::select]/@name")


# --- the convention ---------------------------------------------------------------------------------

@pytest.mark.both_backends
def test_the_adopted_convention_is_published_from_the_desk(deployed: Engine, neighbours: Community, clock: ManualClock) -> None:
    instance_id, convention_id = convention_voted(deployed, neighbours, clock, adopted=True)
    assert ready(deployed, instance_id).keys() == {"publish_convention"}
    chair = pages_for(deployed, neighbours, "chair", "zh_CN")
    url = f"/desk/tasks/{ready(deployed, instance_id)['publish_convention']}"
    page = chair.get(url)
    assert page.texts("//h1") == ["公布通过的公约"]
    assert page.tree.xpath("//input[@name='effective_date' and @type='date']")
    assert "生效日期" in page.texts("//label")
    assert field_names(page) == ["csrf_token", "effective_date", "announcement"]
    past = chair.post(url, {"effective_date": "2026-03-01", "announcement": "即日起施行。"})
    assert past.status == 422
    assert past.field_errors() == {"f-effective_date": ["“生效日期”不得早于今天。"]}
    assert past.tree.xpath("//div[@class='error-summary']//a/@href") == ["#f-effective_date"]
    assert past.tree.xpath("//textarea[@name='announcement']/text()") == ["即日起施行。"]
    assert ready(deployed, instance_id).keys() == {"publish_convention"}

    effective = (clock.now() + timedelta(days=10)).date().isoformat()
    data = {"effective_date": effective, "announcement": "公约自三月中旬起施行。"}
    submit(chair, deployed, instance_id, "publish_convention", "convention/publish.json", data)
    with deployed.read() as session:
        assert session.get(Instance, instance_id).status == "completed"
        convention = session.get(Convention, convention_id)
        assert (convention.status, convention.adopted_number, convention.effective_date.isoformat()) == ("adopted", 2, effective)
    held = instance_data(deployed, instance_id)
    assert (held["effective_date"], held["announcement"]) == (effective, "公约自三月中旬起施行。")
    assert held["adoption"]["effective_date"] == effective


def test_after_a_failed_vote_the_committee_chooses_another_round_from_the_desk(deployed: Engine, neighbours: Community,
                                                                                clock: ManualClock) -> None:
    instance_id, convention_id = convention_voted(deployed, neighbours, clock, adopted=False)
    assert ready(deployed, instance_id).keys() == {"decide_next_step"}
    chair = pages_for(deployed, neighbours, "chair")
    url = f"/desk/tasks/{ready(deployed, instance_id)['decide_next_step']}"
    page = chair.get(url)
    assert page.texts("//h1") == ["Another round, or abandon?"]
    assert page.texts("//fieldset[@id='f-next_step']//label") == ["Draft the next round", "End the drafting"]
    assert page.tree.xpath("//fieldset[@id='f-next_step']/legend/text()")[0].strip() == "Next step"
    empty = chair.post(url, {"reason": " "})
    assert empty.status == 422
    assert empty.field_errors() == {"f-next_step": ["Choose “Next step”."], "f-reason": ["Enter “Reason”."]}
    assert ready(deployed, instance_id).keys() == {"decide_next_step"}

    sent = submit(chair, deployed, instance_id, "decide_next_step", "convention/next_step.json",
                  {"next_step": "another_round", "reason": "Too close: one more round."})
    assert ready(deployed, instance_id).keys() == {"draft_convention"}
    assert sent.location == f"/desk/tasks/{ready(deployed, instance_id)['draft_convention']}?done=1"
    with deployed.read() as session:
        assert session.get(Instance, instance_id).status == "running"
        first = conventions_queries.get_round(session, neighbours["alice"], convention_id, 1)
        assert (first.vote_outcome, first.closing_reason) == ("rejected", "Too close: one more round.")
        assert session.get(Convention, convention_id).status != "abandoned"


def test_after_a_failed_vote_the_committee_abandons_the_drafting_in_chinese(deployed: Engine, neighbours: Community,
                                                                            clock: ManualClock) -> None:
    instance_id, convention_id = convention_voted(deployed, neighbours, clock, adopted=False)
    chair = pages_for(deployed, neighbours, "chair", "zh_CN")
    page = chair.get(f"/desk/tasks/{ready(deployed, instance_id)['decide_next_step']}")
    assert page.texts("//fieldset[@id='f-next_step']//label") == ["再修订一轮", "放弃"]
    submit(chair, deployed, instance_id, "decide_next_step", "convention/next_step.json",
           {"next_step": "abandon", "reason": "居民普遍反对。"})
    with deployed.read() as session:
        assert session.get(Instance, instance_id).status == "completed"
        assert session.get(Convention, convention_id).status == "abandoned"


# --- the quality series -----------------------------------------------------------------------------

def action_statuses(engine: Engine, series: Series) -> set[str]:
    with engine.read() as session:
        return set(session.scalars(select(CorrectiveAction.status).where(CorrectiveAction.cycle_id == series.cycle_id)))


def test_the_chair_completes_the_assignment_of_corrective_actions_from_the_desk(deployed: Engine, neighbours: Community,
                                                                                clock: ManualClock) -> None:
    staff = desk_staff(deployed, neighbours)
    series = series_missed(deployed, neighbours, staff, clock)
    assert sorted(series.instance()["data"]["check"]["missed"]) == ["response", "satisfaction"]
    assert series.ready().keys() == {"assign_actions"}
    chair = pages_for(deployed, neighbours, "chair")
    url = f"/desk/tasks/{series.ready()['assign_actions']}"
    page = chair.get(url)
    assert page.texts("//h1") == ["Assign a corrective action to each missed indicator"]
    assert field_names(page) == ["csrf_token", "note"]
    early = chair.post(url, {"note": "Nothing assigned yet."})
    assert early.status == 409
    assert early.texts("//div[@class='error-summary']//li") == [
        "Assign a corrective action to each missed indicator first. Still without one: Repair response time (P90), "
        "Resident satisfaction."]
    assert series.ready().keys() == {"assign_actions"}

    for key in series.instance()["data"]["check"]["missed"]:
        series.assign(key)
    submit(chair, deployed, series.instance_id, "assign_actions", "pdca/actions_assigned.json", {"note": "Both assigned to the provider."})
    assert series.ready().keys() == {"carry_out_actions"}
    assert series.instance()["data"]["note"] == "Both assigned to the provider."
    assert action_statuses(deployed, series) == {"assigned"}


def test_the_provider_reports_the_corrective_actions_carried_out_from_the_desk(deployed: Engine, neighbours: Community,
                                                                               clock: ManualClock) -> None:
    staff = desk_staff(deployed, neighbours)
    series = series_missed(deployed, neighbours, staff, clock)
    actions = [series.assign(key) for key in series.instance()["data"]["check"]["missed"]]
    series.complete("assign_actions")
    provider = pages_for(deployed, neighbours, "provider", "zh_CN")
    desk = provider.get("/desk")
    assert desk.status == 200 and "落实整改措施" in desk.texts("//table//tbody/tr/td[1]")
    url = f"/desk/tasks/{series.ready()['carry_out_actions']}"
    early = provider.post(url, {"note": "还没做完。"}, from_page=url)
    assert early.status == 409 and early.texts("//div[@class='error-summary']//li") == ["还有 2 项整改措施未报告完成。"]
    for action in actions:
        deployed.execute(ReportCorrectiveAction(action.id, "Done as planned."), staff["provider"])
    submit(provider, deployed, series.instance_id, "carry_out_actions", "pdca/actions_reported.json", {"note": "两项均已完成。"})
    assert series.ready().keys() == {"verify_actions"}
    assert action_statuses(deployed, series) == {"done"}
    chair = pages_for(deployed, neighbours, "chair")
    assert chair.get(url).texts("//p[@class='notice']") == ["This task is no longer open."]


def test_the_chair_verifies_the_corrective_actions_and_the_next_cycle_starts_from_the_desk(deployed: Engine, neighbours: Community,
                                                                                          clock: ManualClock) -> None:
    staff = desk_staff(deployed, neighbours)
    series = series_missed(deployed, neighbours, staff, clock)
    first_cycle = series.cycle_id
    actions = [series.assign(key) for key in series.instance()["data"]["check"]["missed"]]
    series.complete("assign_actions")
    for action in actions:
        deployed.execute(ReportCorrectiveAction(action.id, "Done as planned."), staff["provider"])
    series.complete("carry_out_actions", actor=staff["provider"])
    chair = pages_for(deployed, neighbours, "chair")
    url = f"/desk/tasks/{series.ready()['verify_actions']}"
    early = chair.post(url, {"note": "Not yet."}, from_page=url)
    assert early.status == 409 and early.texts("//div[@class='error-summary']//li") == [
        "2 corrective actions are reported done but not verified yet: verify the effect of each first."]
    for action, effective in zip(actions, (True, False)):
        deployed.execute(VerifyCorrectiveAction(action.id, effective, "Checked on site."), neighbours["chair"])
    submit(chair, deployed, series.instance_id, "verify_actions", "pdca/actions_verified.json", {"note": "One worked, one did not."})
    assert series.ready().keys() == {"service_period"}
    assert series.instance()["data"]["cycle"]["number"] == 2 and series.cycle_id != first_cycle
    with deployed.read() as session:
        assert session.get(ServiceCycle, first_cycle).status == "closed"
        assert set(session.scalars(select(CorrectiveAction.status).where(CorrectiveAction.cycle_id == first_cycle))) == {"closed"}
    assert series.replayed()


def test_the_street_office_reviews_an_indicator_missed_twice_from_the_desk(deployed: Engine, neighbours: Community,
                                                                          clock: ManualClock) -> None:
    staff = desk_staff(deployed, neighbours)
    series = series_escalated(deployed, neighbours, staff, clock)
    assert series.instance()["data"]["check"]["escalate"] == ["satisfaction"]
    assert sorted(series.ready()) == ["assign_actions", "street_office_review"]
    url = f"/desk/tasks/{series.ready()['street_office_review']}"
    chair = pages_for(deployed, neighbours, "chair")
    seen = chair.get(url)
    assert seen.status == 200 and not seen.tree.xpath("//form[contains(@class,'desk-form')]")
    assert seen.texts("//p[@class='notice']") == ["Only members with the role “street_office” can complete this task."]
    street = pages_for(deployed, neighbours, "street")
    assert "Review the indicators missed twice in a row" in street.get("/desk").texts("//table//tbody/tr/td[1]")
    page = street.get(url)
    assert page.texts("//h1") == ["Review the indicators missed twice in a row"]
    assert field_names(page) == ["csrf_token", "response", "measures"]
    blank = street.post(url, {"response": "   ", "measures": "A meeting."})
    assert blank.status == 422 and blank.field_errors() == {"f-response": ["Enter “Response”."]}
    data = {"response": "Met the provider: satisfaction is missed twice.", "measures": "A meeting with the provider on Monday."}
    sent = submit(street, deployed, series.instance_id, "street_office_review", "pdca/street_office_review.json", data)
    assert sent.location == "/desk?done=1"
    assert series.ready().keys() == {"assign_actions"}
    held = series.instance()["data"]
    assert (held["response"], held["measures"]) == (data["response"], data["measures"])
    series.act()
    assert series.instance()["data"]["cycle"]["number"] == 3
    assert series.replayed()


# --- why a task cannot be completed yet, in the page's language ---------------------------------------

def test_a_review_with_an_amendment_undecided_says_so_in_chinese(deployed: Engine, neighbours: Community) -> None:
    from tests.builders import complete_task, convention_of, open_drafting, propose_amendment
    instance_id = open_drafting(deployed, neighbours)
    propose_amendment(deployed, neighbours, convention_of(deployed, instance_id), "alice", "delete", "a2")
    complete_task(deployed, neighbours, instance_id, "amendment_period", {"reason": "Enough."})
    chair = pages_for(deployed, neighbours, "chair", "zh_CN")
    url = f"/desk/tasks/{ready(deployed, instance_id)['review_amendments']}"
    refused = chair.post(url, {"note": "好了。"}, from_page=url)
    assert refused.status == 409
    assert refused.texts("//div[@class='error-summary']//li") == ["还有 1 条修改建议未作决定：请先对每一条修改建议作出决定。"]
    assert refused.tree.xpath("//textarea[@name='note']/text()") == ["好了。"]
    assert ready(deployed, instance_id).keys() == {"review_amendments"}


def test_an_unknown_precondition_or_an_unexpected_sentence_falls_back_to_words_that_still_say_why() -> None:
    from flask import Flask
    from flask_babel import Babel

    from engine.kernel.errors import Conflict
    from web.desk.routes import waiting_for
    from web.i18n import translation_directories
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(translation_directories())
    Babel(app, locale_selector=lambda: "zh_CN")
    instance = Instance(data={"plan": {"indicators": [{"key": "satisfaction", "name": "居民满意度"}]}})
    with app.test_request_context():
        assert waiting_for(Conflict("the moon is not full", precondition="full_moon"), instance) == "the moon is not full"
        assert waiting_for(Conflict("some corrective actions are not reported done yet",
                                    precondition="all_actions_reported"), instance) == "还有整改措施未报告完成。"
        assert waiting_for(Conflict("1 corrective action is not reported done yet", precondition="all_actions_reported"),
                           instance) == "还有 1 项整改措施未报告完成。"
        missing = Conflict("assign a corrective action to each missed indicator first (none yet: satisfaction, visits)",
                           precondition="every_missed_indicator_has_action")
        assert waiting_for(missing, instance) == "请先为每项未达标指标指定整改措施。尚未指定的：居民满意度、visits。"
