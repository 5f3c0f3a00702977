"""Process instances: start them, drive them, and write each step in its unit of work.

Every workflow command follows one path: load the instance (its ``version`` column guards
against a concurrent writer), compute the step with ``engine.kernel.stepping.step``, then write the new
state, the task index, the pending timers and the event together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from engine.kernel import forms
from engine.kernel import preconditions
from engine.kernel import operations
from engine.audit.sealing import chain
from engine.audit.sealing.ledger import PendingEvent
from engine.bpmn import isolation
from engine.bpmn.service_calls import LiveCalls, NeedsWriter, ProbeCalls, ServiceCalls
from engine.bpmn.workflows import canonical_json
from engine.kernel.db import json_ready, rows_from_json
from engine.kernel.definitions import get_resolved, spec_document
from engine.kernel.errors import Conflict, NotFound, PermissionDenied
from engine.identity.actors import Actor, zone
from engine.identity.models import Community
from engine.kernel.models import HumanTask, Instance, Timer
from engine.kernel.operations import ServiceContext
from engine.kernel.stepping import StepResult, step
from engine.kernel.unit_of_work import UnitOfWork

STARTER_ROLES = ("committee",)
"""Committees launch processes; residents take part in them."""


def start(uow: UnitOfWork, actor: Actor, key: str, variables: dict[str, Any]) -> Instance:
    actor.require(*STARTER_ROLES)
    definition = get_resolved(uow.session, actor.community_id, key, pin_at=None if uow.ahead else uow.now)
    instance_id = uow.new_instance_id()
    timezone = _community_of(uow.session, actor.community_id).timezone
    instance = Instance(
        id=instance_id,
        community_id=actor.community_id,
        definition_id=definition.id,
        definition=definition,
        status="running",
        timezone=timezone,
        state="",
        state_digest="",
        data={},
        last_seq=0,
        salt=chain.new_salt(),
        head_hash=chain.GENESIS,
        started_by=actor.member_id,
        started_at=uow.now,
        updated_at=uow.now,
    )
    uow.session.add(instance)
    advance(uow, instance, "instance_started", {
        "definition": key, "version": definition.version, "sha256": definition.sha256, "timezone": timezone, "variables": variables,
        "owner": definition.owner,
    }, actor)
    return instance


def complete(uow: UnitOfWork, actor: Actor, task_id: str, data: dict[str, Any]) -> Instance:
    task = get_task(uow.session, actor, task_id)
    if task.state != "READY":
        raise Conflict(f"task {task.element_id} is {task.state.lower()}, not ready to complete", task_state=task.state)
    if task.lane and not actor.has(task.lane):
        raise PermissionDenied(f"only the {task.lane} may complete this task", required=[task.lane])
    instance = _load(uow.session, task.instance_id)
    _require_running(instance)
    preconditions.enforce(task.properties.get(preconditions.PRECONDITION_PROPERTY), uow.session, instance)
    schema = spec_document(instance.definition)["forms"].get(task.form) if task.form else None
    forms.validate(schema, data, now=uow.now, local_tz=zone(instance.timezone))
    return advance(uow, instance, "task_completed", {"task_id": task.id, "data": data}, actor)


def fire_due_timers(uow: UnitOfWork, instance_id: str) -> Instance | None:
    """Fire an instance's due timers; None when nothing was due (so nothing is recorded)."""
    instance = _load(uow.session, instance_id)
    if instance.status != "running" or not any(t.due_at < uow.now for t in instance.timers):
        return None
    return advance(uow, instance, "timers_fired", {}, None)


def timers_incident(uow: UnitOfWork, instance_id: str, failures: int, cause: str) -> Instance | None:
    """Make an incident of an instance whose due timers failed to fire ``failures`` times (not inside the
    workflow: nothing was recorded); None when it no longer waits on a due timer (a command moved it on).

    It is recorded as a step's failure is: status ``error`` with the reason, an event in the history
    (``timers_failed``, the state unchanged, the reason as its error), and no pending timers, so no sweep
    fires it; an admin's retry (``retry``) fires them in the admin's command.
    """
    instance = _load(uow.session, instance_id)
    if instance.status != "running" or not any(t.due_at < uow.now for t in instance.timers):
        return None
    failure = {"task_id": None, "element_id": None, "message": f"incident: timers failed {failures} times: {cause}",
               "timers_failed": failures}
    seq = instance.last_seq + 1
    instance.status, instance.error, instance.last_seq, instance.updated_at = "error", failure, seq, uow.now
    instance.timers[:] = []
    _chain(uow, instance, seq, "timers_failed", {"failures": failures}, None, instance.state_digest, failure, None)
    return instance


def deliver_message(uow: UnitOfWork, actor: Actor, instance_id: str, message: str, payload: dict[str, Any]) -> Instance:
    instance = get_instance(uow.session, actor, instance_id)
    actor.require("committee", "admin")
    return deliver(uow, instance, message, payload, actor)


def deliver(uow: UnitOfWork, instance: Instance, message: str, payload: dict[str, Any], actor: Actor | None) -> Instance:
    """Deliver a message to a running instance; also used by the engine itself (actor None)."""
    _require_running(instance)
    return advance(uow, instance, "message_delivered", {"message": message, "payload": payload}, actor)


def retry(uow: UnitOfWork, actor: Actor, instance_id: str, data: dict[str, Any]) -> Instance:
    """Run a failed instance forward again (admins), optionally correcting the failed task's data; an
    instance whose timers failed to fire (``timers_incident``) has them fired again."""
    instance = get_instance(uow.session, actor, instance_id)
    actor.require("admin")
    if instance.status != "error":
        raise Conflict(f"the instance is {instance.status}; only a failed instance can be retried")
    failed_task = (instance.error or {}).get("task_id")
    if data and failed_task is None:
        raise Conflict("the failure is not tied to a task, so there is no task data to correct")
    timers = {"fire_timers": True} if (instance.error or {}).get("timers_failed") else {}
    return advance(uow, instance, "instance_retried", {"task_id": failed_task, "data": data, **timers}, actor)


def advance(uow: UnitOfWork, instance: Instance, event_type: str, input: dict[str, Any], actor: Actor | None) -> Instance:
    """Apply one workflow event and write everything it changed, in the caller's transaction.

    No step holds the database writer while it runs: the engine first runs the command in a unit
    that reads a snapshot and writes nothing (``uow.ahead``), where the step is computed and handed
    back (``ComputedAhead``); the command then runs again in its real unit of work, which writes
    that result if the instance is still as it was (else the engine runs both again). A step that
    reaches a service task cannot be computed ahead (its operation writes domain records): it is
    run in the transaction, its scripts before the task answered from what was computed ahead and
    those after it held to ``isolation.WRITER_SCRIPT_SECONDS``.
    """
    seq = instance.last_seq + 1
    key = (instance.id, instance.version, seq, event_type, canonical_json(input))
    ahead: Ahead | None = uow.precomputed
    uow.precomputed = None  # for the unit's first step only
    if uow.ahead:
        raise ComputedAhead(_compute_ahead(uow, instance, event_type, input, seq, key))
    if ahead is not None and ahead.key != key:
        raise InstanceMoved("the instance was changed by a concurrent request; reload and try again")
    if ahead is not None and ahead.result is not None:
        result = ahead.result
    else:
        live = LiveCalls(lambda name, params: operations.run(name, ServiceContext(uow.session, instance, actor, uow.now, uow.publish), params))
        with isolation.remembering(ahead.memo if ahead else {}), isolation.holding_the_writer():
            result = _step(uow, instance, event_type, input, seq, live)
    _write_state(uow, instance, result, seq)
    _write_tasks(uow, instance, result, seq, actor if event_type == "task_completed" else None, input.get("task_id"))
    _write_timers(instance, result)
    _chain(uow, instance, seq, event_type, input, actor, result.digest,
           result.failure.as_dict() if result.failure else None, result.service_calls or None)
    return instance


def _chain(uow: UnitOfWork, instance: Instance, seq: int, event_type: str, input: dict[str, Any], actor: Actor | None,
           digest: str, error: dict[str, Any] | None, services: Any) -> None:
    """Append a loaded instance's event ``seq`` to its history, after its current head (sealed at commit)."""
    uow.ledger.append(PendingEvent(
        instance_id=instance.id, seq=seq, type=event_type, actor_id=actor.member_id if actor else None, at=uow.now,
        input=input, state_digest=digest, error=error, services=services, prev_hash=instance.head_hash, salt=instance.salt,
    ))


def lock(session: Session, *rows: Any) -> None:
    """Re-read rows under a row lock (``SELECT … FOR UPDATE``), in the order given, before a domain
    command checks and changes them.

    A domain command reads, checks, then writes; two of them racing on one row under PostgreSQL's
    READ COMMITTED would both pass the check and the second would write over the first. Locked,
    the second waits for the first to commit and then reads what it wrote. Commands lock their
    instance first, then its rows, always in that order, so two of them never wait on each other in
    turn; a workflow step racing with them loses on the instance's version or the event's seq, as
    ever. On SQLite units of work take turns (``engine.kernel.db.WriterLock``) and FOR UPDATE is not rendered.
    """
    for row in rows:
        session.refresh(row, with_for_update=True)


@dataclass(frozen=True)
class Ahead:
    """A workflow step computed before its transaction (``advance``), for the unit that writes it."""

    key: tuple[Any, ...]
    """The instance, its version, the event's seq, type and input: the step holds for these only."""
    result: StepResult | None
    """None: the step reached a service task, and is run in the transaction."""
    memo: dict[bytes, Any]
    """The answers of the scripts it ran (``isolation.remembering``)."""
    instance_id: str
    now: datetime


class InstanceMoved(Conflict):
    """The instance changed between its step's computation ahead and its transaction (the engine computes it again)."""


class ComputedAhead(BaseException):
    """Carries a step computed ahead out of the command (a BaseException: no handler mistakes it for a failure)."""

    def __init__(self, ahead: Ahead) -> None:
        super().__init__(ahead.instance_id)
        self.ahead = ahead


def _compute_ahead(uow: UnitOfWork, instance: Instance, event_type: str, input: dict[str, Any], seq: int,
                   key: tuple[Any, ...]) -> Ahead:
    memo: dict[bytes, Any] = {}
    try:
        with isolation.remembering(memo):
            result: StepResult | None = _step(uow, instance, event_type, input, seq, ProbeCalls())
    except NeedsWriter:
        result = None
    return Ahead(key, result, memo, instance.id, uow.now)


def _step(uow: UnitOfWork, instance: Instance, event_type: str, input: dict[str, Any], seq: int,
          calls: ServiceCalls) -> StepResult:
    return step(
        spec_document=spec_document(instance.definition), state_before=instance.state or None, event_type=event_type,
        input=input, now=uow.now, local_tz=zone(instance.timezone), instance_id=instance.id, seq=seq, services=calls,
    )


def record(uow: UnitOfWork, instance: Instance, event_type: str, input: dict[str, Any], actor: Actor | None) -> None:
    """Record a domain event (an opinion, a ballot, …) that leaves the workflow as it is."""
    record_unloaded(uow, instance.id, [(event_type, input, actor)])


def record_unloaded(uow: UnitOfWork, instance_id: str, events: list[tuple[str, dict[str, Any], Actor | None]],
                    *, new_rows: tuple[RowsWithSeq, dict[str, list[dict[str, Any]]]] | None = None) -> None:
    """``record`` without loading the instance, for the busiest domain command: ballots, one or a batch.

    Their sequence numbers come from one atomic UPDATE, not through the instance's version check:
    domain events (ballots above all) arrive concurrently and must queue, not fail. A workflow
    command racing with them still loses cleanly, on the event's unique (instance, seq). The same
    UPDATE gives the unchanged state digest and the chain's head and salt, so no instance row is
    read or deserialized. The command's own changes are flushed first, so the UPDATE — which makes
    concurrent ballots queue on the instance row — is followed only by the events' insert and the
    commit, and the queue moves as fast as it can.

    ``new_rows`` (the statement, and the rows by table name) are the command's own new rows,
    written by the same statement (``RowsWithSeq``).
    """
    uow.session.flush()
    connection, params = uow.session.connection(), {"instance_id": instance_id, "now": uow.now, "count": len(events)}
    if new_rows is not None:
        last, digest, head, salt = new_rows[0].execute(connection, new_rows[1], params)
    else:
        last, digest, head, salt = connection.execute(_NEXT_SEQ, params).one()
    loaded = uow.session.identity_map.get(Session.identity_key(Instance, instance_id))
    if loaded is not None:
        uow.session.expire(loaded, ["last_seq", "updated_at"])
    for seq, (event_type, input, actor) in enumerate(events, start=last - len(events) + 1):
        uow.ledger.append(PendingEvent(
            instance_id=instance_id, seq=seq, type=event_type, actor_id=actor.member_id if actor else None, at=uow.now,
            input=input, state_digest=digest, error=None, services=None, prev_hash=head, salt=salt,
        ))


_instances = Instance.__table__
_NEXT_SEQ = (
    update(_instances)
    .where(_instances.c.id == bindparam("instance_id"))
    .values(last_seq=_instances.c.last_seq + bindparam("count", type_=_instances.c.last_seq.type),
            updated_at=bindparam("now", type_=_instances.c.updated_at.type))
    .returning(_instances.c.last_seq, _instances.c.state_digest, _instances.c.head_hash, _instances.c.salt)
)


class RowsWithSeq:
    """New rows of some tables, inserted by the statement that takes the events' sequence numbers.

    On PostgreSQL the INSERTs ride in the WITH clause of that UPDATE, each table's rows one JSON
    parameter (``engine.kernel.db.rows_from_json``): a ballot's participation and ballot — or a batch's —
    cost no round trip of their own, and one statement serves any number of rows. SQLite has no
    INSERT in a WITH clause (and no round trips: it runs in the process), so there they are plain
    INSERTs before it. Built once per use.
    """

    def __init__(self, *tables: Table) -> None:
        self._tables = tables
        self._inserts = [insert(table) for table in tables]
        together = _NEXT_SEQ
        for table in tables:
            together = together.add_cte(rows_from_json(table, f"{table.name}_rows").cte(f"new_{table.name}"))
        self._together = together

    def execute(self, connection: Connection, values: dict[str, list[dict[str, Any]]], params: dict[str, Any]) -> Row[Any]:
        """``values``: rows by table name, every column given; ``params`` as ``_NEXT_SEQ`` takes them."""
        if connection.dialect.name == "postgresql":
            return connection.execute(self._together, {**{f"{name}_rows": json_ready(rows) for name, rows in values.items()}, **params}).one()
        for table, statement in zip(self._tables, self._inserts, strict=True):
            connection.execute(statement, values[table.name])
        return connection.execute(_NEXT_SEQ, params).one()


def _write_state(uow: UnitOfWork, instance: Instance, result: StepResult, seq: int) -> None:
    instance.state = result.state
    instance.state_digest = result.digest
    instance.status = result.status
    instance.data = result.data
    instance.error = result.failure.as_dict() if result.failure else None
    instance.last_seq = seq
    instance.updated_at = uow.now
    if result.status == "completed":
        instance.completed_at = uow.now
        uow.publish(f"instance {instance.id} completed")


def _write_tasks(
    uow: UnitOfWork, instance: Instance, result: StepResult, seq: int, actor: Actor | None, completed_id: str | None
) -> None:
    """Bring the task index in line with the workflow: open new tasks, close finished ones."""
    current = {view.id: view for view in result.tasks}
    for row in instance.tasks:
        if row.state in ("READY", "ERROR") and row.id not in current:
            row.state = "COMPLETED" if row.id == completed_id else "CLOSED"
            row.completed_by = actor.member_id if actor and row.id == completed_id else None
            row.closed_seq = seq
            row.closed_at = uow.now
    known = {row.id: row for row in instance.tasks}
    for view in result.tasks:
        row = known.get(view.id)
        if row is None:
            instance.tasks.append(
                HumanTask(
                    id=view.id, community_id=instance.community_id, element_id=view.element_id, name=view.name,
                    lane=view.lane, state=view.state, form=view.form, properties=view.properties,
                    instructions=view.instructions, error=view.error, opened_seq=seq,
                )
            )
        else:
            row.state, row.error = view.state, view.error


def _write_timers(instance: Instance, result: StepResult) -> None:
    instance.timers[:] = [
        Timer(task_id=t.task_id, element_id=t.element_id, name=t.name, due_at=t.due_at) for t in result.timers
    ]


def _community_of(session: Session, community_id: int) -> Community:
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound("community not found")
    return community


def _load(session: Session, instance_id: str) -> Instance:
    instance = session.get(Instance, instance_id)
    if instance is None:
        raise NotFound("instance not found")
    return instance


def _require_running(instance: Instance) -> None:
    if instance.status != "running":
        raise Conflict(f"the instance is {instance.status}")


def get_instance(session: Session, actor: Actor, instance_id: str) -> Instance:
    """An instance of the caller's community; another community's is simply not found."""
    return actor.own(session.get(Instance, instance_id), "instance")


def get_task(session: Session, actor: Actor, task_id: str) -> HumanTask:
    return actor.own(session.get(HumanTask, task_id), "task")


def due_instance_ids(session: Session, now: datetime, limit: int = 500) -> list[str]:
    """Instances with a timer that has fallen due, the longest overdue first (what the worker fires)."""
    earliest = func.min(Timer.due_at)
    rows = session.execute(
        select(Timer.instance_id).where(Timer.due_at < now).group_by(Timer.instance_id).order_by(earliest).limit(limit)
    )
    return [row[0] for row in rows]
