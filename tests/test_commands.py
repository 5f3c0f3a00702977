"""Commands and the events they record: one event per command, in sequence, or nothing at all."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from engine.consultation.commands import AnswerOpinion, EditOpinion, SubmitOpinion, WithdrawOpinion
from engine.kernel.commands import CompleteTask, DeliverMessage, DeployDefinition, RetryInstance, StartInstance
from engine.kernel import instances as instance_module
from engine.kernel.errors import Conflict, InvalidInput, PermissionDenied
from engine.kernel.models import Definition, Event, HumanTask, Instance
from engine.kernel.replay import replay
from engine.bootstrap import Engine
from engine.kernel.stepping import WORKFLOW_ACTIONS
from tests import bpmn_samples as b
from tests.fixtures import bearer
from tests.helpers import Community, Race

TOPIC = {"title": "Bike shed", "description": "Where should it go?", "affected": "Buildings 2-4",
         "opinion_deadline": "2026-03-09T18:00"}
MEETING = {"meeting_date": "2026-03-10", "attendees": ["chair", "clerk"], "minutes": "Discussed."}


def ready(engine: Engine, instance_id: str) -> dict[str, str]:
    with engine.read() as session:
        return {t.element_id: t.id for t in session.get(Instance, instance_id).tasks if t.state == "READY"}


def events_of(engine: Engine, instance_id: str) -> list[Event]:
    with engine.read() as session:
        events = list(session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.id)))
        session.expunge_all()  # keep them readable after the read session rolls back
        return events


def snapshot(engine: Engine, instance_id: str) -> tuple[Any, ...]:
    """Everything a failed command must leave as it was."""
    with engine.read() as session:
        instance = session.get(Instance, instance_id)
        tasks = sorted((t.id, t.state) for t in instance.tasks)
        count = session.scalar(select(func.count()).select_from(Event).where(Event.instance_id == instance_id))
        return instance.last_seq, instance.version, instance.state_digest, instance.status, tasks, count


# -- Events -----------------------------------------------------------------------------------------------------


def test_every_command_records_one_event_with_seq_actor_time_input_and_digest(deployed: Engine, community: Community, clock) -> None:
    engine = deployed
    expected: list[tuple[str, int | None, Any]] = []

    def run(command: Any, who: str | None, event_type: str) -> Any:
        clock.advance(timedelta(minutes=7))
        result = engine.execute(command, community[who]) if who else engine.fire_due_timers()
        expected.append((event_type, community[who].member_id if who else None, clock.now()))
        return result

    instance_id = run(StartInstance("consultation", {"ward": 3}), "chair", "instance_started").id
    draft = ready(engine, instance_id)["draft_topic"]
    run(CompleteTask(draft, TOPIC), "chair", "task_completed")
    alice = run(SubmitOpinion(instance_id, "By the gate."), "alice", "opinion_submitted")
    run(EditOpinion(alice.id, "By the gate, with a roof."), "alice", "opinion_edited")
    bob = run(SubmitOpinion(instance_id, "No shed."), "bob", "opinion_submitted")
    run(WithdrawOpinion(bob.id), "bob", "opinion_withdrawn")
    clock.set(clock.now().replace(day=9, hour=10, minute=0) + timedelta(seconds=1))
    assert run(None, None, "timers_fired") == 1
    run(CompleteTask(ready(engine, instance_id)["record_deliberation"], MEETING), "clerk", "task_completed")
    run(AnswerOpinion(alice.id, "adopted", "Good idea."), "chair", "opinion_answered")
    run(CompleteTask(ready(engine, instance_id)["answer_opinions"], {}), "chair", "task_completed")
    run(CompleteTask(ready(engine, instance_id)["publish_outcome"], {"summary": "A shed by the gate."}), "chair", "task_completed")

    events = events_of(engine, instance_id)
    assert [e.seq for e in events] == list(range(1, len(expected) + 1))
    assert [(e.type, e.actor_id, e.at) for e in events] == expected
    with engine.read() as session:
        sha256 = session.scalars(select(Definition.sha256).where(Definition.key == "consultation")).one()
    assert events[0].input == {"definition": "consultation", "version": 1, "sha256": sha256, "timezone": "Asia/Shanghai",
                               "variables": {"ward": 3}, "owner": "platform"}
    assert events[1].input == {"task_id": draft, "data": TOPIC}
    assert events[2].input == {"opinion_id": alice.id, "text": "By the gate."}
    assert events[3].input == {"opinion_id": alice.id, "revision": 2, "text": "By the gate, with a roof."}
    assert events[8].input == {"opinion_id": alice.id, "verdict": "adopted", "reason": "Good idea."}

    assert all(re.fullmatch(r"[0-9a-f]{64}", e.state_digest) for e in events)
    for before, event in zip(events, events[1:]):
        changed = event.state_digest != before.state_digest
        assert changed == (event.type in WORKFLOW_ACTIONS), (event.seq, event.type)
    with engine.read() as session:
        instance = session.get(Instance, instance_id)
        assert (instance.last_seq, instance.status, instance.state_digest) == (len(events), "completed", events[-1].state_digest)


def test_events_are_paginated_over_http(client, deployed: Engine, community: Community) -> None:
    instance_id = deployed.execute(StartInstance("consultation"), community["chair"]).id
    deployed.execute(CompleteTask(ready(deployed, instance_id)["draft_topic"], TOPIC), community["chair"])
    for n in range(5):
        deployed.execute(SubmitOpinion(instance_id, f"opinion {n}"), community["alice"])
    url, chair = f"/api/instances/{instance_id}/events", bearer(community.tokens["chair"])

    page = client.get(f"{url}?page=2&page_size=3", headers=chair).json
    assert (page["total"], page["page"], page["page_size"]) == (7, 2, 3)
    assert [e["seq"] for e in page["items"]] == [4, 5, 6]
    assert [e["seq"] for e in client.get(f"{url}?page=3&page_size=3", headers=chair).json["items"]] == [7]
    assert len(client.get(url, headers=chair).json["items"]) == 7
    assert client.get(f"{url}?page_size=100", headers=chair).status_code == 200
    for bad in ("page_size=101", "page_size=0", "page=0", "page=x"):
        response = client.get(f"{url}?{bad}", headers=chair)
        assert response.status_code == 422, bad
        assert response.json["error"]["code"] == "invalid_input"


# -- The task index ---------------------------------------------------------------------------------------------


def test_task_lists_come_from_the_index_and_show_only_my_lanes(
    client, deployed: Engine, community: Community, other_community: Community
) -> None:
    deployed.execute(DeployDefinition("survey.bpmn", b.linear("survey", b.user_task("answer_survey", lane="resident"))))
    consultation = deployed.execute(StartInstance("consultation"), community["chair"]).id
    survey = deployed.execute(StartInstance("survey"), community["chair"]).id
    deployed.execute(StartInstance("consultation"), other_community["chair"])
    with deployed.db.engine.begin() as connection:
        # Garbage where the workflows are: listing tasks must not even try to read them.
        connection.execute(update(Instance).values(state="{not a workflow"))

    def my_tasks(who: str) -> set[tuple[str, str]]:
        response = client.get("/api/tasks", headers=bearer(community.tokens[who]))
        assert response.status_code == 200
        return {(t["instance_id"], t["element_id"]) for t in response.json["items"]}

    assert my_tasks("chair") == {(consultation, "draft_topic"), (survey, "answer_survey")}
    assert my_tasks("clerk") == {(consultation, "draft_topic")}
    assert my_tasks("alice") == {(survey, "answer_survey")}
    assert my_tasks("auditor") == set()
    shown = client.get(f"/api/instances/{survey}", headers=bearer(community.tokens["alice"])).json
    assert [t["element_id"] for t in shown["open_tasks"]] == ["answer_survey"]


def test_completed_tasks_leave_the_list_but_stay_in_the_index(client, deployed: Engine, community: Community) -> None:
    instance_id = deployed.execute(StartInstance("consultation"), community["chair"]).id
    draft = ready(deployed, instance_id)["draft_topic"]
    deployed.execute(CompleteTask(draft, TOPIC), community["chair"])
    items = client.get("/api/tasks", headers=bearer(community.tokens["chair"])).json["items"]
    assert [t["element_id"] for t in items] == ["opinion_period"]
    with deployed.read() as session:
        row = session.get(HumanTask, draft)
        assert (row.state, row.completed_by, row.opened_seq, row.closed_seq) == ("COMPLETED", community["chair"].member_id, 1, 2)


# -- Failed commands write nothing ------------------------------------------------------------------------------


def test_a_failed_command_writes_nothing(deployed: Engine, community: Community) -> None:
    instance_id = deployed.execute(StartInstance("consultation"), community["chair"]).id
    draft = ready(deployed, instance_id)["draft_topic"]
    before = snapshot(deployed, instance_id)

    with pytest.raises(InvalidInput):
        deployed.execute(CompleteTask(draft, {**TOPIC, "title": ""}), community["chair"])
    with pytest.raises(InvalidInput):  # a deadline in the past would fire the instant it is armed
        deployed.execute(CompleteTask(draft, {**TOPIC, "opinion_deadline": "2026-03-01T18:00"}), community["chair"])
    with pytest.raises(PermissionDenied):
        deployed.execute(CompleteTask(draft, TOPIC), community["alice"])
    with pytest.raises(Conflict):
        deployed.execute(SubmitOpinion(instance_id, "Too early"), community["alice"])
    with pytest.raises(Conflict):
        deployed.execute(DeliverMessage(instance_id, "nobody_waits_for_this"), community["chair"])
    with pytest.raises(Conflict):
        deployed.execute(RetryInstance(instance_id), community["admin"])
    assert snapshot(deployed, instance_id) == before


def test_a_failed_precondition_writes_nothing(deployed: Engine, community: Community, clock) -> None:
    instance_id = deployed.execute(StartInstance("consultation"), community["chair"]).id
    deployed.execute(CompleteTask(ready(deployed, instance_id)["draft_topic"], TOPIC), community["chair"])
    deployed.execute(SubmitOpinion(instance_id, "By the gate."), community["alice"])
    deployed.execute(CompleteTask(ready(deployed, instance_id)["opinion_period"], {"reason": "Enough."}), community["chair"])
    deployed.execute(CompleteTask(ready(deployed, instance_id)["record_deliberation"], MEETING), community["clerk"])
    before = snapshot(deployed, instance_id)
    with pytest.raises(Conflict, match="1 opinion is still unanswered"):
        deployed.execute(CompleteTask(ready(deployed, instance_id)["answer_opinions"], {}), community["chair"])
    assert snapshot(deployed, instance_id) == before


# -- Concurrency ------------------------------------------------------------------------------------------------


def test_two_concurrent_completions_of_one_task_one_wins_the_other_conflicts(
    deployed: Engine, community: Community, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance_id = deployed.execute(StartInstance("consultation"), community["chair"]).id
    draft = ready(deployed, instance_id)["draft_topic"]
    version_before = snapshot(deployed, instance_id)[1]

    both_have_read = Race(deployed)
    real_step = instance_module.step

    def step_once_both_have_read(**kwargs: Any) -> Any:
        both_have_read.meet()  # each has loaded the task and the instance; neither has written
        return real_step(**kwargs)

    monkeypatch.setattr(instance_module, "step", step_once_both_have_read)
    outcomes: list[Any] = []

    def complete(who: str) -> None:
        try:
            deployed.execute(CompleteTask(draft, {**TOPIC, "title": f"by {who}"}), community[who])
            outcomes.append(("ok", who))
        except Conflict:
            outcomes.append(("conflict", who))
        except Exception as exc:  # anything else is a failure of the test, reported below
            outcomes.append(("unexpected", repr(exc)))

    threads = [threading.Thread(target=complete, args=(who,)) for who in ("chair", "clerk")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(kind for kind, _ in outcomes) == ["conflict", "ok"], outcomes
    winner = next(who for kind, who in outcomes if kind == "ok")

    events = events_of(deployed, instance_id)
    assert [(e.seq, e.type) for e in events] == [(1, "instance_started"), (2, "task_completed")]
    assert events[1].input["data"]["title"] == f"by {winner}"
    with deployed.read() as session:
        instance = session.get(Instance, instance_id)
        assert instance.version == version_before + 1
        assert instance.last_seq == 2
        assert instance.data["title"] == f"by {winner}"
        assert sorted((t.element_id, t.state) for t in instance.tasks) == [("draft_topic", "COMPLETED"), ("opinion_period", "READY")]
        assert session.get(HumanTask, draft).completed_by == community[winner].member_id
        assert len(instance.timers) == 1
        assert replay(session, instance).ok
