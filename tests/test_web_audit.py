"""The auditor's view (web/audit): the community's overview, an instance's executed path as of any event, its
timeline with hash links, bundles, verification with the first problem located; and the path API it stands on."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from engine.bootstrap import Engine
from engine.kernel.clock import ManualClock
from engine.kernel.models import Event
from tests.builders import consultation, open_consultation, open_vote
from tests.fixtures import bearer
from tests.helpers import make_community
from tests.pages import Pages, pages_for

pytestmark = pytest.mark.pages

CONSULTATION_PATH = ["start", "draft_topic", "publish_topic", "opinion_deadline_reached", "period_closed", "enter_deliberation",
                     "record_deliberation", "answer_opinions", "publish_outcome", "close_consultation", "end"]
CONSULTATION_FLOWS = ["flow_start_to_draft_topic", "flow_draft_topic_to_publish_topic", "flow_publish_topic_to_opinion_period",
                      "flow_deadline_to_period_closed", "flow_period_closed_to_enter_deliberation",
                      "flow_enter_deliberation_to_record_deliberation", "flow_record_deliberation_to_answer_opinions",
                      "flow_answer_opinions_to_publish_outcome", "flow_publish_outcome_to_close_consultation",
                      "flow_close_consultation_to_end"]
OPINION_PERIOD_SEQ = 7
"""The finished consultation's last event in its opinion period (carol withdrew her opinion); event 8 is the deadline."""


@pytest.fixture
def finished(deployed: Engine, neighbours: Any, clock: ManualClock) -> str:
    """A consultation closed by its deadline, answered and published."""
    return consultation(deployed, neighbours, clock, close_early=False)


def states(page: Any) -> dict[str, str]:
    return {row.get("data-element-id"): row.get("data-state") for row in page.tree.xpath("//tr[@data-element-id]")}


def taken(page: Any) -> dict[str, int]:
    return {row.get("data-flow-id"): int(row.get("data-taken")) for row in page.tree.xpath("//tr[@data-flow-id]")}


@pytest.mark.both_backends
def test_the_auditor_sees_the_community_at_a_glance(deployed: Engine, neighbours: Any, finished: str) -> None:
    open_vote(deployed, neighbours, deadline="2026-04-30T18:00")
    page = pages_for(deployed, neighbours, "auditor").get("/audit")
    assert page.status == 200 and page.texts("//h1") == ["Audit"]
    assert page.texts("//caption[@id='counts-caption']/../tbody/tr[td[1]='consultation']/td") == ["consultation", "completed", "1"]
    assert page.tree.xpath(f"//a[@href='/audit/instances/{finished}']")
    assert page.texts("//a[starts-with(@href, '/votes/')]")
    assert len(page.tree.xpath("//caption[@id='checkpoints-caption']/following-sibling::tbody/tr")) >= 1
    assert "BEGIN PUBLIC KEY" in page.texts("//pre[@class='audit-pem']")[0]
    assert page.tree.xpath("//a[@href='/audit/public-key.pem']") and page.tree.xpath("//a[@href='/audit/bundle?public=1']")
    assert page.tree.xpath("//a[@href='/audit/bundle']"), "an auditor may take the full bundle"
    assert page.texts("//form[@action='/audit/verify']//button") == ["Verify"]
    assert "Audit" in page.texts("//nav[@class='site-nav']//a")


def test_the_overview_in_chinese(deployed: Engine, neighbours: Any, finished: str) -> None:
    page = pages_for(deployed, neighbours, "auditor", "zh_CN").get("/audit")
    assert page.status == 200 and page.texts("//h1") == ["审计"]
    assert page.texts("//form[@action='/audit/verify']//button") == ["核验"]


def test_the_committee_audits_but_takes_no_full_bundle(deployed: Engine, neighbours: Any, finished: str) -> None:
    chair = pages_for(deployed, neighbours, "chair")
    page = chair.get("/audit")
    assert page.status == 200 and not page.tree.xpath("//a[@href='/audit/bundle']")
    assert chair.get("/audit/bundle").status == 403
    assert chair.get("/audit/bundle?public=1").status == 200


def test_a_resident_gets_403_on_every_audit_page_and_no_menu_entry(deployed: Engine, neighbours: Any, finished: str) -> None:
    alice = pages_for(deployed, neighbours, "alice")
    assert "Audit" not in alice.get("/home").texts("//nav[@class='site-nav']//a")
    for url in ("/audit", f"/audit/instances/{finished}", f"/audit/instances/{finished}?as_of=2",
                f"/audit/instances/{finished}/diagram.bpmn", "/audit/bundle?public=1", "/audit/bundle", "/audit/public-key.pem"):
        assert alice.get(url).status == 403, url
    alice.get("/home")
    assert alice.post("/audit/verify", {"instance": finished}).status == 403


def test_a_visitor_is_sent_to_sign_in(deployed: Engine, finished: str) -> None:
    page = Pages(deployed).get("/audit")
    assert page.status == 302 and page.location == "/sign-in?next=/audit"


def test_an_auditor_can_change_nothing_only_verify(deployed: Engine, neighbours: Any, finished: str) -> None:
    auditor = pages_for(deployed, neighbours, "auditor")
    allowed = {"/audit/verify", "/sign-out", "/locale"}
    for url in ("/audit", f"/audit/instances/{finished}", f"/audit/instances/{finished}?as_of=3"):
        page = auditor.get(url)
        actions = {form.get("action") for form in page.tree.xpath("//form[@method='post']")}
        assert actions <= allowed, (url, actions)
        assert not page.tree.xpath("//form[@method='post']//input[@type!='hidden'] | //form[@method='post']//textarea"), url
    with deployed.read() as session:
        before = list(session.scalars(select(Event.hash).where(Event.instance_id == finished).order_by(Event.seq)))
    auditor.post("/audit/verify", {"instance": finished}, from_page=f"/audit/instances/{finished}")
    with deployed.read() as session:
        assert list(session.scalars(select(Event.hash).where(Event.instance_id == finished).order_by(Event.seq))) == before


def test_another_communitys_instance_is_not_found(deployed: Engine, neighbours: Any) -> None:
    riverside = make_community(deployed, "riverside")
    other = open_consultation(deployed, riverside)
    auditor = pages_for(deployed, neighbours, "auditor")
    for url in (f"/audit/instances/{other}", f"/audit/instances/{other}?as_of=1", f"/audit/instances/{other}/diagram.bpmn",
                f"/audit/bundle?public=1&instance={other}", "/audit/instances/nope", "/audit/instances/" + "9" * 200):
        page = auditor.get(url)
        assert page.status == 404 and page.texts("//h1") == ["Page not found"], url
    auditor.get("/audit")
    assert auditor.post("/audit/verify", {"instance": other}).status == 404
    assert auditor.post("/audit/verify", {"instance": "x\x00" * 1000}).status == 404


@pytest.mark.parametrize("as_of", ["0", "15", "-1", "abc", "99999999999999999999", "1.5", "%00", "７", "x" * 100_000])
def test_an_event_the_instance_does_not_have_is_a_404_page(deployed: Engine, neighbours: Any, finished: str, as_of: str) -> None:
    page = pages_for(deployed, neighbours, "auditor").get(f"/audit/instances/{finished}?as_of={as_of}")
    assert page.status == 404 and page.texts("//h1") == ["Page not found"]


def test_the_finished_consultation_shows_its_whole_path_and_timeline(deployed: Engine, neighbours: Any, finished: str) -> None:
    page = pages_for(deployed, neighbours, "auditor").get(f"/audit/instances/{finished}")
    assert page.status == 200
    shown = states(page)
    assert {e for e, s in shown.items() if s == "completed"} == set(CONSULTATION_PATH)
    assert shown["opinion_period"] == "not_reached"
    assert {f: n for f, n in taken(page).items() if n} == dict.fromkeys(CONSULTATION_FLOWS, 1)
    assert page.texts("//tr[@data-element-id='draft_topic']/td[4]") == ["Completed"], "the state in words, not colour alone"
    assert page.texts("//h2[@id='travel-title']") == ["As of event 14 of 14"]
    timeline = page.texts("//table[@class='audit-timeline']/tbody/tr")
    assert len(timeline) == 14 and all("linked and intact" in row for row in timeline)
    assert "Process started" in timeline[0] and "chair" in timeline[0]
    assert "Deadline reached" in timeline[7] and "the engine" in timeline[7]
    assert page.texts("//dl[contains(@class, 'audit-legend')]/dt") == ["居委会 Committee"], "the lane's name, as drawn"
    assert page.texts("//dl[contains(@class, 'audit-legend')]/dd") == ["Residents' committee"], "its declared role, in words"
    assert page.texts("//tr[@data-element-id='draft_topic']/td[3]") == ["居委会 Committee"]
    assert page.tree.xpath("//div[@data-diagram-url]/@data-diagram-url") == [f"/audit/instances/{finished}/diagram.bpmn"]
    assert not page.tree.xpath("//a[@rel='next']") and page.tree.xpath(f"//a[@rel='prev'][@href='/audit/instances/{finished}?as_of=13']")


def test_stepping_back_to_the_opinion_period_shows_its_open_task_and_armed_deadline(
        deployed: Engine, neighbours: Any, finished: str) -> None:
    page = pages_for(deployed, neighbours, "auditor").get(f"/audit/instances/{finished}?as_of={OPINION_PERIOD_SEQ}")
    assert page.status == 200
    shown = states(page)
    assert shown["opinion_period"] == "ready" and shown["opinion_deadline_reached"] == "waiting"
    assert shown["record_deliberation"] == "not_reached" and shown["publish_topic"] == "completed"
    assert page.texts("//li[@data-open-task]") == ["Opinion period — close early — Residents' committee"]
    assert taken(page)["flow_deadline_to_period_closed"] == 0
    assert page.tree.xpath(f"//a[@rel='next'][@href='/audit/instances/{finished}?as_of=8']")
    assert page.tree.xpath("//tr[@class='audit-current']//a[@aria-current='step']/text()") == [str(OPINION_PERIOD_SEQ)]
    assert page.tree.xpath("//input[@type='range'][@name='as_of']/@value") == [str(OPINION_PERIOD_SEQ)]


def test_the_instance_page_in_chinese(deployed: Engine, neighbours: Any, finished: str) -> None:
    page = pages_for(deployed, neighbours, "auditor", "zh_CN").get(f"/audit/instances/{finished}?as_of={OPINION_PERIOD_SEQ}")
    assert page.status == 200
    assert page.texts("//h2[@id='travel-title']") == [f"截至第 {OPINION_PERIOD_SEQ} 个事件（共 14 个）"]
    assert page.texts("//tr[@data-element-id='opinion_period']/td[4]") == ["待办任务"]
    assert page.texts("//dl[contains(@class, 'audit-legend')]/dd") == ["居委会"]


def test_the_diagram_is_the_definition_versions_bpmn(deployed: Engine, neighbours: Any, finished: str, client: Any) -> None:
    page = pages_for(deployed, neighbours, "auditor").get(f"/audit/instances/{finished}/diagram.bpmn")
    assert page.status == 200 and page.headers["Content-Type"].startswith("application/xml")
    version = client.get("/api/definitions/consultation/versions/1?owner=platform", headers=bearer(neighbours.tokens["auditor"])).json
    assert page.text == version["source"]


def test_bundles_download_the_apis_json(deployed: Engine, neighbours: Any, finished: str, client: Any) -> None:
    auditor = pages_for(deployed, neighbours, "auditor")
    for query in ("public=1", "", f"public=1&instance={finished}"):
        page = auditor.get(f"/audit/bundle?{query}")
        api = client.get(f"/api/audit/bundle?{query.replace('public=1', 'public=true')}", headers=bearer(neighbours.tokens["auditor"]))
        assert page.status == 200 and page.headers["Content-Disposition"] == api.headers["Content-Disposition"]
        ours, theirs = __import__("json").loads(page.text), api.json
        ours.pop("exported_at"), theirs.pop("exported_at")
        assert ours == theirs
    key = auditor.get("/audit/public-key.pem")
    assert key.status == 200 and "attachment" in key.headers["Content-Disposition"]
    assert key.text == client.get("/api/audit/public-key").json["public_pem"]


def test_verify_passes_every_check_for_the_community_and_the_instance(deployed: Engine, neighbours: Any, finished: str) -> None:
    auditor = pages_for(deployed, neighbours, "auditor")
    auditor.get("/audit")
    page = auditor.post("/audit/verify")
    assert page.status == 200 and page.texts("//h1") == ["Verification of the whole history"]
    assert page.tree.xpath("//div[@data-verdict='ok']") and page.texts("//div[@data-verdict]/h2") == ["All checks passed"]
    assert [row.get("data-check") for row in page.tree.xpath("//tr[@data-check]")] == \
        ["definitions", "chain", "replay", "records", "recount", "checkpoints"]
    assert all("Passed" in t for t in page.texts("//tr[@data-check]/td[2]"))
    page = auditor.post("/audit/verify", {"instance": finished}, from_page=f"/audit/instances/{finished}")
    assert page.texts("//h1") == ["Verification of process consultation"] and page.tree.xpath("//div[@data-verdict='ok']")
    assert "14 events" in page.texts("//ul[@class='list']/li")


def test_verify_without_its_csrf_token_is_refused(deployed: Engine, neighbours: Any, finished: str) -> None:
    auditor = pages_for(deployed, neighbours, "auditor")
    assert auditor.post("/audit/verify", {"instance": finished}, csrf=False).status == 400


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_verify_locates_the_first_problem_after_an_event_was_tampered_with(deployed: Engine, neighbours: Any, finished: str,
                                                                          locale: str) -> None:
    with deployed.db.engine.begin() as connection:  # as an intruder with database access: straight to the table
        row = connection.execute(select(Event.__table__).where(Event.instance_id == finished, Event.seq == 3)).mappings().one()
        connection.execute(update(Event).where(Event.id == row["id"]).values(input={**row["input"], "text": "Not by the gate."}))
    auditor = pages_for(deployed, neighbours, "auditor", locale)
    timeline = auditor.get(f"/audit/instances/{finished}").texts("//table[@class='audit-timeline']/tbody/tr")
    assert ("altered" in timeline[2] if locale == "en" else "篡改" in timeline[2]) and "✗" in timeline[2]
    assert all("✓" in row for i, row in enumerate(timeline) if i != 2)
    page = auditor.post("/audit/verify", {"instance": finished})
    assert page.status == 200 and page.tree.xpath("//div[@data-verdict='failed']")
    failed = [row.get("data-check") for row in page.tree.xpath("//tr[@data-check]") if "✗" in row.text_content()]
    assert failed[0] == "chain"
    assert page.tree.xpath(f"//div[@data-verdict]//a[@href='/audit/instances/{finished}?as_of=3']")
    if locale == "en":
        assert page.texts("//p[@class='audit-problem']") == [f"event 3 (opinion_submitted) of instance {finished} was altered: its hash does not match its content"]
        assert "Event: 3" in page.texts("//div[@data-verdict]//li")
    else:
        assert page.texts("//div[@data-verdict]/h2") == ["历史记录未通过核验"]


# ---- the path API the page stands on ----------------------------------------------------------------------------------


def test_the_path_api_marks_a_finished_consultation(client: Any, neighbours: Any, finished: str) -> None:
    answer = client.get(f"/api/instances/{finished}/path", headers=bearer(neighbours.tokens["auditor"]))
    assert answer.status_code == 200
    path = answer.json
    assert path["seq"] == path["last_seq"] == 14 and path["status"] == "completed"
    assert path["states"] == dict.fromkeys(sorted(CONSULTATION_PATH), "completed")
    assert path["flows_taken"] == dict.fromkeys(sorted(CONSULTATION_FLOWS), 1)
    lanes = {e["id"]: (e["lane"], e["lane_name"]) for e in path["elements"]}
    assert lanes["draft_topic"] == ("committee", "居委会 Committee"), "the role, and the lane's name as drawn"
    assert {f["id"]: f["taken"] for f in path["flows"]}["flow_opinion_period_to_period_closed"] == 0
    assert path["open_tasks"] == [] and path["pending_timers"] == [] and path["history_matches"] is True


def test_the_path_api_as_of_the_opinion_period(client: Any, neighbours: Any, finished: str) -> None:
    path = client.get(f"/api/instances/{finished}/path?as_of={OPINION_PERIOD_SEQ}", headers=bearer(neighbours.tokens["chair"])).json
    assert path["states"]["opinion_period"] == "ready" and path["states"]["opinion_deadline_reached"] == "waiting"
    assert [t["element_id"] for t in path["open_tasks"]] == ["opinion_period"]
    assert [t["element_id"] for t in path["pending_timers"]] == ["opinion_deadline_reached"]
    assert "record_deliberation" not in path["states"]


def test_the_path_api_refuses_residents_other_communities_and_events_it_lacks(deployed: Engine, client: Any, neighbours: Any,
                                                                              finished: str) -> None:
    auditor = bearer(neighbours.tokens["auditor"])
    assert client.get(f"/api/instances/{finished}/path", headers=bearer(neighbours.tokens["alice"])).status_code == 403
    assert client.get(f"/api/instances/{finished}/chain", headers=bearer(neighbours.tokens["alice"])).status_code == 403
    assert client.get(f"/api/instances/{finished}/path?as_of=15", headers=auditor).status_code == 404
    for bad in ("0", "abc", "99999999999999999999"):
        assert client.get(f"/api/instances/{finished}/path?as_of={bad}", headers=auditor).status_code == 422, bad
    other = open_consultation(deployed, make_community(deployed, "riverside"), opinion_deadline="2026-04-30T18:00")
    assert client.get(f"/api/instances/{other}/path", headers=auditor).status_code == 404


def test_the_chain_api_gives_each_events_link(client: Any, neighbours: Any, finished: str) -> None:
    links = client.get(f"/api/instances/{finished}/chain", headers=bearer(neighbours.tokens["auditor"])).json
    assert [link["seq"] for link in links] == list(range(1, 15)) and all(link["linked"] and link["sealed"] for link in links)


def test_the_legend_of_an_older_definition_names_its_lanes_by_the_role_they_stand_for() -> None:
    """A lane without a ``role`` property stands for its name (a role id, in older definitions): shown as code, with
    the role in words; a lane that declares its role is shown by its name; each lane once, top to bottom."""
    from tests import bpmn_samples
    from web.audit.routes import _legend

    older = bpmn_samples.linear("older", bpmn_samples.user_task("a", lane="street_office"),
                                bpmn_samples.user_task("b"), bpmn_samples.user_task("c", lane="street_office"))
    assert [(lane.name, lane.role, lane.declared) for lane in _legend(older.decode())] == [
        ("committee", "committee", False), ("street_office", "street_office", False)]
    newer = older.replace(b'name="committee">', b'name="\xe5\xb1\x85\xe5\xa7\x94\xe4\xbc\x9a Committee"><bpmn:extensionElements>'
                          b'<spiffworkflow:properties><spiffworkflow:property name="role" value="committee" />'
                          b'</spiffworkflow:properties></bpmn:extensionElements>')
    assert [(lane.name, lane.role, lane.declared) for lane in _legend(newer.decode())][0] == (
        "居委会 Committee", "committee", True)
