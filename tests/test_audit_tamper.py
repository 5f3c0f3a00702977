"""Tampering with a stored history is caught by the audit, and the verdict says what and where.

One community's history holds every kind of audited record: a consultation (opinions submitted,
edited, withdrawn and answered), a secret vote closed by its deadline, a convention round with
amendments, a comment and its adoption vote, and a PDCA cycle with a complaint, ratings and
corrective actions. Each test builds it, signs a checkpoint over it, then edits the database (or
an exported bundle) as an intruder with SQL access would, and checks the first problem ``verify``
reports: its check, instance, event and record, and what its message says.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, select, update

from cli import main
from engine.conventions.commands import CommentOnArticle
from engine.pdca.commands import AnswerServiceRequest, FileServiceRequest
from engine.voting.commands import CastBallot
from engine.identity import actors
from engine.identity import models as identity_models
from engine.identity import members as identity_members
from engine.audit.sealing import chain
from engine.audit.sealing import checkpoints
from engine.audit.sealing import records
from engine.audit.bundles import export
from engine.audit.offline.verify import Verdict, verify
from engine.kernel.clock import ManualClock
from engine.voting.models import Ballot
from engine.audit.sealing.models import Checkpoint
from engine.kernel.models import Definition, Event, HumanTask, Instance, Timer
from engine.consultation.models import Opinion
from engine.pdca.models import ServiceRating
from engine.bootstrap import Engine
from engine.kernel.unit_of_work import UnitOfWork
from tests.builders import (Series, close_by_deadline, complete_task, consultation, convention_of, open_drafting, open_vote,
                            propose_amendment, review_amendments, vote_on_convention)
from tests.fixtures import BACKENDS, prebuilt, prebuilt_database
from tests.helpers import Community, make_community


@dataclass
class History:
    """The community's history and the ids a tampering aims at."""

    engine: Engine
    clock: ManualClock
    community: Community
    consultation: str
    vote: str
    vote_id: str
    convention: str
    pdca: str

    def bundle(self, *, public: bool = False) -> dict[str, Any]:
        signer = self.engine.signer
        with self.engine.read() as session:
            return export(session, self.community.id, public=public, now=self.clock.now(),
                          public_keys={signer.key_id: signer.public_pem})

    @property
    def trusted_keys(self) -> dict[str, str]:
        """The deployment's key as it publishes it: an auditor does not trust the keys a bundle brings."""
        signer = self.engine.signer
        return {signer.key_id: signer.public_pem}

    def verify(self, *, public: bool = False) -> Verdict:
        return verify(self.bundle(public=public), trusted_keys=self.trusted_keys)


def build_history(engine: Engine, community: Community, clock: ManualClock) -> History:
    """Every kind of record, in an order whose deadlines and timers do not collide, then a checkpoint over all."""
    consulted = consultation(engine, community, clock, close_early=True)
    vote, vote_id = open_vote(engine, community)
    for who, choice in (("alice", "yes"), ("bob", "no"), ("carol", "yes")):
        engine.execute(CastBallot(vote_id, choice), community[who])
    convention = _convention(engine, community, clock)
    close_by_deadline(engine, clock, vote)
    pdca = _pdca(engine, community, clock)
    clock.advance(timedelta(minutes=1))
    engine.checkpoint("audit")
    return History(engine, clock, community, consulted, vote, vote_id, convention, pdca)


def _convention(engine: Engine, community: Community, clock: ManualClock) -> str:
    instance_id = open_drafting(engine, community)
    convention_id = convention_of(engine, instance_id)
    reworded = propose_amendment(engine, community, convention_id, "alice", "replace", "a1", "晚上十一点后禁止喧哗。")
    refused = propose_amendment(engine, community, convention_id, "bob", "delete", "a3")
    engine.execute(CommentOnArticle(convention_id, 1, "a2", "Prams too?"), community["carol"])
    review_amendments(engine, community, instance_id, [(reworded, "accepted", None), (refused, "rejected", None)])
    vote_on_convention(engine, clock, community, instance_id, {"alice": "yes", "bob": "yes", "carol": "no"})
    complete_task(engine, community, instance_id, "publish_convention", {"effective_date": clock.now().date().isoformat()})
    return instance_id


def _pdca(engine: Engine, community: Community, clock: ManualClock) -> str:
    """One cycle with a complaint answered, that misses its targets, so corrective actions are assigned, reported and verified."""
    series = Series(engine, community, _staff(engine, community), clock).define()
    series.serve(hours=(4, 12, 30))
    complaint = engine.execute(FileServiceRequest(series.cycle_id, "complaint", "The tap drips again."), community["carol"])
    engine.execute(AnswerServiceRequest(complaint.id, "A plumber comes on Tuesday."), series.provider)
    series.rate({"alice": 5, "bob": 4, "carol": 2, "chair": 5})
    series.act()
    return series.instance_id


def _staff(engine: Engine, community: Community) -> dict[str, actors.Actor]:
    with UnitOfWork(engine.db, engine.clock) as uow:
        row = uow.session.get(identity_models.Community, community.id)
        provider = identity_members.add_member(uow.session, row, "provider", ["provider"], uow.now)
        uow.commit()
        return {"provider": actors.actor_for(provider)}


def _history_ids(engine: Engine, clock: ManualClock) -> dict[str, Any]:
    """The history built on a fresh deployed engine: its community and the ids ``History`` keeps."""
    history = build_history(engine, make_community(engine, "harmony"), clock)
    return {name: getattr(history, name) for name in ("community", "consultation", "vote", "vote_id", "convention", "pdca")}


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A copy of the history, built once per worker and backend: building it took each test about three seconds,
    the module's whole time but for a tenth; each test still tampers with a database of its own."""
    yield from prebuilt_database(request, tmp_path, request.param, _history_ids)


@pytest.fixture
def history(deployed: Engine, clock: ManualClock, request: pytest.FixtureRequest) -> History:
    return History(deployed, clock, **prebuilt(request))


# --- the untouched history ---------------------------------------------------------------------


PERSONAL_EVENT_FIELDS = {"actor_id", "input", "error", "services"}
PERSONAL_RECORD_FIELDS = {column.key for model in records.KINDS.values() for column in model.__table__.columns
                          if any(fk.column.table.name == "members" for fk in column.foreign_keys)}


def test_the_untouched_history_verifies_in_full_and_in_public(history: History) -> None:
    full, public = history.verify(), history.verify(public=True)
    assert full.ok and public.ok, full.problems + public.problems
    assert full.counts == {"definitions": 4, "events": 57, "replayed events": 57, "records": 31, "recounts": 2, "checkpoints": 6,
                           "ballot boxes": 2}
    assert public.counts == {k: v for k, v in full.counts.items() if k != "replayed events"}  # a public bundle cannot be replayed


def test_a_public_bundle_carries_no_salt_and_no_personal_field(history: History) -> None:
    bundle = history.bundle(public=True)
    assert {"author_id", "resident_id", "owner_id", "provider_id"} <= PERSONAL_RECORD_FIELDS
    assert _keys(bundle) & (PERSONAL_EVENT_FIELDS | PERSONAL_RECORD_FIELDS | {"salt", "personal"}) == set()
    assert {record["kind"] for record in bundle["records"]} == set(records.KINDS), "the history lacks a kind of record"
    for record in bundle["records"]:
        personal = PERSONAL_RECORD_FIELDS | records.PRIVATE_TEXT.get(record["kind"], frozenset())
        assert set(record) == {"kind", "id", "public", "personal_digests"}
        assert record["personal_digests"].keys() <= personal
        assert not record["public"].keys() & personal, record
    opinions = [r for r in bundle["records"] if r["kind"] == "opinion"]
    assert opinions and all({"text", "answer_reason"} <= r["personal_digests"].keys() for r in opinions)


def _keys(document: Any, outside: str = "personal_digests") -> set[str]:
    """Every key in a JSON document, except those under ``outside`` (where a field's name stands beside its digest)."""
    if isinstance(document, list):
        return set().union(*(_keys(item, outside) for item in document))
    if isinstance(document, dict):
        return set(document).union(*(_keys(value, outside) for key, value in document.items() if key != outside))
    return set()


# --- tampering with the database -----------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """The first problem verify must report, and words its message must hold besides the instance and event or record."""

    check: str
    instance: str | None = None
    seq: int | None = None
    record: str | None = None
    says: str = ""
    alone: bool = False
    """No other check complains: the forgery got past every check but this one."""


def assert_first(verdict: Verdict, expected: Expected) -> None:
    first = verdict.first
    assert first is not None
    where = (expected.check, expected.instance, expected.seq, expected.record)
    assert (first.check, first.instance, first.seq, first.record) == where, first
    assert expected.says in first.message, first.message
    if expected.instance:
        assert f"instance {expected.instance}" in first.message, first.message
    if expected.seq:
        assert re.search(rf"\bevent {expected.seq}\b", first.message), first.message
    if expected.record:
        assert expected.record in first.message, first.message
    if expected.alone:
        assert {problem.check for problem in verdict.problems} == {expected.check}, verdict.problems


def sql(history: History, *statements: Any) -> None:
    """As an intruder with database access: straight to the tables, no engine, one transaction."""
    with history.engine.db.engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)


def events(history: History, instance_id: str, type: str | None = None) -> list[dict[str, Any]]:
    """Plain rows, as the table holds them."""
    table = Event.__table__
    query = select(table).where(table.c.instance_id == instance_id).order_by(table.c.seq)
    with history.engine.read() as session:
        return [dict(row) for row in session.execute(query.where(table.c.type == type) if type else query).mappings()]


def bound_by(history: History, instance_id: str, kind: str, record_id: Any) -> int:
    """The seq of the last event that bound a record."""
    wanted = (kind, str(record_id))
    return max(e["seq"] for e in events(history, instance_id) if wanted in [(b["kind"], b["id"]) for b in e["records"]])


def change_a_payload(h: History) -> Expected:
    (closing,) = [e for e in events(h, h.consultation, "task_completed") if e["input"]["data"].get("reason") == "Enough heard."]
    forged = {**closing["input"], "data": {"reason": "The chair was bored."}}
    sql(h, update(Event).where(Event.id == closing["id"]).values(input=forged))
    return Expected("chain", h.consultation, closing["seq"], says="was altered: its hash does not match its content")


def delete_an_event(h: History) -> Expected:
    sql(h, delete(Event).where(Event.instance_id == h.consultation, Event.seq == 9))
    return Expected("chain", h.consultation, 9, says="is missing (the sequence jumps from 8 to 10)")


def swap_two_events(h: History) -> Expected:
    """Through a free seq: (instance_id, seq) is unique."""
    first, second = (e["id"] for e in events(h, h.consultation, "opinion_submitted")[:2])
    sql(h, update(Event).where(Event.id == first).values(seq=-1),
        update(Event).where(Event.id == second).values(seq=3),
        update(Event).where(Event.id == first).values(seq=4))
    return Expected("chain", h.consultation, 3, says="does not follow event 2: its previous hash differs")


def change_a_ballot(h: History) -> Expected:
    with h.engine.read() as session:
        ballot_id = next(b.id for b in session.scalars(select(Ballot).where(Ballot.vote_id == h.vote_id)) if b.choice == "yes")
    sql(h, update(Ballot).where(Ballot.id == ballot_id).values(choice="no"))
    closed = bound_by(h, h.vote, "vote", h.vote_id)
    return Expected("recount", h.vote, closed, f"vote {h.vote_id}", says="the root over the listed ballots is")


def edit_an_opinion(h: History) -> Expected:
    with h.engine.read() as session:
        opinion_id = session.scalar(select(Opinion.id).where(Opinion.text == "Behind building 3, with a roof."))
    sql(h, update(Opinion).where(Opinion.id == opinion_id).values(text="Behind building 3, no roof needed."))
    seq = bound_by(h, h.consultation, "opinion", opinion_id)
    return Expected("records", h.consultation, seq, f"opinion {opinion_id}", says="was changed after event")


def insert_an_opinion(h: History) -> Expected:
    """An opinion slipped in after the answers: no event wrote it."""
    now, alice = h.clock.now(), h.community["alice"].member_id
    sql(h, insert(Opinion).values(id=99, instance_id=h.consultation, community_id=h.community.id, author_id=alice,
                                  text="Late, but counted.", status="submitted", revision=1, created_at=now, updated_at=now))
    return Expected("records", record="opinion 99", says="was not written by any event of the history")


def delete_a_rating(h: History) -> Expected:
    with h.engine.read() as session:
        rating_id = session.scalar(select(ServiceRating.id).where(ServiceRating.score == 2))
    sql(h, delete(ServiceRating).where(ServiceRating.id == rating_id))
    seq = bound_by(h, h.pdca, "rating", rating_id)
    return Expected("records", h.pdca, seq, f"rating {rating_id}", says="is missing")


def rewrite_a_chain(h: History) -> Expected:
    """A domain event (replay cannot see it) changed, and every hash after it recomputed as the code does."""
    (alice,) = [e for e in events(h, h.consultation, "opinion_submitted") if e["input"]["text"] == "By the gate."]
    signed = _first_signing(h, h.consultation)
    sql(h, update(Event).where(Event.id == alice["id"]).values(input={**alice["input"], "text": "Not by the gate."}))
    seq = _rechain(h, h.consultation)
    return Expected("checkpoints", h.consultation, seq, says=f"checkpoint {signed} signed event {seq}", alone=True)


def change_a_stored_state(h: History) -> Expected:
    last = events(h, h.pdca)[-1]
    sql(h, update(Instance).where(Instance.id == h.pdca).values(state_digest=_flip(last["state_digest"])))
    return Expected("chain", h.pdca, last["seq"], says="its stored state is not the one event")


def rewrite_a_chain_and_the_checkpoints(h: History) -> Expected:
    """As above, and the new head written into every checkpoint that listed the old one: without the key, no signature
    follows, and the community's subtree, rebuilt over the new head, no longer leads to the signed root."""
    old, signed = events(h, h.consultation)[-1], _first_signing(h, h.consultation)
    rewrite_a_chain(h)
    new = events(h, h.consultation)[-1]
    with h.engine.read() as session:
        rows = [(row.id, row.heads) for row in session.scalars(select(Checkpoint))]
    old_head, new_head = ([h.community.id, h.consultation, e["seq"], e["hash"]] for e in (old, new))
    sql(h, *(update(Checkpoint).where(Checkpoint.id == id).values(heads=[new_head if head == old_head else head for head in heads])
             for id, heads in rows if old_head in heads))
    return Expected("checkpoints", says=f"checkpoint {signed}: community {h.community.id}'s", alone=True)


def truncate_a_history(h: History) -> Expected:
    """The last event deleted, and the instance moved back to the event before, as the code would have left it."""
    *kept, last = events(h, h.consultation)
    sql(h, delete(Event).where(Event.id == last["id"]), update(Instance).where(Instance.id == h.consultation).values(
        last_seq=kept[-1]["seq"], head_hash=kept[-1]["hash"], state_digest=kept[-1]["state_digest"]))
    return Expected("checkpoints", h.consultation, last["seq"], says="the history no longer has that event", alone=True)


def delete_an_instance(h: History) -> Expected:
    """The consultation and everything hanging off it: nothing is left to disagree with but the checkpoints."""
    last = events(h, h.consultation)[-1]
    sql(h, *(delete(model).where(model.instance_id == h.consultation) for model in (Opinion, HumanTask, Timer, Event)),
        delete(Instance).where(Instance.id == h.consultation))
    return Expected("checkpoints", h.consultation, last["seq"], says="the history no longer has that event", alone=True)


def remove_an_instance_from_the_checkpoints(h: History) -> Expected:
    """The consultation deleted, and its head taken out of every checkpoint: the exported subtree is one
    head short of the one its community leaf signed."""
    delete_an_instance(h)
    with h.engine.read() as session:
        rows = [(row.id, row.heads) for row in session.scalars(select(Checkpoint).order_by(Checkpoint.id))]
    sql(h, *(update(Checkpoint).where(Checkpoint.id == id).values(heads=[head for head in heads if head[1] != h.consultation])
             for id, heads in rows))
    first = next(id for id, heads in rows if any(head[1] == h.consultation for head in heads))
    return Expected("checkpoints", says=f"checkpoint {first}: community {h.community.id}'s", alone=True)


def change_a_reason(h: History) -> Expected:
    """A format 2 statement edited (its reason): the signature covers every field of it."""
    sql(h, update(Checkpoint).where(Checkpoint.id == 2).values(reason="periodic"))
    return Expected("checkpoints", says="checkpoint 2: the signature does not match its statement")


def forge_a_signature(h: History) -> Expected:
    with h.engine.read() as session:
        signature = session.get(Checkpoint, 2).signature
    sql(h, update(Checkpoint).where(Checkpoint.id == 2).values(signature=_flip(signature)))
    return Expected("checkpoints", says="checkpoint 2: the signature does not match its statement")


def move_a_root(h: History) -> Expected:
    with h.engine.read() as session:
        root = session.get(Checkpoint, 2).root
    sql(h, update(Checkpoint).where(Checkpoint.id == 2).values(root=_flip(root)))
    return Expected("checkpoints", says="checkpoint 2: the signature does not match its statement")


def delete_a_checkpoint(number: int, says: str) -> Callable[[History], Expected]:
    """Checkpoints chain, so taking out the first or a middle one leaves a break (taking out the latest leaves
    none: only a copy the auditor kept, or fetched when it was signed, shows it existed)."""
    def tamper(h: History) -> Expected:
        sql(h, delete(Checkpoint).where(Checkpoint.id == number))
        return Expected("checkpoints", says=says)
    return tamper


def edit_a_definition(h: History) -> Expected:
    sql(h, update(Definition).where(Definition.key == "consultation").values(
        source=Definition.source + "<!-- the committee may skip the answers -->"))
    return Expected("definitions", says="definition consultation v1: its source differs from the one deployed")


TAMPERINGS = {
    "an event's payload changed": change_a_payload,
    "an event deleted": delete_an_event,
    "two events swapped": swap_two_events,
    "a ballot's choice changed after the close": change_a_ballot,
    "an opinion's text edited": edit_an_opinion,
    "an opinion inserted": insert_an_opinion,
    "a rating deleted": delete_a_rating,
    "a chain rewritten with fresh hashes after a checkpoint": rewrite_a_chain,
    "an instance's stored state changed": change_a_stored_state,
    "a chain rewritten, and the checkpoints' heads with it": rewrite_a_chain_and_the_checkpoints,
    "a history's last event deleted and its head moved back": truncate_a_history,
    "an instance deleted after a checkpoint": delete_an_instance,
    "a checkpoint's signature edited": forge_a_signature,
    "a checkpoint's root edited": move_a_root,
    "a checkpoint's reason edited": change_a_reason,
    "an instance deleted and taken out of the checkpoints": remove_an_instance_from_the_checkpoints,
    "the first checkpoint deleted": delete_a_checkpoint(1, "checkpoint 2 follows another, missing from the bundle"),
    "a checkpoint deleted": delete_a_checkpoint(3, "checkpoint 4 does not follow checkpoint 2"),
    "a definition's source edited": edit_a_definition,
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampering_with_the_database_is_caught_where_it_happened(history: History, tamper: Callable[[History], Expected]) -> None:
    expected = tamper(history)
    for public in (False, True):
        verdict = history.verify(public=public)
        assert not verdict.ok
        assert_first(verdict, expected)


def test_a_definition_rewritten_with_a_fresh_digest_is_caught_by_the_instances_that_ran_on_it(history: History) -> None:
    """The deployed digest is in each instance's first event, under the chain: recomputing the
    definition's own digest does not help (a public bundle withholds that input, so only a full one can tell)."""
    forged = "<!-- the committee may skip the answers -->"
    sql(history, update(Definition).where(Definition.key == "consultation").values(source=Definition.source + forged))
    with history.engine.read() as session:
        definition_id, source = session.execute(select(Definition.id, Definition.source).where(Definition.key == "consultation")).one()
        instance_id = session.scalars(select(Instance.id).where(Instance.definition_id == definition_id)).one()
    sql(history, update(Definition).where(Definition.id == definition_id).values(sha256=hashlib.sha256(source.encode()).hexdigest()))
    assert_first(history.verify(public=False), Expected(
        "definitions", instance=instance_id, seq=1, says="not on the definition the bundle gives it", alone=True))


def _rechain(h: History, instance_id: str) -> int:
    """Recompute every hash of an instance's chain from its salt, as ``engine.audit.sealing.ledger`` does; the head's seq."""
    with h.engine.read() as session:
        salt = session.get(Instance, instance_id).salt
    prev, statements = chain.GENESIS, []
    for event in events(h, instance_id):
        new = chain.hash_of(salt, {**event, "prev_hash": prev})
        statements.append(update(Event).where(Event.id == event["id"]).values(prev_hash=prev, hash=new))
        prev = new
    sql(h, *statements, update(Instance).where(Instance.id == instance_id).values(head_hash=prev))
    return event["seq"]


def _first_signing(h: History, instance_id: str) -> int:
    """The first checkpoint that signed the instance's final head (the bundle proves each head once)."""
    last = events(h, instance_id)[-1]
    with h.engine.read() as session:
        rows = session.scalars(select(Checkpoint).order_by(Checkpoint.id))
        return next(row.id for row in rows if [h.community.id, instance_id, last["seq"], last["hash"]] in row.heads)


def _flip(hex_digits: str) -> str:
    return ("1" if hex_digits[0] == "0" else "0") + hex_digits[1:]


# --- tampering with an exported public bundle ------------------------------------------------------


def event_of(bundle: dict[str, Any], instance_id: str, type: str, nth: int = 0) -> dict[str, Any]:
    (instance,) = [i for i in bundle["instances"] if i["id"] == instance_id]
    return [e for e in instance["events"] if e["type"] == type][nth]


def record_of(bundle: dict[str, Any], kind: str, where: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    (record,) = [r for r in bundle["records"] if r["kind"] == kind and where(r["public"])]
    return record


def forge_a_state_digest(h: History, bundle: dict[str, Any]) -> Expected:
    event = event_of(bundle, h.convention, "amendment_decided")
    event["state_digest"] = _flip(event["state_digest"])
    return Expected("chain", h.convention, event["seq"], says="was altered")


def forge_a_score(h: History, bundle: dict[str, Any]) -> Expected:
    rating = record_of(bundle, "rating", lambda public: public["score"] == 2)
    rating["public"]["score"] = 4
    seq = bound_by(h, h.pdca, "rating", rating["id"])
    return Expected("records", h.pdca, seq, f"rating {rating['id']}", says="its fingerprint differs")


def forge_a_personal_digest(h: History, bundle: dict[str, Any]) -> Expected:
    """An amendment credited to someone else, by someone who found another member's digest."""
    first, second = (r for r in bundle["records"] if r["kind"] == "amendment")
    first["personal_digests"]["author_id"] = second["personal_digests"]["author_id"]
    seq = bound_by(h, h.convention, "amendment", first["id"])
    return Expected("records", h.convention, seq, f"amendment {first['id']}", says="its fingerprint differs")


def drop_a_board(h: History, bundle: dict[str, Any]) -> Expected:
    bundle["boards"] = [b for b in bundle["boards"] if b["vote_id"] != h.vote_id]
    closed = bound_by(h, h.vote, "vote", h.vote_id)
    return Expected("recount", h.vote, closed, f"vote {h.vote_id}", says="the bundle has no bulletin board for it")


def forge_a_ballot(h: History, bundle: dict[str, Any]) -> Expected:
    """The same forgery as in the database, done on the board a bundle publishes."""
    (published,) = [b for b in bundle["boards"] if b["vote_id"] == h.vote_id]
    next(ballot for ballot in published["ballots"] if ballot["choice"] == "yes")["choice"] = "no"
    closed = bound_by(h, h.vote, "vote", h.vote_id)
    return Expected("recount", h.vote, closed, f"vote {h.vote_id}", says="the root over the listed ballots is")


def checkpoint_proving(bundle: dict[str, Any], instance_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first checkpoint of the bundle that proves one of the instance's heads, and that proof."""
    return next((c, p) for c in bundle["checkpoints"] for p in c["heads"] if p["head"][1] == instance_id)


def move_a_head(h: History, bundle: dict[str, Any]) -> Expected:
    """A head's proof pointed at another place in its community's subtree."""
    checkpoint, proof = checkpoint_proving(bundle, h.pdca)
    proof["index"] = (proof["index"] + 1) % checkpoint["community"]["size"]
    seq = proof["head"][2]
    return Expected("checkpoints", h.pdca, seq, says=f"checkpoint {checkpoint['id']}: event {seq} of instance", alone=True)


def forge_a_community_proof(h: History, bundle: dict[str, Any]) -> Expected:
    """The community's subtree claimed one head smaller than it was signed."""
    checkpoint = bundle["checkpoints"][-1]
    checkpoint["community"]["size"] -= 1
    return Expected("checkpoints", says=f"checkpoint {checkpoint['id']}: community {h.community.id}'s", alone=True)


def drop_an_instance(h: History, bundle: dict[str, Any]) -> Expected:
    """The PDCA instance left out of the bundle, with its proofs and its records: each proof still holds,
    but its community's subtree counts one instance more than the bundle proves."""
    (dropped,) = [i for i in bundle["instances"] if i["id"] == h.pdca]
    bound = {(b["kind"], b["id"]) for event in dropped["events"] for b in event["records"]}
    bundle["instances"].remove(dropped)
    bundle["records"] = [r for r in bundle["records"] if (r["kind"], r["id"]) not in bound]
    for checkpoint in bundle["checkpoints"]:
        checkpoint["heads"] = [p for p in checkpoint["heads"] if p["head"][1] != h.pdca]
    first, _ = checkpoint_proving(h.bundle(public=True), h.pdca)
    return Expected("checkpoints", says=f"checkpoint {first['id']} signed", alone=True)


FORGERIES = {
    "an event's state digest": forge_a_state_digest,
    "a record's public field": forge_a_score,
    "a record's personal digest": forge_a_personal_digest,
    "a vote's board left out": drop_a_board,
    "a ballot on a board": forge_a_ballot,
    "a head's place in its community's subtree": move_a_head,
    "a community's proof": forge_a_community_proof,
    "an instance left out": drop_an_instance,
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_public_bundle_is_rejected(history: History, forge: Callable[[History, dict[str, Any]], Expected]) -> None:
    bundle = history.bundle(public=True)
    expected = forge(history, bundle)
    verdict = verify(bundle, trusted_keys=history.trusted_keys)
    assert_first(verdict, expected)


def test_the_latest_checkpoint_deleted_is_caught_by_an_auditor_who_kept_it(history: History, tmp_path: Path) -> None:
    """Deleting the newest checkpoints breaks no chain; only a copy kept outside the deployment shows it.
    The copy is what GET /api/audit/checkpoints returned, given to ``yishi verify-bundle --known-checkpoints``."""
    with history.engine.read() as session:
        kept = [checkpoints.as_dict(row) for row in session.scalars(select(Checkpoint).order_by(Checkpoint.id))]
    sql(history, delete(Checkpoint).where(Checkpoint.id == kept[-1]["id"]))
    bundle, known = tmp_path / "bundle.json", tmp_path / "kept.json"
    bundle.write_text(json.dumps(history.bundle(public=True)))
    known.write_text(json.dumps({"items": kept}))
    assert CliRunner().invoke(main, ["verify-bundle", str(bundle)]).exit_code == 0  # unnoticed without the copy
    result = CliRunner().invoke(main, ["verify-bundle", str(bundle), "--known-checkpoints", str(known)])
    assert result.exit_code == 1
    assert f"checkpoint {kept[-1]['id']}, which you kept, is missing from the bundle" in result.output
