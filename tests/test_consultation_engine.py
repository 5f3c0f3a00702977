"""The consultation walked through the engine's commands (the HTTP walk is features/consultation.feature)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.consultation.commands import AnswerOpinion, EditOpinion, SubmitOpinion, WithdrawOpinion
from engine.kernel.commands import CompleteTask, StartInstance
from engine.audit.bundles import export
from engine.audit.offline.verify import verify
from engine.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from engine.kernel.models import Event, Instance
from engine.consultation.models import Opinion
from engine.kernel.replay import replay
from engine.bootstrap import Engine
from tests.helpers import Community, race


def open_tasks(engine: Engine, instance_id: str) -> dict[str, str]:
    with engine.read() as session:
        instance = session.get(Instance, instance_id)
        return {t.element_id: t.id for t in instance.tasks if t.state == "READY"}


def topic(deadline: str) -> dict[str, str]:
    return {"title": "Bike shed by building 3", "description": "Where should the shed go?",
            "affected": "Residents of buildings 2-4", "opinion_deadline": deadline}


def start(engine: Engine, community: Community) -> str:
    return engine.execute(StartInstance("consultation"), community["chair"]).id


def test_full_consultation_with_timer_and_answers(deployed: Engine, community: Community, clock) -> None:
    engine = deployed
    instance_id = start(engine, community)
    tasks = open_tasks(engine, instance_id)
    assert list(tasks) == ["draft_topic"]

    with pytest.raises(PermissionDenied):
        engine.execute(CompleteTask(tasks["draft_topic"], topic("2026-03-09T18:00")), community["alice"])
    engine.execute(CompleteTask(tasks["draft_topic"], topic("2026-03-09T18:00")), community["chair"])
    assert list(open_tasks(engine, instance_id)) == ["opinion_period"]
    with engine.read() as session:
        (timer,) = session.get(Instance, instance_id).timers
        assert timer.due_at.isoformat() == "2026-03-09T10:00:00+00:00"  # 18:00 in Asia/Shanghai

    alice = engine.execute(SubmitOpinion(instance_id, "Next to the gate, please."), community["alice"])
    bob = engine.execute(SubmitOpinion(instance_id, "Behind building 3."), community["bob"])
    carol = engine.execute(SubmitOpinion(instance_id, "No shed at all."), community["carol"])
    engine.execute(EditOpinion(bob.id, "Behind building 3, with a roof."), community["bob"])
    engine.execute(WithdrawOpinion(carol.id), community["carol"])
    with pytest.raises(NotFound):  # residents do not even see each other's opinions
        engine.execute(EditOpinion(alice.id, "hijacked"), community["bob"])
    with pytest.raises(PermissionDenied):  # the committee sees them but cannot rewrite them
        engine.execute(EditOpinion(alice.id, "hijacked"), community["chair"])

    clock.advance(timedelta(days=6))
    assert engine.fire_due_timers() == 0
    clock.advance(timedelta(days=2))
    assert engine.fire_due_timers() == 1
    tasks = open_tasks(engine, instance_id)
    assert list(tasks) == ["record_deliberation"]
    with pytest.raises(Conflict):
        engine.execute(SubmitOpinion(instance_id, "Too late"), community["alice"])

    engine.execute(CompleteTask(tasks["record_deliberation"], {
        "meeting_date": "2026-03-10", "attendees": ["chair", "clerk"], "minutes": "Discussed both places."}), community["clerk"])
    tasks = open_tasks(engine, instance_id)
    with pytest.raises(Conflict, match="2 opinions are still unanswered"):
        engine.execute(CompleteTask(tasks["answer_opinions"], {}), community["chair"])
    engine.execute(AnswerOpinion(alice.id, "adopted", "The gate is convenient."), community["chair"])
    with pytest.raises(Conflict, match="1 opinion is still unanswered"):
        engine.execute(CompleteTask(tasks["answer_opinions"], {}), community["chair"])
    engine.execute(AnswerOpinion(bob.id, "partly_adopted", "A roof, but by the gate."), community["chair"])
    engine.execute(CompleteTask(tasks["answer_opinions"], {"note": "All answered."}), community["chair"])

    tasks = open_tasks(engine, instance_id)
    engine.execute(CompleteTask(tasks["publish_outcome"], {"summary": "A roofed shed by the gate."}), community["chair"])
    with engine.read() as session:
        instance = session.get(Instance, instance_id)
        assert instance.status == "completed"
        assert instance.data["phase"] == "closed"
        assert instance.data["summary"] == "A roofed shed by the gate."
        assert instance.data["title"] == "Bike shed by building 3"  # data from earlier commands survives reloads
        report = replay(session, instance)
        assert report.ok, report.mismatches
        assert report.events == instance.last_seq == 13


def test_completing_a_task_twice_is_a_conflict(deployed: Engine, community: Community) -> None:
    instance_id = start(deployed, community)
    task_id = open_tasks(deployed, instance_id)["draft_topic"]
    deployed.execute(CompleteTask(task_id, topic("2026-03-09T18:00")), community["chair"])
    with pytest.raises(Conflict, match="completed, not ready"):
        deployed.execute(CompleteTask(task_id, topic("2026-03-09T18:00")), community["chair"])


def test_invalid_form_data_lists_each_field(deployed: Engine, community: Community) -> None:
    instance_id = start(deployed, community)
    task_id = open_tasks(deployed, instance_id)["draft_topic"]
    with pytest.raises(InvalidInput) as raised:
        deployed.execute(CompleteTask(task_id, {"title": "", "opinion_deadline": "2020-01-01T00:00", "extra": 1}), community["chair"])
    fields = {e["field"] for e in raised.value.details["errors"]}
    assert {"title", "description", "affected", "opinion_deadline", "extra"} <= fields


def test_closing_the_period_early(deployed: Engine, community: Community) -> None:
    instance_id = start(deployed, community)
    deployed.execute(CompleteTask(open_tasks(deployed, instance_id)["draft_topic"], topic("2026-03-09T18:00")), community["chair"])
    deployed.execute(CompleteTask(open_tasks(deployed, instance_id)["opinion_period"], {"reason": "Enough heard."}), community["chair"])
    assert list(open_tasks(deployed, instance_id)) == ["record_deliberation"]
    with deployed.read() as session:
        assert session.get(Instance, instance_id).timers == []


def test_other_community_sees_nothing(deployed: Engine, community: Community, other_community: Community) -> None:
    instance_id = start(deployed, community)
    task_id = open_tasks(deployed, instance_id)["draft_topic"]
    with pytest.raises(NotFound):
        deployed.execute(CompleteTask(task_id, topic("2026-03-09T18:00")), other_community["chair"])
    with pytest.raises(NotFound):
        deployed.execute(SubmitOpinion(instance_id, "hello"), other_community["alice"])


# --- racing requests ------------------------------------------------------------------------------


def test_racing_edits_each_count_and_none_lands_after_a_withdrawal(deployed: Engine, community: Community,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Five edits and a withdrawal at once, each lingering after its checks: every edit that
    succeeds gets its own revision, and no edit is recorded after the withdrawal."""
    engine = deployed
    instance_id = start(engine, community)
    engine.execute(CompleteTask(open_tasks(engine, instance_id)["draft_topic"], topic("2026-03-09T18:00")), community["chair"])
    alice = community["alice"]
    opinion = engine.execute(SubmitOpinion(instance_id, "Next to the gate."), alice)
    attempts = [(EditOpinion(opinion.id, f"Next to the gate, take {n}."), alice) for n in range(5)]
    outcomes = race(engine, [*attempts, (WithdrawOpinion(opinion.id), alice)], monkeypatch)

    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert all(isinstance(o, Conflict) and "withdrawn" in o.message for o in refused), refused
    with engine.read() as session:
        events = [e for e in session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.seq))
                  if e.type.startswith("opinion_")]
        stored = session.get(Opinion, opinion.id)
        edits = [e for e in events if e.type == "opinion_edited"]
        assert [e.input["revision"] for e in edits] == list(range(2, 2 + len(edits)))
        assert stored.revision == 1 + len(edits) == 1 + len(outcomes) - 1 - len(refused)
        assert events[-1].type == "opinion_withdrawn" and stored.status == "withdrawn"
        assert replay(session, session.get(Instance, instance_id)).ok


def test_racing_answers_leave_the_opinion_as_the_last_one_recorded(deployed: Engine, community: Community,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    engine = deployed
    instance_id = start(engine, community)
    engine.execute(CompleteTask(open_tasks(engine, instance_id)["draft_topic"], topic("2026-03-09T18:00")), community["chair"])
    opinion = engine.execute(SubmitOpinion(instance_id, "Next to the gate."), community["alice"])
    engine.execute(CompleteTask(open_tasks(engine, instance_id)["opinion_period"], {"reason": "enough"}), community["chair"])
    engine.execute(CompleteTask(open_tasks(engine, instance_id)["record_deliberation"], {
        "meeting_date": "2026-03-10", "attendees": ["chair", "clerk"], "minutes": "Discussed it."}), community["clerk"])
    verdicts = ["adopted", "not_adopted", "partly_adopted", "adopted"]
    outcomes = race(engine, [(AnswerOpinion(opinion.id, v, f"Reason {i}"), community["chair" if i % 2 else "clerk"])
                             for i, v in enumerate(verdicts)], monkeypatch)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with engine.read() as session:
        answers = [e for e in session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.seq))
                   if e.type == "opinion_answered"]
        stored = session.get(Opinion, opinion.id)
        assert len(answers) == len(verdicts)
        assert (stored.answer_verdict, stored.answer_reason) == (answers[-1].input["verdict"], answers[-1].input["reason"])
        assert verify(export(session, community.id, now=engine.clock.now(), public_keys={}), replay=False).ok
