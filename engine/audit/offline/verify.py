"""Verify an audit bundle: every check an auditor needs, with no database and no server.

The checks, each naming what and where it failed:

- **definitions**: each source still has the digest it was deployed with;
- **chain**: per instance, sequence numbers 1…n without gaps, each event's hash recomputed from
  its content and linked to the one before, the last one the instance's head and its stored state;
- **replay** (full bundles): the recorded commands re-applied from nothing reproduce the recorded
  state digest after every event;
- **records**: each record's latest binding in the history matches the record (a record bound as
  deleted must be absent; one never bound is reported);
- **recount**: each closed vote has its board, whose ballots give the bound Merkle root and recount
  to the bound result; an encrypted vote's board (``encrypted_recount``) carries the bound root, result and rules,
  and every proof on it holds (a vote still decrypting is noted, not failed);
- **ballots**: each vote's ballot box agrees with the history — as many ballots as participations
  as first-ballot events, as many changes counted as change events (and as replaced fingerprints),
  none replaced still on the board; in a full bundle, each participation matches its voter's
  events, and the frozen electorate gives the digest its vote record was bound with;
- **checkpoints**: each is signed by a known key, chained to the one before (the first to none:
  a checkpoint missing from the start of the chain is reported too), its proofs lead from
  this bundle's heads to its signed root — in format 2 through the community's subtree, whose
  size must match the instances the bundle proves — and the histories still hold those heads.

The API runs the same function on a bundle exported from the database. A bundle the checks cannot
read (a field missing or of the wrong type) is refused with ``InvalidInput`` naming each field at
fault, by the JSON Schema in ``engine.audit.offline.bundle_schema`` — consulted only then, so a
well-formed history of a hundred thousand events does not pay for validating its shape twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cached_property
from types import SimpleNamespace
from typing import Any

from engine.audit.offline import bundle_schema
from engine.audit.offline import encrypted_recount
from engine.audit.offline.ballot_boxes import CHANGED_BALLOTS, FIRST_BALLOTS, BallotBox
from engine.audit.sealing import chain
from engine.audit.sealing import checkpoints
from engine.audit.sealing import merkle
from engine.audit.sealing import records
from engine.audit.offline.bundle_schema import BUNDLE_FORMAT, latest_bindings
from engine.kernel.replay import replay_events
from engine.voting.counting import board
from engine.voting.counting.board import electorate_summary, tally_config


@dataclass(frozen=True)
class Problem:
    check: str
    message: str
    instance: str | None = None
    seq: int | None = None
    record: str | None = None


@dataclass
class Verdict:
    ok: bool = True
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    key_ids: list[str] = field(default_factory=list)
    """The keys the checkpoints were signed with: compare them with the key the deployment publishes."""
    notes: list[str] = field(default_factory=list)
    """What the auditor should know and is no failure (an encrypted vote whose trustees are still decrypting)."""

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "counts": self.counts, "first_problem": asdict(self.first) if self.first else None,
                "problems": [asdict(p) for p in self.problems], "key_ids": self.key_ids, "notes": self.notes}


def verify(
    bundle: dict[str, Any], *, replay: bool = True, trusted_keys: dict[str, str] | None = None,
    known_checkpoints: list[dict[str, Any]] | None = None,
) -> Verdict:
    """Run every check; ``trusted_keys`` pins the signing keys instead of trusting the bundle's own.

    ``known_checkpoints`` are checkpoints the auditor kept from earlier (``GET /api/audit/checkpoints``):
    each must still be in the bundle, unchanged. Without them, deleting the latest checkpoints would
    leave a rewrite of what they signed unnoticed: the chain of checkpoints breaks only in the middle.
    """
    verdict = Verdict()
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        verdict.problems.append(Problem("bundle", f"not an audit bundle of format {BUNDLE_FORMAT}"))
        verdict.ok = False
        return verdict
    try:
        check = Check(bundle, verdict, replay and not bundle.get("public"), trusted_keys)
        check.run()
        check.still_holds(known_checkpoints or [])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        bundle_schema.check(bundle)  # a malformed bundle: refused with InvalidInput, naming each field at fault
        raise  # a well-formed one: our bug, not the auditor's
    verdict.ok = not verdict.problems
    return verdict


class Check:
    def __init__(self, bundle: dict[str, Any], verdict: Verdict, replay: bool, trusted_keys: dict[str, str] | None) -> None:
        self.bundle, self.verdict, self.replay = bundle, verdict, replay
        self.keys = trusted_keys if trusted_keys is not None else bundle.get("public_keys", {})
        self.instances = {i["id"]: i for i in bundle["instances"]}
        self.definitions = {d["id"]: d for d in bundle["definitions"]}

    def run(self) -> None:
        self.definitions_unchanged()
        for instance in self.bundle["instances"]:
            self.chain(instance)
            self.started_on_its_definition(instance)
            if self.replay:
                self.replayed(instance)
        self.records()
        self.recounts()
        encrypted_recount.check(self)
        self.ballot_boxes()
        self.checkpoints()

    def problem(self, check: str, message: str, **where: Any) -> None:
        self.verdict.problems.append(Problem(check, message, **where))

    def note(self, message: str) -> None:
        self.verdict.notes.append(message)

    def count(self, what: str, n: int = 1) -> None:
        self.verdict.counts[what] = self.verdict.counts.get(what, 0) + n

    # ---- definitions ---------------------------------------------------------------------------

    def definitions_unchanged(self) -> None:
        for d in self.bundle["definitions"]:
            self.count("definitions")
            if hashlib.sha256(d["source"].encode()).hexdigest() != d["sha256"]:
                self.problem("definitions", f"definition {d['key']} v{d['version']}: its source differs from the one deployed (sha256 {d['sha256'][:12]}…)")

    # ---- chain -----------------------------------------------------------------------------------

    def chain(self, instance: dict[str, Any]) -> None:
        where = instance["id"]
        prev, expected_seq = chain.GENESIS, 1
        for event in instance["events"]:
            self.count("events")
            seq = event["seq"]
            if seq != expected_seq:
                what = f"missing (the sequence jumps from {expected_seq - 1} to {seq})" if seq > expected_seq else f"out of order (seq {seq} after {expected_seq - 1})"
                self.problem("chain", f"event {expected_seq} of instance {where} is {what}", instance=where, seq=expected_seq)
                return
            if event["prev_hash"] != prev:
                self.problem("chain", f"event {seq} of instance {where} does not follow event {seq - 1}: its previous hash differs", instance=where, seq=seq)
                return
            if self._hash(instance, event) != event["hash"]:
                self.problem("chain", f"event {seq} ({event['type']}) of instance {where} was altered: its hash does not match its content", instance=where, seq=seq)
                return
            prev, expected_seq = event["hash"], seq + 1
        if instance["last_seq"] != expected_seq - 1 or instance["head_hash"] != prev:
            self.problem("chain", f"instance {where} says its history ends at event {instance['last_seq']}, "
                                  f"the chain ends at event {expected_seq - 1} with another head", instance=where, seq=expected_seq - 1)
        elif instance["events"] and instance["state_digest"] != instance["events"][-1]["state_digest"]:
            self.problem("chain", f"instance {where}: its stored state is not the one event {expected_seq - 1}, its last, recorded",
                         instance=where, seq=expected_seq - 1)

    def _hash(self, instance: dict[str, Any], event: dict[str, Any]) -> str:
        if "salt" in instance:
            actor = chain.actor_digest(instance["salt"], event["seq"], event["actor_id"])
            details = chain.details_digest(instance["salt"], event["seq"], event["input"], event["error"], event["services"])
        else:
            actor, details = event["actor_digest"], event["details_digest"]
        return chain.event_hash(
            instance_id=instance["id"], seq=event["seq"], type=event["type"], at=event["at"], disposition=event["disposition"],
            actor=actor, details=details, state_digest=event["state_digest"], records=event["records"], prev=event["prev_hash"])

    def started_on_its_definition(self, instance: dict[str, Any]) -> None:
        """The chain's first event names the definition (by digest) and the time zone the instance
        runs on; the bundle's instance must say the same (a public bundle withholds that input)."""
        first = instance["events"][0] if instance["events"] else None
        if first is None or first["type"] != "instance_started" or "input" not in first:
            return
        started, definition = first["input"], self.definitions.get(instance["definition_id"], {})
        ran_on = (started.get("definition"), started.get("version"), started.get("sha256"))
        if ran_on != (definition.get("key"), definition.get("version"), definition.get("sha256")):
            self.problem("definitions", f"event 1 of instance {instance['id']} started it on {ran_on[0]} v{ran_on[1]} "
                                        f"(sha256 {str(ran_on[2])[:12]}…), not on the definition the bundle gives it", instance=instance["id"], seq=1)
        elif started.get("timezone") != instance["timezone"]:
            self.problem("definitions", f"event 1 of instance {instance['id']} started it in the time zone {started.get('timezone')}, "
                                        f"the bundle says {instance['timezone']}", instance=instance["id"], seq=1)

    # ---- replay ----------------------------------------------------------------------------------

    def replayed(self, instance: dict[str, Any]) -> None:
        definition = self.definitions.get(instance["definition_id"])
        if definition is None or "spec" not in definition:
            self.problem("replay", f"instance {instance['id']}: its definition is not in the bundle", instance=instance["id"])
            return
        events = [SimpleNamespace(**{**e, "at": datetime.fromisoformat(e["at"])}) for e in instance["events"]]
        report = replay_events(json.loads(definition["spec"]), instance["id"], instance["timezone"], events)
        self.count("replayed events", len(report.digests))
        for mismatch in report.mismatches[:1]:
            reason = f" ({mismatch.error})" if mismatch.error else ""
            self.problem("replay", f"replaying instance {instance['id']} gives another state after event {mismatch.seq} "
                                   f"({mismatch.event_type}){reason}", instance=instance["id"], seq=mismatch.seq)

    # ---- records ---------------------------------------------------------------------------------

    def records(self) -> None:
        latest = self.latest_bindings
        present = {(r["kind"], r["id"]): r for r in self.bundle["records"]}
        for key, (instance, seq, binding) in sorted(latest.items()):
            self.count("records")
            name = f"{key[0]} {key[1]}"
            record = present.get(key)
            if binding["fingerprint"] is None:
                if record is not None:
                    self.problem("records", f"{name} was deleted by event {seq} of instance {instance}, yet it exists", instance=instance, seq=seq, record=name)
            elif record is None:
                self.problem("records", f"{name}, written by event {seq} of instance {instance}, is missing", instance=instance, seq=seq, record=name)
            elif self._fingerprint(record, self.instances[instance]) != binding["fingerprint"]:
                self.problem("records", f"{name} was changed after event {seq} of instance {instance} wrote it: its fingerprint differs", instance=instance, seq=seq, record=name)
        for key in sorted(present.keys() - latest.keys()):
            self.problem("records", f"{key[0]} {key[1]} was not written by any event of the history", record=f"{key[0]} {key[1]}")

    @cached_property
    def latest_bindings(self) -> dict[tuple[str, str], tuple[str, int, dict[str, Any]]]:
        """(kind, id) → the instance, seq and binding of the last event that wrote the record."""
        return latest_bindings({instance["id"]: instance["events"] for instance in self.bundle["instances"]})

    @staticmethod
    def _fingerprint(record: dict[str, Any], instance: dict[str, Any]) -> str:
        if "personal" in record and "salt" in instance:
            digests = records.personal_digests(instance["salt"], record["kind"], record["id"], record["personal"])
        else:
            digests = record.get("personal_digests", {})
        return records.fingerprint(record["kind"], record["id"], record["public"], digests)

    # ---- recounts --------------------------------------------------------------------------------

    def recounts(self) -> None:
        """Every closed vote has its board (a board dropped from the bundle hides nothing), and every board recounts."""
        votes = {r["id"]: r["public"] for r in self.bundle["records"] if r["kind"] == "vote"}
        boards = {b["vote_id"]: b for b in self.bundle.get("boards", [])}
        closed = {vote_id for vote_id, vote in votes.items()
                  if vote["status"] == "closed" and vote.get("secrecy") != encrypted_recount.ENCRYPTED}
        for vote_id in sorted(closed | boards.keys()):
            self.count("recounts")
            self._recount(vote_id, votes.get(vote_id), boards.get(vote_id))

    def _recount(self, vote_id: str, vote: dict[str, Any] | None, published: dict[str, Any] | None) -> None:
        name = f"vote {vote_id}"
        if vote is None:
            self.problem("recount", f"{name}: the bundle has its board but not its record", record=name)
            return
        instance, seq, _ = self.latest_bindings.get(("vote", vote_id), (vote["instance_id"], None, None))
        where = {"instance": instance, "seq": seq, "record": name}
        closed_by = f"{name}, closed by event {seq} of instance {instance}"
        if published is None:
            self.problem("recount", f"{closed_by}: the bundle has no bulletin board for it", **where)
            return
        row = SimpleNamespace(**vote)
        document = board.document(tally_config(row), electorate_summary(row), published["ballots"], vote["result"])
        document["root"] = vote["board_root"]
        for problem in board.verify(document).problems:
            self.problem("recount", f"{closed_by}: {problem}", **where)

    # ---- ballot boxes ----------------------------------------------------------------------------

    def ballot_boxes(self) -> None:
        votes = {r["id"]: r["public"] for r in self.bundle["records"] if r["kind"] == "vote"}
        boards = {b["vote_id"]: b for b in self.bundle.get("boards", [])}
        boxes = self.bundle.get("ballot_boxes", [])
        for box in boxes:
            self.count("ballot boxes")
            BallotBox(self, box, votes.get(box["vote_id"]), boards.get(box["vote_id"])).check()
        if self.bundle.get("public"):
            self._public_ballot_events(boxes)

    def _public_ballot_events(self, boxes: list[dict[str, Any]]) -> None:
        """A public bundle withholds the events' inputs, so which vote an event was for: the counts
        are held per instance, over all of its votes."""
        for instance_id in sorted({box["instance_id"] for box in boxes}):
            events = self.instances.get(instance_id, {}).get("events", [])
            held = [box for box in boxes if box["instance_id"] == instance_id]
            for kinds, what, stored in ((FIRST_BALLOTS, "first ballots", "turnout"), (CHANGED_BALLOTS, "changed ballots", "changes")):
                recorded = sum(1 for e in events if e["type"] in kinds)
                counted = sum(box[stored] for box in held)
                if recorded != counted:
                    self.problem("ballots", f"instance {instance_id}: the history records {recorded} {what}, "
                                            f"its votes' rows count {counted}", instance=instance_id)

    # ---- checkpoints -----------------------------------------------------------------------------

    def checkpoints(self) -> None:
        self.verdict.key_ids = sorted({c["key_id"] for c in self.bundle.get("checkpoints", [])})
        previous: dict[str, Any] | None = None
        counted: set[str] = set()
        for checkpoint in self.bundle.get("checkpoints", []):
            self.count("checkpoints")
            self._signed(checkpoint)
            if previous is None and checkpoint["previous"] != chain.GENESIS:
                self.problem("checkpoints", f"checkpoint {checkpoint['id']} follows another, missing from the bundle")
            elif previous is not None and checkpoint["previous"] != checkpoints.statement_hash(previous):
                self.problem("checkpoints", f"checkpoint {checkpoint['id']} does not follow checkpoint {previous['id']}")
            if checkpoint.get("format", checkpoints.FORMAT_V1) == checkpoints.FORMAT_V1:
                for proof in checkpoint["heads"]:
                    self._head(checkpoint, proof, checkpoint["size"], checkpoint["root"])
            else:
                self._community(checkpoint, counted)
            previous = checkpoint

    def still_holds(self, known: list[dict[str, Any]]) -> None:
        held = {c["id"]: checkpoints.statement_hash(c) for c in self.bundle.get("checkpoints", [])}
        for checkpoint in known:
            self.count("known checkpoints")
            if checkpoint["id"] not in held:
                self.problem("checkpoints", f"checkpoint {checkpoint['id']}, which you kept, is missing from the bundle: "
                                            "what it signed may have been rewritten since")
            elif held[checkpoint["id"]] != checkpoints.statement_hash(checkpoint):
                self.problem("checkpoints", f"checkpoint {checkpoint['id']} in the bundle is not the one you kept")

    def _signed(self, checkpoint: dict[str, Any]) -> None:
        key = self.keys.get(checkpoint["key_id"])
        if key is None:
            self.problem("checkpoints", f"checkpoint {checkpoint['id']} is signed by an unknown key {checkpoint['key_id'][:16]}…")
        elif not checkpoints.signature_valid(checkpoint, key):
            self.problem("checkpoints", f"checkpoint {checkpoint['id']}: the signature does not match its statement")

    def _community(self, checkpoint: dict[str, Any], counted: set[str]) -> None:
        """Format 2: the community's subtree is under the signed root, each head under the subtree's root,
        and (a whole community's bundle) its instances proven so far are as many as the subtree signs.

        Heads are proven where they moved, so ``counted`` carries the instances proven by earlier
        checkpoints; none leaves a checkpoint, so an instance dropped from the bundle leaves one short."""
        community, name = checkpoint.get("community"), f"checkpoint {checkpoint['id']}"
        if community is None:
            if checkpoint["heads"] or counted:
                self.problem("checkpoints", f"{name} carries no proof of the community's subtree")
            return
        leaf = checkpoints.community_leaf(community["id"], community["size"], community["root"], community["nonce"])
        if merkle.root_from_sparse_path(leaf, community["id"], community["path"], checkpoints.TOP_DEPTH) != checkpoint["root"]:
            self.problem("checkpoints", f"{name}: community {community['id']}'s {community['size']} heads, as a whole, are not under its signed root")
            return
        for proof in checkpoint["heads"]:
            if proof["head"][0] != community["id"]:
                self.problem("checkpoints", f"{name}: instance {proof['head'][1]} is not community {community['id']}'s", instance=proof["head"][1])
            elif self._head(checkpoint, proof, community["size"], community["root"]):
                counted.add(proof["head"][1])
        if self.bundle.get("scope", {}).get("instance") is None and len(counted) != community["size"]:
            self.problem("checkpoints", f"{name} signed {community['size']} instances of community {community['id']}; "
                                        f"the bundle proves {len(counted)}: an instance is missing from it")

    def _head(self, checkpoint: dict[str, Any], proof: dict[str, Any], size: int, root: str) -> bool:
        """One head under ``root`` (a tree of ``size`` leaves), and still in its history: whether it was under the root."""
        _, instance_id, seq, head = proof["head"]
        if merkle.root_from_path(merkle.leaf_hash(proof["head"]), proof["index"], size, proof["path"]) != root:
            self.problem("checkpoints", f"checkpoint {checkpoint['id']}: event {seq} of instance {instance_id}, as a head, is not under its signed root",
                         instance=instance_id, seq=seq)
            return False
        held = self._hash_at(instance_id, seq)
        if held != head:
            what = "no longer has that event" if held is None else "has another hash there: the history was rewritten"
            self.problem("checkpoints", f"checkpoint {checkpoint['id']} signed event {seq} of instance {instance_id} as {head[:12]}…; "
                                        f"the history {what}", instance=instance_id, seq=seq)
        return True

    def _hash_at(self, instance_id: str, seq: int) -> str | None:
        """The hash of an instance's event by its seq: by position when nothing before it is missing, else by search
        (an event deleted earlier in the chain must not make a later, intact head look gone)."""
        instance = self.instances.get(instance_id)
        events = instance["events"] if instance else []
        if 0 < seq <= len(events) and events[seq - 1]["seq"] == seq:
            return events[seq - 1]["hash"]
        return next((event["hash"] for event in events if event["seq"] == seq), None)
