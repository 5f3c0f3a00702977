"""Timers: when they fall due (community time zone, injected clock), and who fires them (engine, CLI worker)."""

from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from cli import main
from engine.kernel.commands import CompleteTask, DeployDefinition, StartInstance
from engine.kernel.errors import Conflict
from engine.kernel.models import Event, Instance
from engine.bootstrap import Engine
from tests import bpmn_samples as b
from tests.helpers import Community, make_community

UTC = timezone.utc


def deploy(engine: Engine, key: str, source: bytes) -> None:
    engine.execute(DeployDefinition(f"{key}.bpmn", source))


def waiting_for(key: str, expression: str, kind: str = "timeDuration") -> bytes:
    """start → timer ``wait`` → user task ``after`` → end."""
    return b.linear(key, b.timer_event("wait", expression, kind), b.user_task("after"))


def look(engine: Engine, instance_id: str) -> tuple[list[datetime], dict[str, str], str]:
    """(due times of pending timers, ready tasks by element id, status)."""
    with engine.read() as session:
        instance = session.get(Instance, instance_id)
        ready = {t.element_id: t.id for t in instance.tasks if t.state == "READY"}
        return [t.due_at for t in instance.timers], ready, instance.status


@pytest.fixture
def server_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set the server process's local time zone (TZ), restored after the test."""

    def set_tz(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_tz
    monkeypatch.undo()
    time.tzset()


# -- When a timer falls due -------------------------------------------------------------------------------------


@pytest.mark.parametrize("server_zone", [None, "UTC", "Asia/Tokyo", "America/Los_Angeles"])
def test_a_date_without_offset_is_read_in_the_community_time_zone(
    engine: Engine, server_tz: Callable[[str], None], server_zone: str | None
) -> None:
    if server_zone:
        server_tz(server_zone)
    new_york = make_community(engine, "new-york", timezone="America/New_York")
    shanghai = make_community(engine, "shanghai", timezone="Asia/Shanghai")
    deploy(engine, "dated", waiting_for("dated", '"2026-03-05T12:00"', "timeDate"))
    in_new_york = engine.execute(StartInstance("dated"), new_york["chair"])
    in_shanghai = engine.execute(StartInstance("dated"), shanghai["chair"])
    assert look(engine, in_new_york.id)[0] == [datetime(2026, 3, 5, 17, 0, tzinfo=UTC)]  # 12:00 EST
    assert look(engine, in_shanghai.id)[0] == [datetime(2026, 3, 5, 4, 0, tzinfo=UTC)]  # 12:00 CST (UTC+8)


def test_a_date_with_an_offset_keeps_it(engine: Engine) -> None:
    new_york = make_community(engine, "new-york", timezone="America/New_York")
    deploy(engine, "dated", waiting_for("dated", '"2026-03-05T12:00+08:00"', "timeDate"))
    instance = engine.execute(StartInstance("dated"), new_york["chair"])
    assert look(engine, instance.id)[0] == [datetime(2026, 3, 5, 4, 0, tzinfo=UTC)]


def test_a_duration_counts_from_the_injected_clock(engine: Engine, community: Community, clock) -> None:
    deploy(engine, "two_hours", waiting_for("two_hours", '"PT2H"'))
    clock.advance(timedelta(days=3, minutes=17))
    instance = engine.execute(StartInstance("two_hours"), community["chair"])
    assert look(engine, instance.id)[0] == [clock.now() + timedelta(hours=2)]
    assert clock.now() + timedelta(hours=2) == datetime(2026, 3, 5, 3, 17, tzinfo=UTC)


def test_a_duration_from_task_data_is_evaluated(engine: Engine, community: Community, clock) -> None:
    deploy(engine, "data_timer", waiting_for("data_timer", "delay"))
    instance = engine.execute(StartInstance("data_timer", {"delay": "P1DT30M"}), community["chair"])
    assert look(engine, instance.id)[0] == [clock.now() + timedelta(days=1, minutes=30)]


# -- Firing -----------------------------------------------------------------------------------------------------


def test_due_timers_fire_only_once_the_due_time_has_passed(engine: Engine, community: Community, clock) -> None:
    deploy(engine, "two_hours", waiting_for("two_hours", '"PT2H"'))
    instance_id = engine.execute(StartInstance("two_hours"), community["chair"]).id
    (due,), ready, _ = look(engine, instance_id)
    assert ready == {}

    clock.set(due - timedelta(minutes=1))
    assert engine.fire_due_timers() == 0
    clock.set(due)
    assert engine.fire_due_timers() == 0  # due means due_at < now, strictly
    with engine.read() as session:
        assert session.get(Instance, instance_id).last_seq == 1  # polling without firing records nothing

    clock.set(due + timedelta(seconds=1))
    assert engine.fire_due_timers() == 1
    timers, ready, status = look(engine, instance_id)
    assert (timers, list(ready), status) == ([], ["after"], "running")
    assert engine.fire_due_timers() == 0
    with engine.read() as session:
        fired = session.query(Event).filter_by(instance_id=instance_id, seq=2).one()
        assert (fired.type, fired.actor_id, fired.at) == ("timers_fired", None, due + timedelta(seconds=1))


def test_a_boundary_timer_interrupts_its_task(engine: Engine, community: Community, clock) -> None:
    deploy(engine, "deadline", b.boundary_timer("deadline", '"PT1H"'))
    instance_id = engine.execute(StartInstance("deadline"), community["chair"]).id
    (due,), ready, _ = look(engine, instance_id)
    work = ready["work"]

    clock.set(due + timedelta(seconds=1))
    assert engine.fire_due_timers() == 1
    timers, ready, _ = look(engine, instance_id)
    assert (timers, list(ready)) == ([], ["escalate"])
    with engine.read() as session:
        assert next(t.state for t in session.get(Instance, instance_id).tasks if t.id == work) == "CLOSED"
    with pytest.raises(Conflict):
        engine.execute(CompleteTask(work), community["chair"])


def test_completing_the_task_first_cancels_its_boundary_timer(engine: Engine, community: Community, clock) -> None:
    deploy(engine, "deadline", b.boundary_timer("deadline", '"PT1H"'))
    instance_id = engine.execute(StartInstance("deadline"), community["chair"]).id
    engine.execute(CompleteTask(look(engine, instance_id)[1]["work"]), community["chair"])
    assert look(engine, instance_id) == ([], {}, "completed")
    clock.advance(timedelta(hours=2))
    assert engine.fire_due_timers() == 0


def test_the_worker_command_fires_timers_due_by_the_wall_clock(
    engine: Engine, community: Community, clock, database_url: str
) -> None:
    clock.set(datetime(2020, 1, 1, tzinfo=UTC))  # arm the timers in the past, as seen by the real clock
    deploy(engine, "dated", waiting_for("dated", '"2020-01-02T00:00:00+00:00"', "timeDate"))
    deploy(engine, "far", waiting_for("far", '"2099-01-01T00:00:00+00:00"', "timeDate"))
    due_now = engine.execute(StartInstance("dated"), community["chair"]).id
    far_away = engine.execute(StartInstance("far"), community["chair"]).id
    assert look(engine, due_now)[0] == [datetime(2020, 1, 2, tzinfo=UTC)]

    result = CliRunner().invoke(main, ["--database", database_url, "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "fired timers of 1 instance(s)" in result.output
    timers, ready, _ = look(engine, due_now)
    assert (timers, list(ready)) == ([], ["after"])
    assert look(engine, far_away)[0] == [datetime(2099, 1, 1, tzinfo=UTC)]
    with engine.read() as session:
        fired = session.query(Event).filter_by(instance_id=due_now, seq=2).one()
        assert fired.type == "timers_fired"
        assert fired.at > datetime(2025, 1, 1, tzinfo=UTC)  # the worker's time is the real one

    again = CliRunner().invoke(main, ["--database", database_url, "worker", "--once"])
    assert "fired timers of 0 instance(s)" in again.output


def test_a_timer_after_an_event_based_gateway_falls_due_and_fires(engine: Engine, community: Community, clock) -> None:
    source = (Path(__file__).parent / "corpus" / "event_based_gateway.bpmn").read_bytes()  # a reply, or 7 days
    engine.execute(DeployDefinition("event_based_gateway.bpmn", source))
    instance_id = engine.execute(StartInstance("event_based_gateway"), community["chair"]).id
    assert look(engine, instance_id) == ([clock.now() + timedelta(days=7)], {}, "running")
    clock.advance(timedelta(days=7, seconds=1))
    assert engine.fire_due_timers() == 1
    assert look(engine, instance_id) == ([], {}, "completed")
    with engine.read() as session:
        assert [e.type for e in session.query(Event).filter_by(instance_id=instance_id).order_by(Event.seq)] == [
            "instance_started", "timers_fired"]
