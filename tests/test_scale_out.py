"""Several workers and servers on one database: timer sweeps claim instances, checkpoint signers take
turns, and processes starting together migrate and deploy once — real threads, both backends.

Each racer has an ``Engine`` of its own (its own connection pool), as a separate process would.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from engine.kernel.commands import DeployDefinition, StartInstance
from engine.kernel import instances
from engine.audit import access
from engine.audit.sealing import checkpoints
from engine.audit.offline import verify as audit_verify
from engine.kernel.clock import ManualClock
from engine.kernel.db import TIMER_CLAIM, Database, claimed
from engine.audit.sealing.models import Checkpoint
from engine.kernel.models import Definition, Event
from engine.bootstrap import Engine, EngineConfig
from tests import bpmn_samples as b
from tests.helpers import Community, at_once

INSTANCES = 8





def another(engine: Engine, tmp_path: Path) -> Engine:
    """A second engine on the same database, clock and key: another worker process."""
    return Engine(Database(engine.db.url), engine.clock, EngineConfig(audit_key=tmp_path / "audit-key.pem"))


def test_racing_timer_sweeps_fire_each_instance_once_and_log_no_conflict(
    deployed: Engine, community: Community, clock: ManualClock, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    deployed.execute(DeployDefinition("waiting.bpmn", b.linear("waiting", b.timer_event("wait", '"PT1H"'), b.user_task("after"))))
    started = [deployed.execute(StartInstance("waiting"), community["chair"]).id for _ in range(INSTANCES)]
    clock.advance(timedelta(hours=2))
    steps: Counter[str] = Counter()
    real_step = instances.step

    def lingering_step(**kwargs: Any) -> Any:
        if kwargs["event_type"] == "timers_fired":
            steps[kwargs["instance_id"]] += 1
            time.sleep(0.05)  # a slow step: without a claim, the other sweeps compute it too
        return real_step(**kwargs)

    monkeypatch.setattr(instances, "step", lingering_step)
    workers = [deployed, another(deployed, tmp_path), another(deployed, tmp_path)]
    with caplog.at_level(logging.WARNING):
        fired = at_once([w.fire_due_timers for w in workers])
    for w in workers[1:]:
        w.db.dispose()

    assert not [o for o in fired if isinstance(o, BaseException)], fired
    assert sum(fired) == INSTANCES
    assert steps == {instance_id: 1 for instance_id in started}  # no sweep computed a step another was taking
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    with deployed.read() as session:
        events = Counter(session.scalars(select(Event.instance_id).where(Event.type == "timers_fired")))
    assert events == {instance_id: 1 for instance_id in started}


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_sweep_skips_an_instance_another_sweep_holds(deployed: Engine, community: Community, clock: ManualClock) -> None:
    """While one sweep holds an instance, another records nothing for it and raises nothing, at once;
    once the claim is released, the next sweep fires it."""
    deployed.execute(DeployDefinition("waiting.bpmn", b.linear("waiting", b.timer_event("wait", '"PT1H"'), b.user_task("after"))))
    instance_id = deployed.execute(StartInstance("waiting"), community["chair"]).id
    clock.advance(timedelta(hours=2))
    second = Engine(Database(deployed.db.url), deployed.clock)
    try:
        with claimed(deployed.db, TIMER_CLAIM, instance_id) as ours:
            assert ours
            with claimed(second.db, TIMER_CLAIM, instance_id) as theirs:
                assert not theirs
            began = time.monotonic()
            assert second.fire_due_timers() == 0  # skipped, at once
            assert time.monotonic() - began < 1
        assert second.fire_due_timers() == 1
        assert second.fire_due_timers() == 0
    finally:
        second.db.dispose()
    with deployed.read() as session:
        assert session.scalar(select(func.count()).select_from(Event).where(
            Event.instance_id == instance_id, Event.type == "timers_fired")) == 1


def test_racing_checkpoint_signers_keep_one_chain(
    deployed: Engine, community: Community, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed.execute(StartInstance("consultation"), community["chair"])
    real_heads = checkpoints.current_heads

    def slow_heads(session: Any) -> Any:
        time.sleep(0.02)  # between reading the previous checkpoint and writing the next: the race window
        return real_heads(session)

    monkeypatch.setattr(checkpoints, "current_heads", slow_heads)
    signers = [deployed, *(another(deployed, tmp_path) for _ in range(3))]
    rounds = 5
    outcomes = at_once([lambda s=s: [s.checkpoint("race") for _ in range(rounds)] for s in signers])
    for s in signers[1:]:
        s.db.dispose()

    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    with deployed.read() as session:
        rows = list(session.scalars(select(Checkpoint).order_by(Checkpoint.id)))
        assert [row.id for row in rows] == list(range(1, len(signers) * rounds + 1))
        previous = checkpoints.GENESIS
        for row in rows:
            assert row.previous == previous
            previous = checkpoints.statement_hash(checkpoints.as_dict(row))
        bundle = access.community_bundle(session, community.id, signer=deployed.signer, now=deployed.clock.now())
    verdict = audit_verify.verify(bundle, trusted_keys=access.trusted_keys(deployed.signer))
    assert verdict.ok, verdict.problems
    assert verdict.counts["checkpoints"] == len(signers) * rounds


def test_periodic_checkpoints_racing_sign_the_same_heads_once(
    deployed: Engine, community: Community, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers' periodic checkpoints ("only if a history grew") at the same moment: one signs, the other finds nothing new."""
    deployed.execute(StartInstance("consultation"), community["chair"])
    real_heads = checkpoints.current_heads
    monkeypatch.setattr(checkpoints, "current_heads", lambda session: (time.sleep(0.05), real_heads(session))[1])
    signers = [deployed, another(deployed, tmp_path)]
    signed = at_once([lambda s=s: s.checkpoint("periodic", only_if_changed=True) for s in signers])
    signers[1].db.dispose()
    assert not [o for o in signed if isinstance(o, BaseException)], signed
    assert sorted(o is None for o in signed) == [False, True]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_processes_starting_together_on_an_empty_database_migrate_and_deploy_once(
    database_url: str, postgres_server: str, tmp_path: Path
) -> None:
    """Servers and workers that start at once on a new PostgreSQL database: one creates the schema and
    the bundled definitions, the others wait for it and find them there."""
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    name = database_url.rsplit("/", 1)[1] + "_empty"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = database_url.rsplit("/", 1)[0] + "/" + name
    engines = [Engine(Database(url, connect_args={"options": "-c lock_timeout=20000"}), config=EngineConfig(audit_key=tmp_path / "audit-key.pem"))
               for _ in range(4)]
    try:
        outcomes = at_once([lambda e=e: (e.db.migrate(), e.deploy_bundled())[1] for e in engines])
        assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
        assert sorted(sum(d.created for d in o) for o in outcomes)[:-1] == [0] * (len(engines) - 1)  # one deployed them
        with engines[0].read() as session:
            per_key = Counter(session.scalars(select(Definition.key)))
        assert per_key and set(per_key.values()) == {1}
    finally:
        for e in engines:
            e.db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
