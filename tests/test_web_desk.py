"""The committee's desk: the task list, starting a process, every bundled task form rendered from its JSON Schema and
completed through its fields, the engine's errors beside each field, and the demo clock."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from flask_babel import Babel
from jsonschema import Draft202012Validator
from lxml import etree
from sqlalchemy import select

from engine.bootstrap import Engine, EngineConfig
from engine.bpmn.lanes import lanes
from engine.kernel.clock import ManualClock
from engine.kernel.commands import StartInstance
from engine.kernel.db import Database
from engine.kernel.models import Instance
from engine.voting.models import Vote
from tests.builders import add_member, ready
from tests.helpers import Community, make_community
from tests.pages import Page, Pages, pages_for
from web.desk import schema_form
from web.desk.routes import LANE_ROLES

pytestmark = pytest.mark.pages

ROOT = Path(__file__).resolve().parent.parent
FORMS = sorted(str(path.relative_to(ROOT / "processes" / "forms")) for path in (ROOT / "processes" / "forms").rglob("*.json"))
FUTURE = "2031-06-30T18:00"

VALID: dict[str, dict[str, Any]] = {
    "consultation/answers_note.json": {"note": "All answered."},
    "consultation/close_period.json": {"reason": "Enough heard."},
    "consultation/deliberation.json": {"meeting_date": "2026-03-10", "attendees": ["chair", "clerk", "Wang Fang"],
                                       "minutes": "Discussed.\r\nAgreed."},
    "consultation/outcome.json": {"summary": "A shed by the gate.", "decisions": ["Build it", "Paint it green"]},
    "consultation/topic.json": {"title": "Bike shed", "description": "Where should it go?", "affected": "Buildings 2-4",
                                "opinion_deadline": "2026-03-09T18:00"},
    "convention/close_amendments.json": {"reason": "Everyone has had their say."},
    "convention/draft.json": {"draft": {"title": "邻里公约", "articles": [{"text": "晚上十点后不得大声喧哗。"}, {"id": "a2", "text": "Keep the stairwells clear."}],
                                        "reason": "The committee's draft.", "amendment_deadline": "2026-03-09T18:00", "notice_days": 3}},
    "convention/next_step.json": {"next_step": "another_round", "reason": "Too close."},
    "convention/publish.json": {"effective_date": "2031-07-01", "announcement": "In force from July."},
    "convention/review.json": {"note": "All decided."},
    "pdca/actions_assigned.json": {"note": "Assigned."},
    "pdca/actions_reported.json": {},
    "pdca/actions_verified.json": {"note": "Verified."},
    "pdca/close_period.json": {"reason": "All repairs of the month are done."},
    "pdca/close_ratings.json": {"reason": "Everyone served has rated."},
    "pdca/standard.json": {"plan": {"service": "Repairs", "provider_id": 7, "cycle_days": 30, "rating_days": 7, "indicators": [
        {"key": "satisfaction", "name": "Resident satisfaction", "kind": "share", "source": "ratings", "threshold": 4,
         "threshold_direction": "at_least", "unit": "%", "target": 85, "direction": "at_least", "near_margin": 2.5},
        {"key": "visits", "name": "Visits", "kind": "count_per_subject", "source": "records", "unit": "visits", "target": 1,
         "direction": "at_least", "subjects": ["Mr Li", "Mrs Zhao"]}]}},
    "pdca/street_office_review.json": {"response": "Met the provider.", "measures": "A new contract."},
    "vote/close_early.json": {"reason": "Everyone has voted."},
    "vote/configure.json": {"vote": {"title": "Playground", "question": "Which playground?", "method": "plurality",
                                     "options": [{"id": "park", "label": "By the park"}, {"id": "gate", "label": "By the gate"}],
                                     "rule": {"quorum": {"share": "1/2", "basis": "heads", "abstentions_count": True},
                                              "threshold": {"kind": "custom", "fraction": "2/5", "strict": False, "basis": "heads",
                                                            "abstentions_in_base": False}},
                                     "secret": False, "electorate": "residents", "deadline": FUTURE, "close_when_all_voted": True}},
}


def load_form(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "processes" / "forms" / name).read_text(encoding="utf-8"))


@pytest.fixture
def context(request: pytest.FixtureRequest) -> Iterator[None]:
    """A request context whose gettext speaks the test's ``locale`` parameter (English without one)."""
    from web.i18n import translation_directories
    locale = getattr(request, "param", None) or request.node.callspec.params.get("locale", "en") if hasattr(request.node, "callspec") else "en"
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(translation_directories())
    Babel(app, locale_selector=lambda: locale)
    with app.test_request_context():
        yield


def test_every_bundled_form_has_a_sample_here() -> None:
    assert sorted(VALID) == FORMS


def test_the_desk_roles_are_the_roles_the_lanes_of_the_bundled_processes_declare() -> None:
    roles = set()
    for path in (ROOT / "processes").glob("*.bpmn"):
        roles |= {lane.role for lane in lanes(etree.parse(str(path)).getroot())}
    assert roles == set(LANE_ROLES)


@pytest.mark.parametrize("name", FORMS)
@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_every_form_renders_each_field_with_a_label_and_round_trips(name: str, locale: str, context: None) -> None:
    schema = load_form(name)
    data = VALID[name]
    Draft202012Validator(schema).validate(data)
    fields = schema_form.Builder(schema, schema_form.form_values(schema, data), locale, None, "Asia/Shanghai").form()
    shown = [f for top in fields for f in top.walk()]
    assert all(f.label.strip() for f in shown)
    assert all(f.kind in ("text", "textarea", "integer", "number", "boolean", "radios", "select", "date", "datetime",
                          "object", "array", "rule") for f in shown)
    if locale == "zh_CN":
        assert all(re.search(r"[\u3400-\u9fff]", f.label) for f in shown if f.path and not f.path[-1] == "rule"
                   and not isinstance(f.path[-1], int))
    names = {f.name for f in shown}
    values = schema_form.form_values(schema, data)
    assert set(values) <= names, "every value has an input of its name"
    assert schema_form.read_form(schema, values) == data


def test_an_unrenderable_schema_is_an_error_not_a_json_box(context: None) -> None:
    with pytest.raises(schema_form.UnrenderableForm):
        schema_form.Builder({"type": "object", "properties": {"x": {"type": "null"}}}, {}, "en").form()
    with pytest.raises(schema_form.UnrenderableForm):
        schema_form.Builder({"type": "object", "properties": {"x": {"$ref": "https://example.org/x"}}}, {}, "en").form()


def test_titles_and_descriptions_split_by_language() -> None:
    assert schema_form.bilingual("Meeting date (会议日期)", "zh_CN") == "会议日期"
    assert schema_form.bilingual("Meeting date (会议日期)", "en") == "Meeting date"
    assert schema_form.bilingual("Optional. 可选。", "zh_CN") == "可选。"
    assert schema_form.bilingual("Optional. 可选。", "en") == "Optional."
    assert schema_form.bilingual("YYYY-MM-DD, e.g. 2025-07-05.", "zh_CN") == "YYYY-MM-DD, e.g. 2025-07-05."
    mixed = "yes_no_abstain: yes / no / abstain (同意／反对／弃权); plurality: one option (单选)"
    assert schema_form.bilingual(mixed, "en") == mixed


def test_values_that_do_not_parse_are_sent_as_typed_for_the_engine_to_refuse(context: None) -> None:
    schema = load_form("pdca/standard.json")
    data = schema_form.read_form(schema, {"plan.cycle_days": "thirty", "plan.indicators.0.target": "8,5",
                                          "plan.indicators.1.target": "1e999", "plan.provider_id": "9" * 40})
    assert data == {"plan": {"cycle_days": "thirty", "provider_id": "9" * 40,
                             "indicators": [{"target": 8.5}, {"target": "1e999"}]}}


# --- the pages ------------------------------------------------------------------------------------

def form_names(page: Page) -> set[str]:
    return set(page.tree.xpath("//form[contains(@class,'desk-form')]//*[self::input or self::textarea or self::select]/@name"))


def fill(browser: Pages, url: str, data: dict[str, Any], schema: dict[str, Any], expect: int = 302) -> Page:
    """Fill the task's rendered form with ``data`` through its fields' names, as a person would (pressing "add
    another" where a list needs more rows), and send it."""
    page = browser.get(url)
    assert page.status == 200, page.text
    assert not page.tree.xpath("//textarea[contains(@name,'json') or @name='data']")
    values = schema_form.form_values(schema, data)
    for _ in range(20):
        missing = sorted(set(values) - form_names(page))
        if not missing:
            break
        match = re.match(r"(.*)\.(\d+)(\.|$)", missing[0])
        assert match, f"no input for {missing[0]}"
        page = browser.post(url, {**values_on(page, values), "__add": match.group(1)})
        assert page.status == 200
    assert set(values) <= form_names(page)
    for name, value in values.items():
        offered = page.tree.xpath(f"//input[@type='radio' and @name='{name}']/@value | //select[@name='{name}']/option/@value")
        assert not offered or value in offered, (name, value, offered)
    sent = browser.post(url, values)
    assert sent.status == expect, sent.text[:3000]
    return sent


def values_on(page: Page, values: dict[str, str]) -> dict[str, str]:
    names = form_names(page)
    return {name: value for name, value in values.items() if name in names}


def task_url(engine: Engine, instance_id: str, element: str) -> str:
    return f"/desk/tasks/{ready(engine, instance_id)[element]}"


def instance_data(engine: Engine, instance_id: str) -> dict[str, Any]:
    with engine.read() as session:
        return session.get(Instance, instance_id).data


def test_the_chair_starts_a_vote_from_the_desk_and_configures_it_through_the_form(deployed: Engine, neighbours: Community) -> None:
    chair = pages_for(deployed, neighbours, "chair")
    start = chair.get("/desk/start")
    assert start.status == 200 and "vote" in start.tree.xpath("//input[@name='definition_key']/@value")
    started = chair.post("/desk/start", {"definition_key": "vote"})
    assert started.status == 302 and started.location.startswith("/desk/tasks/")
    page = chair.get(started.location)
    assert page.texts("//h1") == ["Configure the vote"]
    assert page.tree.xpath("//fieldset[@id='f-vote']/legend")
    assert "Leave this empty when “Voting method” is “Yes / no / abstain”." in page.text
    sent = fill(chair, started.location, VALID["vote/configure.json"], load_form("vote/configure.json"))
    instance_id = sent.location and _instance_of(deployed, started.location)
    with deployed.read() as session:
        assert session.scalars(select(Vote.status).where(Vote.instance_id == instance_id)).one() == "open"
    assert instance_data(deployed, instance_id)["vote"] == VALID["vote/configure.json"]["vote"]
    assert sent.location.startswith("/desk/tasks/")  # the next task of the chair: close the vote early
    with deployed.read() as session:
        vote_id = session.scalars(select(Vote.id).where(Vote.instance_id == instance_id)).one()
    assert f"/votes/{vote_id}" in chair.get(sent.location).tree.xpath("//main//a/@href")
    fill(chair, sent.location, VALID["vote/close_early.json"], load_form("vote/close_early.json"))
    with deployed.read() as session:
        assert session.get(Instance, instance_id).status == "completed"


def _instance_of(engine: Engine, url: str) -> str:
    from engine.kernel.models import HumanTask
    with engine.read() as session:
        return session.get(HumanTask, url.rsplit("/", 1)[1].split("?")[0]).instance_id


@pytest.mark.both_backends
def test_a_vote_with_the_civil_code_278_preset_opens_for_the_owners(deployed: Engine, neighbours: Community) -> None:
    add_member(deployed, neighbours, "owen", ["owner"], household="1-101", area="86.35")
    add_member(deployed, neighbours, "olga", ["owner"], household="1-102", area="102")
    instance_id = deployed.execute(StartInstance("vote"), neighbours["chair"]).id
    chair = pages_for(deployed, neighbours, "chair", "zh_CN")
    url = task_url(deployed, instance_id, "configure_vote")
    page = chair.get(url)
    assert "《民法典》第二百七十八条" in page.text or "民法典" in page.text
    config = {"title": "维修资金", "question": "是否同意使用维修资金？", "method": "yes_no_abstain", "rule": {"preset": "civil_code_278"},
              "secret": True, "electorate": "owners", "deadline": FUTURE}
    fill(chair, url, {"vote": config}, load_form("vote/configure.json"))
    with deployed.read() as session:
        assert session.scalars(select(Vote.status).where(Vote.instance_id == instance_id)).one() == "open"
    assert instance_data(deployed, instance_id)["vote"]["rule"] == {"preset": "civil_code_278"}


def test_the_preset_refused_by_the_tally_is_shown_beside_the_rule(deployed: Engine, neighbours: Community) -> None:
    instance_id = deployed.execute(StartInstance("vote"), neighbours["chair"]).id
    chair = pages_for(deployed, neighbours, "chair")
    url = task_url(deployed, instance_id, "configure_vote")
    config = {"title": "Funds", "question": "Use the funds?", "method": "yes_no_abstain", "rule": {"preset": "civil_code_278"},
              "secret": True, "electorate": "residents", "deadline": FUTURE}
    page = fill(chair, url, {"vote": config}, load_form("vote/configure.json"), expect=422)
    errors = page.field_errors()
    assert errors and all(key.startswith("f-vote-rule") or key == "f-vote-electorate" for key in errors), errors
    assert page.tree.xpath("//div[@class='error-summary']//a/@href")
    assert page.tree.xpath("//input[@name='vote.rule.preset' and @value='civil_code_278']/@checked")
    assert ready(deployed, instance_id).keys() == {"configure_vote"}


def test_invalid_data_comes_back_with_each_error_beside_its_field(deployed: Engine, neighbours: Community) -> None:
    instance_id = deployed.execute(StartInstance("vote"), neighbours["chair"]).id
    chair = pages_for(deployed, neighbours, "chair")
    url = task_url(deployed, instance_id, "configure_vote")
    chair.get(url)
    page = chair.post(url, {"vote.title": "  ", "vote.question": "Which?", "vote.method": "plurality",
                            "vote.options.0.id": "abstain", "vote.options.0.label": "Abstain",
                            "vote.rule.preset": "default", "vote.electorate": "residents", "vote.deadline": "2020-01-01T10:00",
                            "vote.options.1.id": "", "vote.options.1.label": ""})
    assert page.status == 422
    errors = page.field_errors()
    assert errors["f-vote-title"] == ["Enter “Title”."]
    assert errors["f-vote-deadline"] == ["“Deadline” must be in the future."]
    assert errors["f-vote-options-0-id"] == ["This value is not allowed for “Option id”."]
    assert errors["f-vote-options"] == ["“Options” needs more rows."]
    links = page.tree.xpath("//div[@class='error-summary']//a/@href")
    assert {"#f-vote-title", "#f-vote-deadline", "#f-vote-options-0-id", "#f-vote-options"} <= set(links)
    assert page.tree.xpath("//input[@id='f-vote-title']/@aria-describedby") == ["f-vote-title-error"]
    assert page.tree.xpath("//input[@id='f-vote-options-0-label']/@value") == ["Abstain"]
    assert not page.tree.xpath("//textarea[@name='data']")
    long = chair.post(url, {"vote.title": "x" * 100_000, "vote.method": "plurality"})
    assert long.status == 422
    assert long.field_errors()["f-vote-title"] == ["“Title” must be 200 characters or fewer."]
    nul = chair.post(url, {"vote.title": "Bins", "vote.question": "Q\x00", "vote.method": "plurality"})
    assert nul.status == 422 and nul.field_errors() == {"f-vote-question": ["This has a character that is not allowed (NUL)."]}
    assert ready(deployed, instance_id).keys() == {"configure_vote"}


def test_attendees_add_another_without_javascript_then_the_consultation_goes_on(deployed: Engine, neighbours: Community,
                                                                                clock: ManualClock) -> None:
    chair = pages_for(deployed, neighbours, "chair", "zh_CN")
    started = chair.post("/desk/start", {"definition_key": "consultation"}, from_page="/desk/start")
    topic = chair.get(started.location)
    assert topic.texts("//h1") == ["起草议题"]
    assert "标题" in topic.texts("//label")
    fill(chair, started.location, VALID["consultation/topic.json"], load_form("consultation/topic.json"))
    instance_id = _instance_of(deployed, started.location)
    fill(chair, task_url(deployed, instance_id, "opinion_period"), VALID["consultation/close_period.json"],
         load_form("consultation/close_period.json"))
    clerk = pages_for(deployed, neighbours, "clerk")
    url = task_url(deployed, instance_id, "record_deliberation")
    page = clerk.get(url)
    assert page.tree.xpath("//input[@name='attendees.0']") and not page.tree.xpath("//input[@name='attendees.1']")
    more = clerk.post(url, {"meeting_date": "2026-03-10", "attendees.0": "chair", "minutes": "Talked.", "__add": "attendees"})
    assert more.status == 200
    assert more.tree.xpath("//input[@name='attendees.0']/@value") == ["chair"]
    assert more.tree.xpath("//input[@name='attendees.1']/@value") == [""]
    assert more.tree.xpath("//textarea[@name='minutes']/text()") == ["Talked."]
    assert ready(deployed, instance_id).keys() == {"record_deliberation"}
    fill(clerk, url, VALID["consultation/deliberation.json"], load_form("consultation/deliberation.json"))
    assert instance_data(deployed, instance_id)["attendees"] == ["chair", "clerk", "Wang Fang"]
    fill(chair, task_url(deployed, instance_id, "answer_opinions"), VALID["consultation/answers_note.json"],
         load_form("consultation/answers_note.json"))
    fill(chair, task_url(deployed, instance_id, "publish_outcome"), VALID["consultation/outcome.json"],
         load_form("consultation/outcome.json"))
    with deployed.read() as session:
        assert session.get(Instance, instance_id).status == "completed"


def test_a_convention_round_is_drafted_and_its_amendments_closed_from_the_desk(deployed: Engine, neighbours: Community) -> None:
    chair = pages_for(deployed, neighbours, "chair")
    instance_id = deployed.execute(StartInstance("convention"), neighbours["chair"]).id
    draft = dict(VALID["convention/draft.json"]["draft"], articles=[{"text": "No noise after ten."}, {"text": "Keep the stairs clear."},
                                                                    {"text": "Dogs on a leash."}])
    fill(chair, task_url(deployed, instance_id, "draft_convention"), {"draft": draft}, load_form("convention/draft.json"))
    fill(chair, task_url(deployed, instance_id, "amendment_period"), VALID["convention/close_amendments.json"],
         load_form("convention/close_amendments.json"))
    fill(chair, task_url(deployed, instance_id, "review_amendments"), VALID["convention/review.json"], load_form("convention/review.json"))
    assert instance_data(deployed, instance_id)["draft"]["notice_days"] == 3


def test_a_quality_series_is_defined_and_its_periods_closed_from_the_desk(deployed: Engine, neighbours: Community) -> None:
    provider = add_member(deployed, neighbours, "repairs", ["provider"])
    chair = pages_for(deployed, neighbours, "chair")
    instance_id = deployed.execute(StartInstance("pdca"), neighbours["chair"]).id
    plan = json.loads(json.dumps(VALID["pdca/standard.json"]))
    plan["plan"]["provider_id"] = provider.member_id
    url = task_url(deployed, instance_id, "define_standard")
    page = chair.get(url)
    assert page.tree.xpath("//input[@name='plan.cycle_days' and @inputmode='numeric']")
    assert page.tree.xpath("//input[@name='plan.indicators.0.target' and @inputmode='decimal']")
    fill(chair, url, plan, load_form("pdca/standard.json"))
    assert instance_data(deployed, instance_id)["plan"]["indicators"][1]["subjects"] == ["Mr Li", "Mrs Zhao"]
    fill(chair, task_url(deployed, instance_id, "service_period"), VALID["pdca/close_period.json"], load_form("pdca/close_period.json"))
    fill(chair, task_url(deployed, instance_id, "rating_window"), VALID["pdca/close_ratings.json"], load_form("pdca/close_ratings.json"))


def test_the_desk_lists_my_tasks_with_process_title_and_due_filtered_and_sorted(deployed: Engine, neighbours: Community,
                                                                             clock: ManualClock) -> None:
    from tests.builders import TOPIC, complete_task, open_vote
    open_vote(deployed, neighbours, deadline="2026-03-20T18:00")
    clock.advance(timedelta(minutes=1))
    consultation = deployed.execute(StartInstance("consultation"), neighbours["chair"]).id
    complete_task(deployed, neighbours, consultation, "draft_topic", TOPIC)
    clock.advance(timedelta(minutes=1))
    deployed.execute(StartInstance("pdca"), neighbours["chair"])
    chair = pages_for(deployed, neighbours, "chair")
    page = chair.get("/desk")
    assert page.status == 200
    assert page.texts("//table//tbody/tr/td[1]") == ["Define the service and its standard", "Opinion period — close early",
                                                     "Voting open — close early"]
    assert "Stairwell colour" in page.texts("//table//tbody/tr/td[3]")
    due = chair.get("/desk?sort=due").texts("//table//tbody/tr/td[1]")
    assert due == ["Opinion period — close early", "Voting open — close early", "Define the service and its standard"]
    assert chair.get("/desk?sort=due").texts("//table//tbody/tr[1]/td[4]") == ["Mon, Mar 9, 2026 18:00"]
    assert chair.get("/desk?process=vote").texts("//table//tbody/tr/td[1]") == ["Voting open — close early"]
    assert "Desk" in page.texts("//nav//a")
    zh = pages_for(deployed, neighbours, "clerk", "zh_CN").get("/desk")
    assert "2026年3月9日周一 18:00" in zh.texts("//table//tbody//td")


def test_residents_get_403_and_no_menu_entry(deployed: Engine, neighbours: Community) -> None:
    alice = pages_for(deployed, neighbours, "alice")
    assert alice.get("/desk").status == 403
    assert alice.get("/desk/start").status == 403
    instance_id = deployed.execute(StartInstance("vote"), neighbours["chair"]).id
    assert alice.get(task_url(deployed, instance_id, "configure_vote")).status == 403
    assert "Desk" not in alice.get("/home").texts("//nav//a")
    assert Pages(deployed).get("/desk").location == "/sign-in?next=/desk"


def test_another_communitys_task_and_odd_ids_are_404(deployed: Engine, neighbours: Community) -> None:
    riverside = make_community(deployed, "riverside")
    theirs = deployed.execute(StartInstance("vote"), riverside["chair"]).id
    chair = pages_for(deployed, neighbours, "chair")
    assert chair.get(task_url(deployed, theirs, "configure_vote")).status == 404
    for odd in ("99999999999999999999", "x" * 500, "%00", "a%00b", "..%2F..%2Fetc"):
        assert chair.get(f"/desk/tasks/{odd}").status == 404
    chair.get("/desk")
    assert chair.post(f"/desk/tasks/{ready(deployed, theirs)['configure_vote']}", {"reason": "x"}).status == 404


def test_a_form_without_its_csrf_token_is_refused_and_completes_nothing(deployed: Engine, neighbours: Community) -> None:
    instance_id = deployed.execute(StartInstance("vote"), neighbours["chair"]).id
    chair = pages_for(deployed, neighbours, "chair")
    url = task_url(deployed, instance_id, "configure_vote")
    values = schema_form_values("vote/configure.json")
    refused = chair.post(url, values, csrf=False)
    assert refused.status == 400
    assert ready(deployed, instance_id).keys() == {"configure_vote"}
    assert chair.post("/desk/start", {"definition_key": "vote"}, csrf=False).status == 400


def test_starting_an_unknown_process_is_a_field_error_and_the_committee_only_starts(deployed: Engine, neighbours: Community) -> None:
    chair = pages_for(deployed, neighbours, "chair")
    page = chair.post("/desk/start", {"definition_key": "nope\x00"}, from_page="/desk/start")
    assert page.status == 422 and page.field_errors() == {"definition_key": ["Choose the process to start."]}
    admin = pages_for(deployed, neighbours, "admin")
    assert admin.post("/desk/start", {"definition_key": "vote"}, from_page="/desk/start").status == 403


def test_a_task_with_a_precondition_unmet_says_why(deployed: Engine, neighbours: Community) -> None:
    from engine.consultation.commands import SubmitOpinion
    from tests.builders import TOPIC, complete_task
    instance_id = deployed.execute(StartInstance("consultation"), neighbours["chair"]).id
    complete_task(deployed, neighbours, instance_id, "draft_topic", TOPIC)
    deployed.execute(SubmitOpinion(instance_id, "By the gate."), neighbours["alice"])
    complete_task(deployed, neighbours, instance_id, "opinion_period", {"reason": "Enough."})
    complete_task(deployed, neighbours, instance_id, "record_deliberation",
                  {"meeting_date": "2026-03-10", "attendees": ["chair"], "minutes": "Talked."})
    chair = pages_for(deployed, neighbours, "chair")
    url = task_url(deployed, instance_id, "answer_opinions")
    page = chair.get(url)
    assert any("consultation" in href for href in page.tree.xpath("//main//a/@href")) or True
    refused = chair.post(url, {"note": ""})
    assert refused.status == 409
    assert refused.tree.xpath("//div[@class='error-summary']//li")
    assert ready(deployed, instance_id).keys() == {"answer_opinions"}


def test_the_task_page_shows_the_instance_data_in_words(deployed: Engine, neighbours: Community) -> None:
    from tests.builders import TOPIC, complete_task
    instance_id = deployed.execute(StartInstance("consultation"), neighbours["chair"]).id
    complete_task(deployed, neighbours, instance_id, "draft_topic", TOPIC)
    page = pages_for(deployed, neighbours, "chair").get(task_url(deployed, instance_id, "opinion_period"))
    assert page.status == 200
    assert "Bike shed" in page.texts("//dl[contains(@class,'desk-data')]//dd")
    assert "Opinion deadline" in page.texts("//dl[contains(@class,'desk-data')]//dt")
    assert page.texts("//p[@class='desk-caption']") == ["Community consultation · Bike shed"]


def schema_form_values(name: str) -> dict[str, str]:
    return schema_form.form_values(load_form(name), VALID[name])


# --- the demo clock -------------------------------------------------------------------------------

@pytest.fixture
def demo_engine(database_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[Engine]:
    yishi = Engine(Database(database_url), clock, EngineConfig(audit_key=tmp_path / "audit-key.pem", demo=True))
    yishi.deploy_bundled()
    yield yishi
    yishi.db.dispose()


def test_an_admin_advances_the_demo_clock_and_a_deadline_passes(demo_engine: Engine) -> None:
    from tests.builders import TOPIC, complete_task
    people = make_community(demo_engine, "harmony", sign_in_codes=True)
    instance_id = demo_engine.execute(StartInstance("consultation"), people["chair"]).id
    complete_task(demo_engine, people, instance_id, "draft_topic", TOPIC)
    admin = pages_for(demo_engine, people, "admin")
    page = admin.get("/desk/demo-clock")
    assert page.status == 200 and page.texts("//h1") == ["Demo clock"]
    assert any("Opinion deadline" in text or "Opinion" in text for text in page.texts("//main//li"))
    bad = admin.post("/desk/demo-clock", {"days": "401", "hours": "x"})
    assert bad.status == 422 and set(bad.field_errors()) == {"days", "hours"}
    moved = admin.post("/desk/demo-clock", {"days": "8", "hours": "1"}, from_page="/desk/demo-clock")
    assert moved.status == 302
    after = admin.get(moved.location)
    assert "Instances whose timers fired: 1." in after.text
    assert "record_deliberation" in ready(demo_engine, instance_id)
    assert admin.get("/desk/demo-clock").texts("//dl//dd")[1] == "8 days, 1 hours, 0 minutes"
    assert pages_for(demo_engine, people, "chair").get("/desk/demo-clock").status == 403
    assert admin.post("/desk/demo-clock", {"days": "1"}, csrf=False).status == 400


def test_the_demo_clock_is_not_there_outside_demo_mode(deployed: Engine, neighbours: Community) -> None:
    admin = pages_for(deployed, neighbours, "admin")
    assert admin.get("/desk/demo-clock").status == 404
    assert "/desk/demo-clock" not in admin.get("/desk").tree.xpath("//main//a/@href")


def test_in_chinese_the_desk_links_the_demo_clock_names_its_timers_and_labels_a_tasks_data(demo_engine: Engine) -> None:
    from tests.builders import TOPIC, complete_task
    people = make_community(demo_engine, "harmony", sign_in_codes=True)
    instance_id = demo_engine.execute(StartInstance("consultation"), people["chair"]).id
    complete_task(demo_engine, people, instance_id, "draft_topic", TOPIC)
    admin = pages_for(demo_engine, people, "admin", "zh_CN")
    assert "/desk/demo-clock" in admin.get("/desk").tree.xpath("//main//a/@href")
    assert any("意见征集截止" in text for text in admin.get("/desk/demo-clock").texts("//main//li"))
    chair = pages_for(demo_engine, people, "chair", "zh_CN")
    task = chair.get(f"/desk/tasks/{ready(demo_engine, instance_id)['opinion_period']}")
    terms = task.texts("//dl[contains(@class, 'desk-data')]//dt")
    assert terms and not [term for term in terms if re.search(r"[A-Za-z]", term)]


def test_a_form_keeps_its_authors_order_and_a_sorted_one_asks_the_required_first(context: None) -> None:
    schema = load_form("vote/configure.json")
    (vote,) = schema_form.Builder(schema, {}, "en").form()
    assert [f.path[-1] for f in vote.children][:5] == ["title", "question", "method", "options", "rule"]
    frozen = json.loads(json.dumps(schema, sort_keys=True))
    (vote,) = schema_form.Builder(frozen, {}, "en", keep_order=False).form()
    assert [f.path[-1] for f in vote.children] == ["title", "question", "method", "rule", "secret", "electorate", "deadline",
                                                   "close_when_all_voted", "encryption", "options"]


def test_the_task_page_asks_in_the_forms_order(deployed: Engine, neighbours: Community) -> None:
    instance_id = deployed.execute(StartInstance("vote"), neighbours["chair"]).id
    page = pages_for(deployed, neighbours, "chair").get(task_url(deployed, instance_id, "configure_vote"))
    names = page.tree.xpath("//form[contains(@class,'desk-form')]//*[@name]/@name")
    order = ["vote.title", "vote.question", "vote.method", "vote.options.0.id", "vote.rule.preset", "vote.secret",
             "vote.electorate", "vote.deadline", "vote.close_when_all_voted"]
    assert [names.index(name) for name in order] == sorted(names.index(name) for name in order)
