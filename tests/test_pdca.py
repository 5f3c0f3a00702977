"""Service-quality cycles in the engine: classification by a pinned DMN version, many cycles at a flat cost,
corrective actions closed only by verification, bulk uploads, rating eligibility, standards and their end."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.kernel.commands import DeployDefinition, StartInstance
from engine.pdca.commands import AddMeasurements, AddServiceRecords, AnswerServiceRequest, EndSeries, FileServiceRequest, RateService, ReportCorrectiveAction, TightenStandard, VerifyCorrectiveAction
from engine.identity import models as identity_models
from engine.identity import members
from engine.kernel.clock import ManualClock
from engine.kernel.errors import Conflict, DefinitionError, InvalidInput, NotFound, PermissionDenied
from engine.identity.actors import Actor
from engine.pdca.models import CorrectiveAction, ServiceCycle, ServiceRecord, ServiceSeries
from engine.kernel.models import Event
from engine.bootstrap import Engine
from engine.kernel.unit_of_work import UnitOfWork
from tests.builders import QUALITY_DMN, Series, pdca_staff, plan
from tests.helpers import Community, race

@pytest.fixture
def staff(deployed: Engine, community: Community) -> dict[str, Actor]:
    return pdca_staff(deployed, community)


@pytest.fixture
def series(deployed: Engine, community: Community, staff: dict[str, Actor], clock: ManualClock) -> Series:
    return Series(deployed, community, staff, clock)


def test_a_cycle_is_computed_from_its_rows_and_classified_by_the_dmn_table(series: Series) -> None:
    series.define()
    assert list(series.ready()) == ["service_period"]
    series.serve(hours=(4, 12, 30))
    series.rate({"alice": 5, "bob": 4, "carol": 2, "chair": 5})
    assert series.results() == {"satisfaction": (75.0, "missed"), "response": (30.0, "missed")}
    assert list(series.ready()) == ["assign_actions"]
    series.act()
    assert list(series.ready()) == ["service_period"]
    assert series.instance()["data"]["cycle"]["number"] == 2

    series.serve(residents=("alice", "bob"))  # no measurements this time
    series.rate({"alice": 4, "bob": 4})
    assert series.results() == {"satisfaction": (100.0, "met"), "response": (None, "no_data")}
    assert list(series.ready()) == ["service_period"]  # nothing missed: no act phase, the next cycle starts
    assert series.replayed()


def test_a_new_dmn_version_changes_the_classification_of_new_cycles_only(series: Series) -> None:
    series.define(near_margin=10)
    stricter = QUALITY_DMN.replace(b"&gt;= target - near_margin", b"&gt;= target - near_margin / 5")
    deployed = series.engine.execute(DeployDefinition("quality.dmn", stricter), series.community["admin"])
    assert (deployed.created, deployed.definition.kind, deployed.definition.version) == (True, "dmn", 1)  # the community's own v1

    scores = {"alice": 5, "bob": 4, "carol": 4, "chair": 2}  # 75 %: 10 points short of the target
    series.serve()
    series.rate(scores)
    assert series.results()["satisfaction"] == (75.0, "near")  # cycle 1 started under version 1
    series.serve()
    series.rate(scores)
    assert series.results()["satisfaction"] == (75.0, "missed")  # cycle 2 started under the community's own
    with series.engine.read() as session:
        cycles = session.scalars(select(ServiceCycle).order_by(ServiceCycle.number)).all()
        assert [(cycle.number, cycle.decision.community_id, cycle.decision.version) for cycle in cycles] == [
            (1, None, 1), (2, series.community.id, 1)]


def test_thirty_cycles_cost_what_three_do(series: Series) -> None:
    """Continue-as-new keeps the stored state one cycle long, however long the series runs."""
    series.define()
    sizes = {}
    for number in range(1, 33):
        assert series.instance()["data"]["cycle"]["number"] == number
        state = series.instance()["state"]
        sizes[number] = (len(state), len(json.loads(state)["tasks"]))
        series.rate({})
    assert sizes[32][1] == sizes[3][1]
    assert abs(sizes[32][0] - sizes[3][0]) <= 0.03 * sizes[3][0], sizes
    assert series.replayed()


def test_a_corrective_action_is_closed_only_by_the_verification_of_its_effect(series: Series) -> None:
    series.define()
    series.serve(residents=("alice",))
    series.rate({"alice": 2})
    with pytest.raises(Conflict, match=r"none yet: satisfaction\)"):
        series.complete("assign_actions")
    with pytest.raises(InvalidInput) as refused:
        series.assign("response")  # no data is not missed
    assert [e["field"] for e in refused.value.details["errors"]] == ["indicator"]
    action = series.assign("satisfaction")
    series.complete("assign_actions")
    with pytest.raises(Conflict, match="verify_actions"):
        series.engine.execute(VerifyCorrectiveAction(action.id, True, "Looks fine."), series.chair)
    with pytest.raises(Conflict, match="1 corrective action is not reported done"):
        series.complete("carry_out_actions", actor=series.provider)
    with pytest.raises(PermissionDenied):
        series.engine.execute(ReportCorrectiveAction(action.id, "Done."), series.community["alice"])
    series.engine.execute(ReportCorrectiveAction(action.id, "Staff trained."), series.provider)
    series.complete("carry_out_actions", actor=series.provider)
    with pytest.raises(Conflict, match="reported done but not verified"):
        series.complete("verify_actions")
    with series.engine.read() as session:
        assert session.get(CorrectiveAction, action.id).status == "done"
    series.engine.execute(VerifyCorrectiveAction(action.id, False, "Residents still complain."), series.chair)
    with pytest.raises(Conflict, match="already verified"):
        series.engine.execute(VerifyCorrectiveAction(action.id, True, "Second thoughts."), series.chair)
    series.complete("verify_actions")
    with series.engine.read() as session:
        closed = session.get(CorrectiveAction, action.id)
        assert (closed.status, closed.effective, closed.verified_by) == ("closed", False, series.chair.member_id)


def test_a_bulk_upload_is_all_or_nothing_and_names_each_bad_row(series: Series) -> None:
    series.define()
    series.clock.advance(timedelta(hours=2))
    alice = series.community["alice"].member_id
    text = (
        "served_at,subject,resident_id,description\n"
        "2026-03-02T09:30,flat 3-402,{alice},Tap fixed\n"
        "yesterday,flat 3-403,,\n"
        "2026-03-02T09:45,,999999,\n"
        "2026-03-02T09:50,flat 5-101,,Door\n"
    ).format(alice=alice)
    with pytest.raises(InvalidInput) as refused:
        series.engine.execute(AddServiceRecords(series.cycle_id, csv=text), series.provider)
    assert refused.value.message == "2 of 4 rows are not valid; nothing was recorded"
    assert [(e["row"], e["field"]) for e in refused.value.details["errors"]] == [
        (3, "served_at"), (4, "subject"), (4, "resident_id")]
    with pytest.raises(InvalidInput) as refused:
        series.engine.execute(AddMeasurements(series.cycle_id, rows=[
            {"metric": "response_hours", "value": "3.5", "measured_at": "2026-03-02T09:30"},
            {"metric": "respons_hours", "value": 2, "measured_at": "2026-03-02T09:30", "colour": "red"}]), series.provider)
    assert [(e["row"], e["field"]) for e in refused.value.details["errors"]] == [(2, "colour"), (2, "metric")]
    with pytest.raises(InvalidInput, match="header"):
        series.engine.execute(AddServiceRecords(series.cycle_id, csv="when,subject\n2026-03-02T09:30,x\n"), series.provider)
    with series.engine.read() as session:
        assert session.scalar(select(func.count()).select_from(ServiceRecord)) == 0

    header, tap, _, _, door = text.splitlines()
    fixed = "\n".join((header, tap, door))
    uploaded = series.engine.execute(AddServiceRecords(series.cycle_id, csv=fixed), series.provider)
    assert [(r.subject, r.resident_id) for r in uploaded] == [("flat 3-402", alice), ("flat 5-101", None)]
    with pytest.raises(PermissionDenied):
        series.engine.execute(AddServiceRecords(series.cycle_id, csv=fixed), series.community["alice"])


def test_only_residents_served_in_the_cycle_rate_it_and_only_once(series: Series) -> None:
    series.define()
    series.serve(residents=("alice",))
    with pytest.raises(Conflict, match="rating window"):
        series.engine.execute(RateService(series.cycle_id, 5, None), series.community["alice"])
    series.close_period()
    with pytest.raises(PermissionDenied, match="received the service"):
        series.engine.execute(RateService(series.cycle_id, 5, None), series.community["bob"])
    with pytest.raises(InvalidInput):
        series.engine.execute(RateService(series.cycle_id, 6, None), series.community["alice"])
    series.engine.execute(RateService(series.cycle_id, 4, "Quick and tidy."), series.community["alice"])
    with pytest.raises(Conflict, match="already rated"):
        series.engine.execute(RateService(series.cycle_id, 1, None), series.community["alice"])
    with pytest.raises(Conflict, match="service period"):
        series.engine.execute(AddServiceRecords(series.cycle_id, rows=[
            {"served_at": series.clock.now().isoformat(), "subject": "late"}]), series.provider)


def test_an_invalid_plan_is_refused_with_every_field_and_the_task_stays_open(series: Series) -> None:
    with pytest.raises(InvalidInput) as refused:  # the form's own checks
        series.complete("define_standard", {"plan": plan(series.provider.member_id, cycle_days=0)})
    assert [e["field"] for e in refused.value.details["errors"]] == ["plan.cycle_days"]
    bad = plan(series.community["alice"].member_id)  # alice is no provider
    bad["indicators"][1] = {**bad["indicators"][0], "kind": "percentile", "percentile": 90, "source": "records"}
    with pytest.raises(InvalidInput) as refused:  # what only the domain can tell
        series.complete("define_standard", {"plan": bad})
    assert sorted(e["field"] for e in refused.value.details["errors"]) == [
        "plan.indicators.1.key", "plan.indicators.1.source", "plan.indicators.1.threshold",
        "plan.indicators.1.threshold_direction", "plan.provider_id"]
    assert list(series.ready()) == ["define_standard"]
    with series.engine.read() as session:
        assert session.scalar(select(func.count()).select_from(ServiceSeries)) == 0


def test_the_standard_only_tightens_and_only_for_the_cycles_to_come(series: Series) -> None:
    series.define()
    series_id = series.instance()["data"]["cycle"]["series_id"]
    with pytest.raises(InvalidInput, match="targets") as refused:
        series.engine.execute(TightenStandard(series_id, {"satisfaction": 80, "response": 30, "speed": 1}), series.chair)
    assert [e["field"] for e in refused.value.details["errors"]] == ["targets.satisfaction", "targets.response", "targets.speed"]
    with pytest.raises(PermissionDenied):
        series.engine.execute(TightenStandard(series_id, {"satisfaction": 90}), series.provider)
    series.engine.execute(TightenStandard(series_id, {"satisfaction": 90, "response": 12}), series.chair)
    assert {i["key"]: i["target"] for i in series.instance()["data"]["cycle"]["standard"]} == {"satisfaction": 85, "response": 24}
    series.rate({})
    assert {i["key"]: i["target"] for i in series.instance()["data"]["cycle"]["standard"]} == {"satisfaction": 90, "response": 12}


def test_the_committee_ends_the_series_after_its_running_cycle(series: Series) -> None:
    series.define()
    series_id = series.instance()["data"]["cycle"]["series_id"]
    series.engine.execute(EndSeries(series_id, "The repairs contract ends."), series.chair)
    with pytest.raises(Conflict, match="already been requested"):
        series.engine.execute(EndSeries(series_id, "Again."), series.chair)
    assert list(series.ready()) == ["service_period"]  # the running cycle still goes through check and act
    series.rate({})
    instance = series.instance()
    assert (instance["status"], instance["data"]["outcome"]["continue"]) == ("completed", False)
    with series.engine.read() as session:
        assert session.get(ServiceSeries, series_id).status == "ended"
        assert session.scalar(select(func.count()).select_from(ServiceCycle)) == 1


def test_decision_tables_are_deployed_safely_and_apart_from_processes(engine: Engine, community: Community) -> None:
    unchanged = engine.execute(DeployDefinition("quality.dmn", QUALITY_DMN))
    assert (unchanged.created, unchanged.definition.version) == (False, 1)
    with pytest.raises(DefinitionError, match="refused") as refused:
        engine.execute(DeployDefinition("quality.dmn", QUALITY_DMN.replace(b'"met"', b'__import__("os")')))
    assert refused.value.details["element_id"] == "indicator_status"
    with pytest.raises(DefinitionError, match="already taken by a BPMN"):
        engine.execute(DeployDefinition("pdca.dmn", QUALITY_DMN.replace(b'decision id="indicator_status"', b'decision id="pdca"')))
    with pytest.raises(DefinitionError, match=".bpmn or .dmn"):
        engine.execute(DeployDefinition("quality.xml", QUALITY_DMN))
    with pytest.raises(NotFound, match="no process with key 'indicator_status'"):
        engine.execute(StartInstance("indicator_status"), community["chair"])


def test_an_indicator_missed_twice_in_a_row_goes_to_the_street_office(series: Series) -> None:
    series.define()
    series.serve(residents=("alice", "bob"))
    series.rate({"alice": 2, "bob": 5})
    series.act()
    assert list(series.ready()) == ["service_period"]  # missed once: no escalation
    series.serve(residents=("alice", "bob"))
    series.rate({"alice": 2, "bob": 3})
    assert series.instance()["data"]["check"]["escalate"] == ["satisfaction"]
    assert sorted(series.ready()) == ["assign_actions", "street_office_review"]
    with pytest.raises(PermissionDenied):
        series.complete("street_office_review", {"response": "Not mine to give."})
    series.complete("street_office_review", {"response": "Meeting the provider on Monday."}, actor=series.staff["street"])
    series.act()
    assert series.instance()["data"]["cycle"]["number"] == 3
    assert series.replayed()


def test_a_resident_id_of_too_many_digits_or_of_other_digits_is_named_not_a_crash(series: Series) -> None:
    series.define()
    series.clock.advance(timedelta(hours=2))
    rows = [{"served_at": "2026-03-02T09:30", "subject": "flat 3-402", "resident_id": value} for value in ("9" * 5000, "²", "99999999999999999999")]
    with pytest.raises(InvalidInput) as refused:
        series.engine.execute(AddServiceRecords(series.cycle_id, rows=rows), series.provider)
    assert [(e["row"], e["field"]) for e in refused.value.details["errors"]] == [(1, "resident_id"), (2, "resident_id"), (3, "resident_id")]


def test_bad_requests_get_a_clear_4xx_in_the_error_shape(series: Series, client: Any) -> None:
    series.define()
    series.clock.advance(timedelta(hours=1))
    provider_token = _token(series, series.provider)
    cycle = f"/api/pdca/cycles/{series.cycle_id}"
    checks = [
        ("POST", f"{cycle}/records.csv", {"data": b"served_at,subject\n\xff\xfe,x\n", "content_type": "text/csv"}, 422),
        ("POST", f"{cycle}/records", {"json": {"records": [], "extra": 1}}, 422),
        ("POST", f"{cycle}/records", {"json": {"records": []}}, 422),
        ("POST", f"{cycle}/ratings", {"json": {"score": "5"}}, 422),
        ("PUT", f"/api/pdca/series/{series.instance()['data']['cycle']['series_id']}/standard", {"json": {"targets": {"response": "x"}}}, 422),
        ("GET", "/api/pdca/cycles/99999999999", {}, 404),
        ("GET", f"/api/pdca/series/{series.instance()['data']['cycle']['series_id']}/indicators/speed/chart.png", {}, 404),
        ("POST", "/api/pdca/corrective-actions/1/verify", {"json": {"effective": "yes", "note": "x"}}, 422),
    ]
    for method, path, options, status in checks:
        response = client.open(path, method=method, headers={"Authorization": f"Bearer {provider_token}"}, **options)
        assert response.status_code == status, (path, response.get_json())
        assert set(response.get_json()) == {"error"}, response.get_json()


def _token(series: Series, actor: Actor) -> str:
    with UnitOfWork(series.engine.db, series.engine.clock) as uow:
        token = members.issue_token(uow.session, uow.session.get(identity_models.Member, actor.member_id), "test", uow.now)
        uow.commit()
    return token


def test_the_deploy_endpoint_takes_a_decision_table(deployed: Engine, community: Community, client: Any) -> None:
    admin = {"Authorization": f"Bearer {community.tokens['admin']}"}
    stricter = QUALITY_DMN.replace(b"&gt;= target - near_margin", b"&gt;= target - near_margin / 2").decode()
    response = client.post("/api/definitions", json={"filename": "quality.dmn", "source": stricter}, headers=admin)
    assert response.status_code == 201, response.get_json()
    assert {k: response.get_json()["definition"][k] for k in ("key", "kind", "version")} == {
        "key": "indicator_status", "kind": "dmn", "version": 1}
    assert response.get_json()["definition"]["owner"] == "community"
    refused = client.post("/api/definitions", json={"filename": "quality.dmn", "source": "<definitions/>"}, headers=admin)
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (422, "invalid_definition")


# --- racing requests ------------------------------------------------------------------------------


def _events(series: Series, event_type: str) -> int:
    with series.engine.read() as session:
        return session.scalar(select(func.count()).select_from(Event).where(
            Event.instance_id == series.instance_id, Event.type == event_type)) or 0


def _one_succeeded(outcomes: list[Any], refusal: str) -> None:
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == len(outcomes) - 1, outcomes
    assert all(isinstance(o, Conflict) and refusal in o.message for o in refused), refused


def test_racing_reports_verifications_and_answers_each_happen_once(series: Series, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request lingers after its checks; of each kind sent three times at once, one succeeds
    and one event records it: a service request answered, the series' end, a rating, an action
    reported, verified; two tightenings of the standard at once both hold."""
    series.define()
    request = series.engine.execute(FileServiceRequest(series.cycle_id, "complaint", "The lift is noisy."), series.community["alice"])
    answers = race(series.engine, [(AnswerServiceRequest(request.id, f"Fixed, take {n}."), series.provider) for n in range(3)], monkeypatch)
    _one_succeeded(answers, "already been answered")
    series_id = series.instance()["data"]["cycle"]["series_id"]
    tightened = race(series.engine, [(TightenStandard(series_id, {"satisfaction": 90}), series.chair),
                                     (TightenStandard(series_id, {"response": 12}), series.chair)], monkeypatch)
    assert not [o for o in tightened if isinstance(o, Exception)], tightened
    with series.engine.read() as session:  # neither overwrote the other's target
        assert {i["key"]: i["target"] for i in session.get(ServiceSeries, series_id).standard} == {"satisfaction": 90, "response": 12}
    ends = race(series.engine, [(EndSeries(series_id, f"Contract ends, take {n}."), series.chair) for n in range(3)], monkeypatch)
    _one_succeeded(ends, "already been requested")
    series.serve(residents=("alice",))
    series.close_period()
    ratings = race(series.engine, [(RateService(series.cycle_id, 2, f"Slow, take {n}."), series.community["alice"]) for n in range(3)],
                   monkeypatch)
    _one_succeeded(ratings, "already rated")
    series.complete("rating_window", {"reason": "Everyone served has rated."})
    action = series.assign("satisfaction")
    series.complete("assign_actions")
    reports = race(series.engine, [(ReportCorrectiveAction(action.id, f"Trained, take {n}."), series.provider) for n in range(3)], monkeypatch)
    _one_succeeded(reports, "not waiting to be carried out")
    series.complete("carry_out_actions", actor=series.provider)
    checks = race(series.engine, [(VerifyCorrectiveAction(action.id, n == 0, f"Checked, take {n}."), series.chair) for n in range(3)], monkeypatch)
    _one_succeeded(checks, "already verified")
    assert [_events(series, t) for t in ("service_request_answered", "series_end_requested", "service_rated",
                                         "corrective_action_reported", "corrective_action_verified")] == [1, 1, 1, 1, 1]
    with series.engine.read() as session:
        stored = session.get(CorrectiveAction, action.id)
        verified = [o for o in checks if not isinstance(o, Exception)][0]
        assert (stored.status, stored.effective, stored.verification) == ("closed", verified.effective, verified.verification)
    assert series.replayed()
