"""Audit bundles: one JSON document with everything needed to check a history without us.

A bundle holds, for an instance or a whole community: the definition sources its instances ran
on, every event, the records the events bound, the bulletin boards of closed votes, and the
signed checkpoints with the proofs that lead from its instances' heads to each signed root.
``engine.audit.verify`` checks it with no database and no server.

A *full* bundle (for an auditor with the right to see personal data) carries each instance's
salt and the personal fields in the clear. A *public* bundle carries neither: in their place, the
salted digests that the hashes commit to — so it still verifies, but cannot be replayed (the
details of each command are among what it withholds).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.audit import chain, checkpoints, records
from engine.models import (Ballot, Checkpoint, Definition, ElectorateEntry, Event, Instance, Participation, ReplacedBallot,
                           ServiceCycle, Vote)
from engine.votes import bulletin_board

BUNDLE_FORMAT = "yishi-audit-bundle/1"


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
        "boards": _boards(session, ids),
        "ballot_boxes": _ballot_boxes(session, ids, public),
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


def latest_bindings(histories: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], tuple[str, int, dict[str, Any]]]:
    """(kind, id) → the instance, event seq and binding of the last event that wrote the record.

    A record is written by one instance's events, except a convention, which each drafting round
    (an instance of its own) writes in turn: the latest is the one with the latest time, and
    within one instance the highest sequence number.
    """
    written = [(instance_id, event) for instance_id, events in histories.items() for event in events if event["records"]]
    written.sort(key=lambda pair: (_moment(pair[1]["at"]), pair[1]["seq"]))
    return {(b["kind"], b["id"]): (instance_id, event["seq"], b) for instance_id, event in written for b in event["records"]}


def _moment(at: datetime | str) -> str:
    """An event's time as bundles render it (and compare it: the rendering sorts like the time)."""
    return at if isinstance(at, str) else chain.timestamp(at)


def _rows_of_scope(session: Session, model: Any, ids: set[str], community_id: int, whole_community: bool, wanted: set[str]) -> Iterable[Any]:
    """The rows bound by the histories, and the rows that belong to the scope by their columns."""
    table = model.__table__
    (key,) = table.primary_key.columns
    scope = [key.in_([key.type.python_type(i) for i in wanted])] if wanted else []
    if "instance_id" in table.c:
        scope.append(table.c.instance_id.in_(ids))
    if whole_community and "community_id" in table.c:
        scope.append(table.c.community_id == community_id)
    elif whole_community and "cycle_id" in table.c:
        scope.append(table.c.cycle_id.in_(select(ServiceCycle.id).where(ServiceCycle.community_id == community_id)))
    return session.scalars(select(model).where(or_(*scope)).order_by(key)) if scope else []


def _record(dump: records.RecordDump, salt: str | None, public: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": dump.kind, "id": dump.id, "public": dump.public}
    if not public:
        out["personal"] = dump.personal
    elif salt is not None:
        out["personal_digests"] = records.personal_digests(salt, dump.kind, dump.id, dump.personal)
    return out


def _boards(session: Session, ids: set[str]) -> list[dict[str, Any]]:
    """The published bulletin boards, less what the bound vote records already say (root, result)."""
    closed = session.scalars(select(Vote).where(Vote.instance_id.in_(ids), Vote.status == "closed").order_by(Vote.id))
    boards = ((vote.id, bulletin_board(session, vote)) for vote in closed)
    return [{"vote_id": vote_id, "config": b["vote"], "electorate": b["electorate"], "ballots": b["ballots"]} for vote_id, b in boards]


def _ballot_boxes(session: Session, ids: set[str], public: bool) -> list[dict[str, Any]]:
    """Each vote's ballot box as its rows hold it, for ``verify`` to hold against the history.

    Ballots are not bound to the events one by one (that would say who voted what); what binds
    them is that the counts agree: as many ballots as participations as first-ballot events, as
    many replaced fingerprints as changes as change events. A full bundle also carries who took
    part and the frozen electorate, checked one by one; a public one, only the counts (turnout is
    public) and the replaced fingerprints (no choice, no voter).
    """
    out = []
    for vote in session.scalars(select(Vote).where(Vote.instance_id.in_(ids)).order_by(Vote.id)):
        taking_part = session.execute(select(
            Participation.voter_key, Participation.member_id, Participation.channel, Participation.teller_id,
            Participation.cast_at, Participation.changes).where(Participation.vote_id == vote.id).order_by(Participation.voter_key)).all()
        box: dict[str, Any] = {
            "vote_id": vote.id, "instance_id": vote.instance_id, "turnout": len(taking_part),
            "changes": sum(p.changes for p in taking_part),
            "ballots": session.scalar(select(func.count()).select_from(Ballot).where(Ballot.vote_id == vote.id)),
            "replaced": sorted(session.scalars(select(ReplacedBallot.fingerprint).where(ReplacedBallot.vote_id == vote.id))),
        }
        if not public:
            box["participations"] = [{**p._asdict(), "cast_at": chain.timestamp(p.cast_at)} for p in taking_part]
            box["electorate"] = [dict(e._asdict()) for e in session.execute(select(
                ElectorateEntry.voter_key, ElectorateEntry.label, ElectorateEntry.weight).where(ElectorateEntry.vote_id == vote.id)
                .order_by(ElectorateEntry.voter_key))]
        out.append(box)
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
