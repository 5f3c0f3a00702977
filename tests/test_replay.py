"""Replay: an instance's recorded events rebuild every recorded digest, in this process or another one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine.kernel.commands import CompleteTask, DeployDefinition, RetryInstance, StartInstance
from engine.kernel.models import Event, Instance
from engine.kernel.replay import replay
from engine.bootstrap import Engine
from tests import bpmn_samples as b
from tests.builders import consultation, ready
from tests.helpers import Community

ROOT = Path(__file__).resolve().parent.parent
def replayed(engine: Engine, instance_id: str):
    with engine.read() as session:
        return replay(session, session.get(Instance, instance_id))


def recorded_digests(engine: Engine, instance_id: str) -> list[str]:
    with engine.read() as session:
        return list(session.scalars(select(Event.state_digest).where(Event.instance_id == instance_id).order_by(Event.seq)))


@pytest.mark.parametrize("close_early", [True, False], ids=["closed early", "closed by its deadline"])
def test_replaying_a_consultation_reproduces_every_digest(deployed: Engine, community: Community, clock, close_early: bool) -> None:
    instance_id = consultation(deployed, community, clock, close_early=close_early)
    report = replayed(deployed, instance_id)
    assert report.ok, report.mismatches
    assert report.digests == recorded_digests(deployed, instance_id)
    assert report.events == 14


def test_replaying_a_failed_and_retried_instance_reproduces_every_digest(deployed: Engine, community: Community, clock) -> None:
    deployed.execute(DeployDefinition("fragile.bpmn", b.linear(
        "fragile", b.user_task("review"), b.script_task("count", "total = len(items) + 1"), b.user_task("after"))))
    instance_id = deployed.execute(StartInstance("fragile", {"items": None}), community["chair"]).id
    clock.advance(timedelta(minutes=5))
    deployed.execute(CompleteTask(ready(deployed, instance_id)["review"]), community["chair"])
    clock.advance(timedelta(minutes=5))
    deployed.execute(RetryInstance(instance_id), community["admin"])
    with deployed.read() as session:
        instance = session.get(Instance, instance_id)
        assert instance.status == "error"
        assert [e.type for e in session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.seq))] == [
            "instance_started", "task_completed", "instance_retried"]
    report = replayed(deployed, instance_id)
    assert report.ok, report.mismatches


def test_replay_in_another_process_gives_the_same_digests(deployed: Engine, community: Community, clock, database_url: str) -> None:
    """A fresh interpreter, another server time zone and another hash seed rebuild the same bytes."""
    instance_id = consultation(deployed, community, clock, close_early=False)
    program = (
        "import json, sys\n"
        "from engine.kernel.db import Database\n"
        "from engine.kernel.models import Instance\n"
        "from engine.kernel.replay import replay\n"
        "db = Database(sys.argv[1])\n"
        "with db.session() as session:\n"
        "    report = replay(session, session.get(Instance, sys.argv[2]))\n"
        "print(json.dumps(report.digests))\n"
        "db.dispose()\n"
    )
    env = {**os.environ, "TZ": "Pacific/Kiritimati", "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-c", program, database_url, instance_id],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == recorded_digests(deployed, instance_id)


def test_a_tampered_input_is_reported_at_its_seq(deployed: Engine, community: Community, clock) -> None:
    instance_id = consultation(deployed, community, clock, close_early=True)
    with deployed.read() as session:
        events = session.scalars(select(Event).where(Event.instance_id == instance_id, Event.type == "task_completed"))
        (closing,) = [e for e in events if e.input["data"].get("reason") == "Enough heard."]
        seq, forged = closing.seq, {**closing.input, "data": {"reason": "The chair was bored."}}
    with deployed.db.engine.begin() as connection:
        connection.execute(update(Event).where(Event.instance_id == instance_id, Event.seq == seq).values(input=forged))

    report = replayed(deployed, instance_id)
    assert not report.ok
    assert report.mismatches[0].seq == seq
    assert report.mismatches[0].event_type == "task_completed"


def test_a_tampered_time_is_reported_at_its_seq(deployed: Engine, community: Community, clock) -> None:
    instance_id = consultation(deployed, community, clock, close_early=False)
    with deployed.read() as session:
        fired = session.scalars(select(Event).where(Event.instance_id == instance_id, Event.type == "timers_fired")).one()
        seq, before_the_deadline = fired.seq, fired.at - timedelta(days=3)
    with deployed.db.engine.begin() as connection:
        connection.execute(update(Event).where(Event.instance_id == instance_id, Event.seq == seq).values(at=before_the_deadline))

    report = replayed(deployed, instance_id)
    assert not report.ok
    assert report.mismatches[0].seq == seq  # the timer does not fire at the forged time...
    stopped = report.mismatches[-1]  # ...so the next task completed never opened: replay stops and says why
    assert (stopped.seq, stopped.event_type) == (seq + 1, "task_completed")
    assert "not part of this instance" in stopped.error


def test_a_malformed_input_is_reported_not_raised(deployed: Engine, community: Community, clock) -> None:
    instance_id = consultation(deployed, community, clock, close_early=True)
    with deployed.db.engine.begin() as connection:
        connection.execute(update(Event).where(Event.instance_id == instance_id, Event.seq == 2).values(input={"nonsense": 1}))
    report = replayed(deployed, instance_id)
    assert [(m.seq, m.error) for m in report.mismatches] == [(2, "KeyError: 'task_id'")]
