"""Timers whose firing fails outside the workflow (a bug, a database error): tried again after a backoff,
counted, an incident after ``TIMER_ATTEMPTS`` failures, left alone until an admin retries — while every
other instance's timers fire in the same sweeps. Both backends, on the injected clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.kernel.commands import DeployDefinition, RetryInstance, StartInstance
from engine.kernel import stepping
from engine.audit import access
from engine.audit.offline import verify as audit_verify
from engine.kernel.clock import ManualClock
from engine.kernel.models import Event, Instance
from engine.bootstrap import Engine
from engine.kernel.timer_failures import TIMER_ATTEMPTS, TIMER_BACKOFF
from tests import bpmn_samples as b
from tests.builders import grew, scrape
from tests.helpers import Community

BACKOFFS = [TIMER_BACKOFF * 2 ** n for n in range(TIMER_ATTEMPTS - 1)]  # after failures 1 … 4


class Broken:
    """``stepping.fire_timers`` failing, like a bug, for the instances of the ``doomed`` process only."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.attempts = 0
        self.real = stepping.fire_timers
        monkeypatch.setattr(stepping, "fire_timers", self)

    def __call__(self, workflow: Any) -> None:
        if workflow.spec.name != "doomed":
            return self.real(workflow)
        self.attempts += 1
        raise RuntimeError("boom\n[parameters: what the history must not keep]")


def status(engine: Engine, instance_id: str) -> tuple[str, dict[str, Any] | None, int, set[str]]:
    """(status, error, pending timers, elements of ready tasks)."""
    with engine.read() as session:
        instance = session.get(Instance, instance_id)
        return instance.status, instance.error, len(instance.timers), {t.element_id for t in instance.tasks if t.state == "READY"}


def test_a_failing_timer_backs_off_becomes_an_incident_and_fires_after_an_admins_retry(
    client: Any, deployed: Engine, community: Community, clock: ManualClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, delay in (("doomed", "PT10S"), ("fine", "PT0S")):  # fine: due a moment after it starts
        deployed.execute(DeployDefinition(f"{key}.bpmn", b.linear(key, b.timer_event("wait", f'"{delay}"'), b.user_task("after"))))
    doomed = deployed.execute(StartInstance("doomed"), community["chair"]).id
    broken = Broken(monkeypatch)
    before = scrape(client)

    def sweep(wait: timedelta) -> tuple[int, int]:
        """A fine instance due during ``wait``; then a sweep: (instances fired, attempts at the doomed one)."""
        fine = deployed.execute(StartInstance("fine"), community["chair"]).id
        clock.advance(wait)
        attempts = broken.attempts
        fired = deployed.fire_due_timers()
        assert status(deployed, fine)[3] == {"after"}  # whatever the doomed one does
        return fired, broken.attempts - attempts

    assert sweep(timedelta(seconds=11)) == (1, 1)
    assert status(deployed, doomed)[:3] == ("running", None, 1)  # nothing written: still due
    for backoff in BACKOFFS:
        assert sweep(backoff - timedelta(seconds=1)) == (1, 0)  # not yet
        assert sweep(timedelta(seconds=1)) == (1, 1)

    state, error, timers, _ = status(deployed, doomed)
    assert (state, timers) == ("error", 0)
    assert error == {"task_id": None, "element_id": None, "timers_failed": TIMER_ATTEMPTS,
                     "message": f"incident: timers failed {TIMER_ATTEMPTS} times: RuntimeError: boom"}
    after = scrape(client)
    assert grew(before, after, "yishi_incidents_total", command="RecordTimerIncident") == 1
    assert grew(before, after, "yishi_commands_total", command="FireDueTimers", outcome="internal_error") == TIMER_ATTEMPTS
    with deployed.read() as session:
        last, previous = session.query(Event).filter_by(instance_id=doomed).order_by(Event.seq.desc()).limit(2)
        assert (last.type, last.input, last.error, last.actor_id) == ("timers_failed", {"failures": TIMER_ATTEMPTS}, error, None)
        assert last.state_digest == previous.state_digest

    assert sweep(timedelta(hours=1)) == (1, 0)  # an incident is not fired again

    with pytest.raises(RuntimeError):  # the admin's retry fires the timers, and says it still fails
        deployed.execute(RetryInstance(doomed), community["admin"])
    assert status(deployed, doomed)[:3] == (state, error, 0)
    monkeypatch.setattr(stepping, "fire_timers", broken.real)  # the cause is fixed
    deployed.execute(RetryInstance(doomed), community["admin"])
    assert status(deployed, doomed) == ("running", None, 0, {"after"})
    with deployed.read() as session:
        bundle = access.community_bundle(session, community.id, signer=deployed.signer, now=clock.now(), instance_id=doomed)
    verdict = audit_verify.verify(bundle, trusted_keys=access.trusted_keys(deployed.signer))
    assert verdict.ok, verdict.problems  # the chain holds and the history replays, the incident included

