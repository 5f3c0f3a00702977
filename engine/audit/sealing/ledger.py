"""Writing the history: a unit of work's events are chained, and bound to its records, at commit.

Commands append pending events as they go; ``Ledger.seal`` runs just before the commit, when
everything the command changed has been flushed. It fingerprints every audited record the unit
wrote (the ledger listens to its unit's session and notes them at each flush), binds them to the unit's last event, computes
each event's hash from its instance's chain head, inserts the events and moves the heads — all in
the command's transaction, so a history and its records never disagree even for a moment. Then it tells
the listeners registered with ``@on_sealed`` (the webhooks' outbox) of those events, still in that transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import bindparam, event, insert, update
from sqlalchemy.orm import Session

from engine.audit.sealing import chain
from engine.audit.sealing import records
from engine.kernel.db import json_ready, rows_from_json
from engine.kernel.models import Event, Instance


SealedListener = Callable[[Session, list[dict[str, Any]]], None]
"""``listener(session, events)``: told, inside the command's transaction, of the events a unit of work just recorded
(each as its row: instance_id, seq, type, actor_id, at, input, error, services, hash, …), in the order they were
chained. What it writes commits or rolls back with them; what it raises refuses the whole command."""
SEALED_LISTENERS: list[SealedListener] = []


def on_sealed(listener: SealedListener) -> SealedListener:
    """Register the decorated function as told of every recorded event, in its command's transaction (``Ledger.seal``).

    The audit package imports no domain: a package that needs to hear of events (``engine.webhooks``, which writes
    its outbox here) registers itself, as domains register their handlers. A listener must be cheap, must not
    flush audited records (they would be bound to no event), and sees the events already inserted."""
    SEALED_LISTENERS.append(listener)
    return listener


@dataclass
class PendingEvent:
    instance_id: str
    seq: int
    type: str
    actor_id: int | None
    at: datetime
    input: dict[str, Any]
    state_digest: str
    error: dict[str, Any] | None
    services: list[Any] | None
    prev_hash: str
    """The instance's chain head as the unit found it (events of one unit chain on each other)."""
    salt: str
    records: list[dict[str, Any]] = field(default_factory=list)


class Ledger:
    """The history one unit of work writes: its pending events, and the audited records its session flushed."""

    def __init__(self, session: Session) -> None:
        self.pending: list[PendingEvent] = []
        self._touched: dict[int, tuple[Any, dict[str, Any] | None]] = {}
        event.listen(session, "before_flush", self._note_audited_changes)

    def append(self, pending: PendingEvent) -> None:
        self.pending.append(pending)

    def seal(self, session: Session) -> None:
        session.flush()
        touched, self._touched = self._touched, {}
        if not self.pending:
            if touched:
                raise RuntimeError("audited records changed without an event to bind them to")
            return
        last = self.pending[-1]
        last.records = sorted(_bindings(touched.values(), last.salt), key=lambda b: (b["kind"], b["id"]))
        rows, heads = self._chained()
        connection = session.connection()
        if connection.dialect.name == "postgresql" and len(heads) == 1:
            # The usual unit (a ballot, or ballots cast together): one statement, one round trip less
            # while the instance row is locked.
            ((instance_id, head),) = heads.items()
            connection.execute(_INSERT_EVENTS_SET_HEAD, {"events": json_ready(rows), "instance_id": instance_id, "head": head})
        else:
            connection.execute(insert(Event.__table__), rows)
            for instance_id, head in heads.items():
                connection.execute(_SET_HEAD, {"instance_id": instance_id, "head": head})
        for instance_id in heads:
            loaded = session.identity_map.get(Session.identity_key(Instance, instance_id))
            if loaded is not None:
                session.expire(loaded, ["head_hash"])
        self.pending.clear()
        for listener in SEALED_LISTENERS:
            listener(session, rows)

    def _note_audited_changes(self, session: Session, flush_context: Any, instances: Any) -> None:
        """Note every audited record this flush writes; ``seal`` fingerprints them after the last flush."""
        touched = self._touched
        for row in session.new:
            if records.is_audited(row):
                touched[id(row)] = (row, None)
        for row in session.dirty:
            if records.is_audited(row) and session.is_modified(row):
                touched[id(row)] = (row, None)
        for row in session.deleted:
            if records.is_audited(row):
                touched[id(row)] = (row, records.deletion(row))

    def _chained(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        heads: dict[str, str] = {}
        rows = []
        for pending in self.pending:
            row = {
                "instance_id": pending.instance_id, "seq": pending.seq, "type": pending.type,
                "actor_id": pending.actor_id, "at": pending.at, "input": pending.input,
                "state_digest": pending.state_digest, "error": pending.error, "services": pending.services,
                "records": pending.records, "prev_hash": heads.get(pending.instance_id, pending.prev_hash),
            }
            row["hash"] = heads[pending.instance_id] = chain.hash_of(pending.salt, row)
            rows.append(row)
        return rows, heads


_instances, _events = Instance.__table__, Event.__table__
_SET_HEAD = update(_instances).where(_instances.c.id == bindparam("instance_id")).values(head_hash=bindparam("head"))
_EVENT_COLUMNS = ("instance_id", "seq", "type", "actor_id", "at", "input", "state_digest", "error", "services", "records",
                  "prev_hash", "hash")
_INSERT_EVENTS_SET_HEAD = _SET_HEAD.add_cte(rows_from_json(_events, "events", _EVENT_COLUMNS).cte("sealed"))
"""PostgreSQL only (SQLite has no INSERT in a WITH clause): the events of one instance, however many, are
one JSON parameter, so the statement is built once, like every statement of the ballot's path."""


def _bindings(touched: Any, salt: str) -> list[dict[str, Any]]:
    out = []
    for row, deleted in touched:
        out.append(deleted if deleted is not None else records.binding(salt, records.dump(row)))
    return out
