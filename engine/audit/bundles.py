"""Audit bundles: one JSON document with everything needed to check a history without us.

A bundle holds, for an instance or a whole community: the definition sources its instances ran
on, every event, the records the events bound, the bulletin boards of closed votes, and the
signed checkpoints with the proofs that lead from its instances' heads to each signed root.
``engine.audit.offline.verify`` checks it with no database and no server.

A *full* bundle (for an auditor with the right to see personal data) carries each instance's
salt and the personal fields in the clear. A *public* bundle carries neither: in their place, the
salted digests that the hashes commit to — so it still verifies, but cannot be replayed (the
details of each command are among what it withholds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.audit.sealing import chain
from engine.audit.sealing import checkpoints
from engine.audit.sealing import records
from engine.audit.sealing.models import Checkpoint
from engine.kernel.models import Definition, Event, Instance
from engine.audit.offline.bundle_schema import BUNDLE_FORMAT, latest_bindings

Section = Callable[[Session, set[str], bool], list[dict[str, Any]]]
"""``section(session, instance_ids, public)``: a part of the bundle a domain adds (``@bundle_section``)."""
SECTIONS: dict[str, Section] = {}


def bundle_section(name: str) -> Callable[[Section], Section]:
    """Register the decorated function as what fills the bundle's ``name`` (voting's boards and ballot boxes)."""
    def register(section: Section) -> Section:
        SECTIONS[name] = section
        return section
    return register


def export(
    session: Session, community_id: int, *, instance_id: str | None = None, public: bool = False,
    now: datetime, public_keys: dict[str, str],
) -> dict[str, Any]:
    """The bundle of a community (or of one of its instances) as it is stored now."""
    query = select(Instance).where(Instance.community_id == community_id).order_by(Instance.id)
    if instance_id is not None:
        query = query.where(Instance.id == instance_id)
    instances = list(session.scalars(query))
    ids = {instance.id for instance in instances}
    histories = {instance.id: _events(session, instance.id) for instance in instances}
    salts = {instance.id: instance.salt for instance in instances}
    return {
        "format": BUNDLE_FORMAT,
        "scope": {"community": community_id, "instance": instance_id},
        "public": public,
        "exported_at": chain.timestamp(now),
        "definitions": _definitions(session, {instance.definition_id for instance in instances}, public),
        "instances": [_instance(instance, histories[instance.id], public) for instance in instances],
        "records": _records(session, ids, community_id, instance_id is None, histories, salts, public),
        **{name: section(session, ids, public) for name, section in SECTIONS.items()},
        "checkpoints": _checkpoints(session, community_id, instance_id),
        "public_keys": public_keys,
    }


def _definitions(session: Session, ids: set[int], public: bool) -> list[dict[str, Any]]:
    rows = session.scalars(select(Definition).where(Definition.id.in_(ids)).order_by(Definition.id))
    return [{"id": d.id, "key": d.key, "version": d.version, "kind": d.kind, "filename": d.filename,
             "owner": d.owner, "deployed_by": d.deployed_by,
             "deployed_at": chain.timestamp(d.deployed_at),
             "sha256": d.sha256, "source": d.source, **({} if public else {"spec": d.spec})} for d in rows]


def _events(session: Session, instance_id: str) -> list[dict[str, Any]]:
    """Plain rows (no ORM objects): a community's history may run to hundreds of thousands of events."""
    columns = Event.__table__.c
    query = select(*(c for c in columns if c.key not in ("id", "instance_id"))).where(columns.instance_id == instance_id).order_by(columns.seq)
    return [dict(row) for row in session.execute(query).mappings()]


def _instance(instance: Instance, events: list[dict[str, Any]], public: bool) -> dict[str, Any]:
    return {
        "id": instance.id, "definition_id": instance.definition_id, "timezone": instance.timezone,
        "status": instance.status, "state_digest": instance.state_digest, "last_seq": instance.last_seq,
        "head_hash": instance.head_hash, **({} if public else {"salt": instance.salt}),
        "events": [_event(instance, event, public) for event in events],
    }


def _event(instance: Instance, event: dict[str, Any], public: bool) -> dict[str, Any]:
    disclosed = {
        "seq": event["seq"], "type": event["type"], "at": chain.timestamp(event["at"]),
        "disposition": chain.disposition(event["error"]), "state_digest": event["state_digest"],
        "records": event["records"], "prev_hash": event["prev_hash"], "hash": event["hash"],
    }
    if public:
        disclosed["actor_digest"] = chain.actor_digest(instance.salt, event["seq"], event["actor_id"])
        disclosed["details_digest"] = chain.details_digest(instance.salt, event["seq"], event["input"], event["error"], event["services"])
    else:
        disclosed.update(actor_id=event["actor_id"], input=event["input"], error=event["error"], services=event["services"])
    return disclosed


def _records(
    session: Session, ids: set[str], community_id: int, whole_community: bool,
    histories: dict[str, list[dict[str, Any]]], salts: dict[str, str], public: bool,
) -> list[dict[str, Any]]:
    """Every record the histories bound, and every record of the scope they did not (which the audit reports)."""
    bound_in = {key: instance_id for key, (instance_id, _, _) in latest_bindings(histories).items()}
    out = []
    for kind, model in records.KINDS.items():
        wanted = {record_id for k, record_id in bound_in if k == kind}
        for row in _rows_of_scope(session, model, ids, community_id, whole_community, wanted):
            dump = records.dump(row)
            out.append(_record(dump, salts.get(bound_in.get((kind, dump.id), ""), None), public))
    return out


def _rows_of_scope(session: Session, model: Any, ids: set[str], community_id: int, whole_community: bool, wanted: set[str]) -> Iterable[Any]:
    """The rows bound by the histories, and the rows that belong to the scope by their columns."""
    table = model.__table__
    (key,) = table.primary_key.columns
    scope = [key.in_([key.type.python_type(i) for i in wanted])] if wanted else []
    if "instance_id" in table.c:
        scope.append(table.c.instance_id.in_(ids))
    if whole_community and "community_id" in table.c:
        scope.append(table.c.community_id == community_id)
    elif whole_community and records.KIND_OF[model] in records.COMMUNITY_SCOPE:
        scope.append(records.COMMUNITY_SCOPE[records.KIND_OF[model]](model, community_id))
    return session.scalars(select(model).where(or_(*scope)).order_by(key)) if scope else []


def _record(dump: records.RecordDump, salt: str | None, public: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": dump.kind, "id": dump.id, "public": dump.public}
    if not public:
        out["personal"] = dump.personal
    elif salt is not None:
        out["personal_digests"] = records.personal_digests(salt, dump.kind, dump.id, dump.personal)
    return out


def _checkpoints(session: Session, community_id: int, instance_id: str | None) -> list[dict[str, Any]]:
    """Every checkpoint's statement; a head's proof only where it moved since the previous checkpoint
    (an unchanged head is proven already), so proofs grow with the history, not with checkpoints × instances.
    A format 2 checkpoint also carries the community's own proof, each time: its root is new each time.
    A head proven in a format 1 tree is proven again in the first format 2 one (another tree)."""
    out = []
    proven: dict[int, set[tuple[Any, ...]]] = {1: set(), 2: set()}
    for row in session.scalars(select(Checkpoint).order_by(Checkpoint.id)):
        shown = checkpoints.view(row, community_id, instance_id, skip=frozenset(proven[row.format]))
        proven[row.format].update(tuple(p["head"]) for p in shown["heads"])
        out.append(shown)
    return out
