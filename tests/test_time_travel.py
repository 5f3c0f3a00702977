"""Time travel: an instance as of any event (open tasks, data, timers) and the path it took, on its diagram."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from engine.kernel.commands import CompleteTask, DeployDefinition, RetryInstance, StartInstance
from engine.voting.commands import CastBallot
from engine.audit.time_travel import Snapshot, instance_as_of, state_as_of
from engine.kernel.clock import ManualClock
from engine.kernel.errors import InvalidInput, NotFound
from engine.kernel.models import Event, Instance
from engine.bootstrap import Engine
from tests import bpmn_samples as b
from tests.builders import Series, close_by_deadline, consultation, open_vote, pdca_staff, ready
from tests.helpers import Community

ROOT = Path(__file__).resolve().parent.parent


def as_of(engine: Engine, instance_id: str, seq: int) -> Snapshot:
    with engine.read() as session:
        return instance_as_of(session, session.get(Instance, instance_id), seq)


def seqs(engine: Engine, instance_id: str, event_type: str) -> list[int]:
    with engine.read() as session:
        return list(session.scalars(
            select(Event.seq).where(Event.instance_id == instance_id, Event.type == event_type).order_by(Event.seq)))


def last_seq(engine: Engine, instance_id: str) -> int:
    with engine.read() as session:
        return session.get(Instance, instance_id).last_seq


def elements(snapshot: Snapshot) -> list[str]:
    return [t.element_id for t in snapshot.open_tasks]


# --- a consultation ------------------------------------------------------------------------------


def test_a_consultation_as_of_its_opinion_deadline(deployed: Engine, community: Community, clock: ManualClock) -> None:
    instance_id = consultation(deployed, community, clock, close_early=False)
    (fired,) = seqs(deployed, instance_id, "timers_fired")

    before = as_of(deployed, instance_id, fired - 1)  # the last opinion event of the period
    assert before.event_type == "opinion_withdrawn"
    assert elements(before) == ["opinion_period"]
    assert [(t.element_id, t.due_at.isoformat()) for t in before.pending_timers] == [
        ("opinion_deadline_reached", "2026-03-09T10:00:00+00:00")]  # 18:00 in Asia/Shanghai
    assert before.data["phase"] == "opinion_period"
    assert before.completed_elements == {"start": 1, "draft_topic": 1, "publish_topic": 1}
    assert before.flows_taken == {"flow_start_to_draft_topic": 1, "flow_draft_topic_to_publish_topic": 1,
                                  "flow_publish_topic_to_opinion_period": 1}

    at = as_of(deployed, instance_id, fired)
    assert (at.seq, at.event_type, at.status) == (fired, "timers_fired", "running")
    assert [(t.element_id, t.lane, t.state) for t in at.open_tasks] == [("record_deliberation", "committee", "READY")]
    assert at.pending_timers == []
    assert at.data["phase"] == "deliberation"
    assert at.completed_elements == {"start": 1, "draft_topic": 1, "publish_topic": 1, "opinion_deadline_reached": 1,
                                     "period_closed": 1, "enter_deliberation": 1}  # the interrupted period never completed
    assert at.flows_taken == {
        "flow_start_to_draft_topic": 1, "flow_draft_topic_to_publish_topic": 1, "flow_publish_topic_to_opinion_period": 1,
        "flow_deadline_to_period_closed": 1, "flow_period_closed_to_enter_deliberation": 1,
        "flow_enter_deliberation_to_record_deliberation": 1,
    }
    assert at.digest_matches and at.history_matches


def test_a_consultation_closed_early_took_the_other_way_into_the_gateway(
    deployed: Engine, community: Community, clock: ManualClock
) -> None:
    instance_id = consultation(deployed, community, clock, close_early=True)
    end = as_of(deployed, instance_id, last_seq(deployed, instance_id))
    assert end.status == "completed" and end.open_tasks == [] and end.data["phase"] == "closed"
    assert end.completed_elements["opinion_period"] == 1
    assert "opinion_deadline_reached" not in end.completed_elements
    assert end.flows_taken["flow_opinion_period_to_period_closed"] == 1
    assert "flow_deadline_to_period_closed" not in end.flows_taken
    assert end.completed_elements["end"] == end.flows_taken["flow_close_consultation_to_end"] == 1


# --- a vote --------------------------------------------------------------------------------------


def test_a_vote_after_it_closed(deployed: Engine, community: Community, clock: ManualClock) -> None:
    instance_id, vote_id = open_vote(deployed, community)
    deployed.execute(CastBallot(vote_id, "yes"), community["alice"])
    deployed.execute(CastBallot(vote_id, "no"), community["bob"])
    close_by_deadline(deployed, clock, instance_id)

    (ballot, _) = seqs(deployed, instance_id, "ballot_cast")
    during = as_of(deployed, instance_id, ballot)
    assert elements(during) == ["voting"] and [t.element_id for t in during.pending_timers] == ["deadline_reached"]
    assert "vote_result" not in during.data

    closed = as_of(deployed, instance_id, last_seq(deployed, instance_id))
    assert (closed.event_type, closed.status, closed.open_tasks, closed.pending_timers) == ("timers_fired", "completed", [], [])
    assert closed.data["vote_result"]["vote_id"] == vote_id
    assert closed.completed_elements == {"start": 1, "configure_vote": 1, "open_vote": 1, "deadline_reached": 1,
                                         "voting_closed": 1, "tally_vote": 1, "encrypted_tally": 1, "end": 1}
    assert closed.flows_taken == {
        "flow_start_to_configure_vote": 1, "flow_configure_vote_to_open_vote": 1, "flow_open_vote_to_voting": 1,
        "flow_deadline_to_voting_closed": 1, "flow_voting_closed_to_tally_vote": 1,
        "flow_tally_vote_to_encrypted_tally": 1, "flow_tally_vote_to_end": 1,
    }
    with deployed.read() as session:
        assert closed.digest == session.get(Instance, instance_id).state_digest


def test_a_call_activity_counts_as_one_element_of_its_caller(deployed: Engine, community: Community, clock: ManualClock) -> None:
    """The called vote's elements belong to vote.bpmn's diagram, not to the caller's (both have a ``start``)."""
    deployed.execute(DeployDefinition("vote_caller.bpmn", (ROOT / "tests" / "vote_caller.bpmn").read_bytes()), community["admin"])
    instance_id, vote_id = open_vote(deployed, community, key="vote_caller")
    deployed.execute(CastBallot(vote_id, "yes"), community["alice"])
    close_by_deadline(deployed, clock, instance_id)
    end = as_of(deployed, instance_id, last_seq(deployed, instance_id))
    assert elements(end) == ["act_on_it"]
    assert end.completed_elements == {"start": 1, "ask_the_community": 1, "passed_or_not": 1}
    assert end.flows_taken == {"flow_start_to_ask_the_community": 1, "flow_ask_the_community_to_passed_or_not": 1,
                               "flow_passed_or_not_to_act_on_it": 1}


# --- quality cycles: continue-as-new -------------------------------------------------------------


@pytest.fixture
def series(deployed: Engine, community: Community, clock: ManualClock) -> Series:
    return Series(deployed, community, pdca_staff(deployed, community), clock)


def test_quality_cycles_are_counted_across_continue_as_new(series: Series) -> None:
    """Four cycles started; the state holds only the last one, the counts hold all four."""
    series.define()
    series.serve(residents=("alice", "bob"))
    series.rate({"alice": 2, "bob": 5})  # cycle 1: satisfaction missed
    series.act()
    series.serve(residents=("alice", "bob"))
    series.rate({"alice": 2, "bob": 3})  # cycle 2: missed twice in a row, escalated
    escalated = last_seq(series.engine, series.instance_id)
    series.complete("street_office_review", {"response": "Meeting the provider."}, actor=series.staff["street"])
    series.act()
    series.rate({})  # cycle 3: nothing measured, nothing missed
    assert series.instance()["data"]["cycle"]["number"] == 4

    mid = as_of(series.engine, series.instance_id, escalated)
    assert sorted(elements(mid)) == ["assign_actions", "street_office_review"]
    assert mid.completed_elements["next_cycle"] == mid.completed_elements["plan_cycle"] == 2
    assert mid.completed_elements["escalate"] == mid.completed_elements["escalated"] == 1

    now = as_of(series.engine, series.instance_id, last_seq(series.engine, series.instance_id))
    done, taken = now.completed_elements, now.flows_taken
    assert elements(now) == ["service_period"]
    assert done["start"] == taken["flow_start_to_next_cycle"] == 1  # a continued run's restart is no passage
    assert done["next_cycle"] == done["plan_cycle"] == 4
    assert done["service_period"] == done["close_cycle"] == done["series_continues"] == taken["flow_series_continues"] == 3
    assert done["define_standard"] == taken["flow_standard_needed"] == 1 and taken["flow_cycle_already_planned"] == 3
    assert taken["flow_indicators_missed"] == done["act_fork"] == done["act_join"] == 2 and taken["flow_nothing_missed"] == 1
    assert taken["flow_verify_actions_to_act_join"] == taken["flow_escalation_settled_to_act_join"] == 2
    # inside the embedded subprocess: once nothing to escalate, once escalated (which interrupted it)
    assert done["missed_twice"] == 2 and done["not_escalated"] == done["escalate"] == 1
    assert taken["flow_not_missed_twice"] == taken["flow_missed_twice"] == 1
    # SpiffWorkflow lets the subprocess complete at its escalation end event, but the token left by the boundary event
    assert done["escalation_check"] == 2 and taken["flow_escalation_check_done"] == 1
    assert taken["flow_escalated_to_street_office_review"] == done["street_office_review"] == 1
    assert "series_ended" not in done and "flow_series_ended" not in taken
    assert now.digest_matches and now.history_matches
    with series.engine.read() as session:
        assert now.digest == session.get(Instance, series.instance_id).state_digest


# --- a failure and its retry ---------------------------------------------------------------------


def test_an_instance_as_of_its_failure_and_after_its_retry(deployed: Engine, community: Community) -> None:
    deployed.execute(DeployDefinition("fragile.bpmn", b.linear(
        "fragile", b.user_task("review"), b.script_task("count", "total = len(items) + 1"), b.user_task("after"))))
    instance_id = deployed.execute(StartInstance("fragile", {"items": None}), community["chair"]).id
    deployed.execute(CompleteTask(ready(deployed, instance_id)["review"]), community["chair"])
    deployed.execute(RetryInstance(instance_id, {"items": [1, 2]}), community["admin"])

    failed = as_of(deployed, instance_id, 2)
    assert failed.status == "error"
    assert [(t.element_id, t.state) for t in failed.open_tasks] == [("count", "ERROR")] and failed.open_tasks[0].error
    assert failed.completed_elements == {"fragile_start": 1, "review": 1}
    assert failed.flows_taken == {"fragile_f0": 1, "fragile_f1": 1}

    retried = as_of(deployed, instance_id, 3)
    assert (retried.event_type, retried.status, elements(retried)) == ("instance_retried", "running", ["after"])
    assert retried.data["total"] == 3
    assert retried.completed_elements == {"fragile_start": 1, "review": 1, "count": 1}
    assert retried.flows_taken == {"fragile_f0": 1, "fragile_f1": 1, "fragile_f2": 1}


# --- the edges of time ---------------------------------------------------------------------------


def test_a_seq_out_of_range_is_refused(deployed: Engine, community: Community, clock: ManualClock) -> None:
    instance_id = consultation(deployed, community, clock, close_early=True)
    with pytest.raises(InvalidInput, match="starts at 1"):
        as_of(deployed, instance_id, 0)
    last = last_seq(deployed, instance_id)
    with pytest.raises(NotFound, match=f"no event {last + 1}: its last event is {last}"):
        as_of(deployed, instance_id, last + 1)


def test_a_domain_event_sees_the_state_of_the_workflow_event_before_it(
    deployed: Engine, community: Community, clock: ManualClock
) -> None:
    instance_id = consultation(deployed, community, clock, close_early=True)
    first_opinion = seqs(deployed, instance_id, "opinion_submitted")[0]
    (drafted,) = [s for s in seqs(deployed, instance_id, "task_completed") if s < first_opinion]
    assert drafted == first_opinion - 1
    workflow, domain = as_of(deployed, instance_id, drafted), as_of(deployed, instance_id, first_opinion)
    assert (domain.seq, domain.event_type) == (first_opinion, "opinion_submitted")
    assert domain.at > workflow.at
    same = ("status", "open_tasks", "data", "pending_timers", "completed_elements", "flows_taken", "digest")
    assert {k: getattr(domain, k) for k in same} == {k: getattr(workflow, k) for k in same}
    assert domain.digest_matches


def test_a_tampered_digest_shows_from_its_event_on(deployed: Engine, community: Community, clock: ManualClock) -> None:
    instance_id = consultation(deployed, community, clock, close_early=True)
    edited = seqs(deployed, instance_id, "opinion_edited")[0]
    with deployed.db.engine.begin() as connection:
        connection.execute(update(Event).where(Event.instance_id == instance_id, Event.seq == edited).values(state_digest="0" * 64))
    assert as_of(deployed, instance_id, edited - 1).history_matches
    tampered, after = as_of(deployed, instance_id, edited), as_of(deployed, instance_id, edited + 1)
    assert (tampered.digest_matches, tampered.history_matches) == (False, False)
    assert (after.digest_matches, after.history_matches) == (True, False)


def test_time_travel_runs_offline_on_exported_events(deployed: Engine, community: Community, clock: ManualClock) -> None:
    """Plain objects and the definition's stored texts are all it needs: no session, no models."""
    instance_id = consultation(deployed, community, clock, close_early=False)
    with deployed.read() as session:
        instance = session.get(Instance, instance_id)
        spec, source, zone, digest = instance.definition.spec, instance.definition.source, instance.timezone, instance.state_digest
        exported = [SimpleNamespace(seq=e.seq, type=e.type, at=e.at, input=e.input, services=e.services, state_digest=e.state_digest)
                    for e in session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.seq))]
    online = as_of(deployed, instance_id, len(exported))
    offline = state_as_of(spec_document=json.loads(spec), source=source, instance_id=instance_id, timezone=zone,
                          events=exported, seq=len(exported))
    assert offline == online
    assert offline.digest == digest
    assert offline.as_dict()["open_tasks"] == [] and offline.as_dict()["flows_taken"]["flow_deadline_to_period_closed"] == 1
    with pytest.raises(InvalidInput, match="expected 2, got 3"):
        state_as_of(spec_document=json.loads(spec), source=source, instance_id=instance_id, timezone=zone,
                    events=[exported[0], *exported[2:]], seq=5)
