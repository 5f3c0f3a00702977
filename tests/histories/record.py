"""Record the corpus of histories that CI replays: ``python -m tests.histories.record``.

Each history runs on a throwaway SQLite database of its own, with a ManualClock from a fixed
moment and a throwaway signing key, driven by the tests' own helpers; its full audit bundle is
written to ``tests/histories/<name>.json``. The engine's random draws (instance and vote ids,
salts, receipts, ballot ids) come from a generator seeded by the history's name, so recording
again with unchanged code writes the same bytes and a re-recorded file's diff shows exactly the
stored outcomes a change moved. Re-record only on purpose: see README.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import secrets
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from engine.conventions.commands import CommentOnArticle, SupportAmendment, WithdrawAmendment
from engine.kernel.commands import CompleteTask, DeployDefinition, RetryInstance, StartInstance
from engine.pdca.commands import AnswerServiceRequest, EndSeries, FileServiceRequest, RateService
from engine.voting.commands import CastBallot, EnterPaperBallot
from engine.audit.bundles import export
from engine.kernel.clock import ManualClock
from engine.kernel.db import Database
from engine.bootstrap import Engine, EngineConfig
from tests import bpmn_samples as b
from tests.builders import (Series, add_member, close_by_deadline, complete_task, consultation, convention_of, open_drafting, open_vote,
                            pdca_staff, propose_amendment, ready, review_amendments, vote_on_convention)
from tests.helpers import Community, make_community

HERE = Path(__file__).resolve().parent
START = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
"""The tests' own start (their deadlines, e.g. 2026-03-09T18:00, are relative to it)."""
KEY_SEED = hashlib.sha256(b"yishi recorded histories: a throwaway signing key").digest()
"""Published with the corpus on purpose: the key only has to make the bundles' checkpoints verifiable."""


@dataclass
class Recording:
    """One history being recorded: its engine, clock and community."""

    engine: Engine
    clock: ManualClock
    community: Community

    def execute(self, command: Any, who: str) -> Any:
        return self.engine.execute(command, self.community[who])


# --- the histories -----------------------------------------------------------------------------


def record_consultation(r: Recording) -> str:
    """Opinions submitted, edited and withdrawn, the period closed by its deadline timer, answers (one revised)."""
    return consultation(r.engine, r.community, r.clock, close_early=False)


def record_vote(r: Recording) -> str:
    """A secret yes/no vote: online ballots (one changed twice with its receipts), a paper ballot, closed by its deadline."""
    instance_id, vote_id = open_vote(r.engine, r.community)
    r.clock.advance(timedelta(hours=3))
    first = r.execute(CastBallot(vote_id, "yes"), "alice")
    r.execute(CastBallot(vote_id, "no"), "bob")
    r.clock.advance(timedelta(days=1))
    second = r.execute(CastBallot(vote_id, "no", previous_receipt=first.receipt), "alice")
    r.execute(EnterPaperBallot(vote_id, r.community["carol"].member_id, "yes"), "clerk")
    r.clock.advance(timedelta(days=2))
    r.execute(CastBallot(vote_id, "abstain", previous_receipt=second.receipt), "alice")
    r.execute(CastBallot(vote_id, "yes"), "chair")
    close_by_deadline(r.engine, r.clock, instance_id)
    return instance_id


def record_schulze_vote(r: Recording) -> str:
    """A public ranked (Schulze) vote, closed by the engine's ``all_voted`` message when the last ballot is in."""
    options = [{"id": "gate", "label": "By the gate"}, {"id": "yard", "label": "In the yard"}, {"id": "roof", "label": "On the roof"}]
    instance_id, vote_id = open_vote(r.engine, r.community, title="Where the shed goes", question="Rank the places",
                                     method="schulze", options=options, secret=False, close_when_all_voted=True)
    rankings = {"alice": ["gate", "yard"], "bob": ["yard", "gate", "roof"], "carol": ["gate", "roof", "yard"], "chair": ["roof"]}
    for who, ranking in rankings.items():
        r.clock.advance(timedelta(hours=7))
        r.execute(CastBallot(vote_id, ranking), who)
    return instance_id


def record_owners_vote(r: Recording) -> str:
    """An owners' vote weighted by floor area under the Civil Code art. 278 preset, closed early by the chair."""
    for name, household, area in (("wang", "1-101", "86.35"), ("li", "1-102", "120.50"), ("zhao", "2-201", "64.00")):
        r.community.actors[name] = add_member(r.engine, r.community, name, ["owner"], household=household, area=area)
    instance_id, vote_id = open_vote(r.engine, r.community, title="Repaint the facade", question="Repaint the facade?",
                                     electorate="owners", rule={"preset": "civil_code_278"})
    for who, choice in (("wang", "yes"), ("li", "yes"), ("zhao", "no")):
        r.clock.advance(timedelta(hours=2))
        r.execute(CastBallot(vote_id, choice), who)
    r.execute(CompleteTask(ready(r.engine, instance_id)["voting"], {"reason": "Every owner has voted."}), "chair")
    return instance_id


def record_convention(r: Recording) -> str:
    """A first draft, amendments (supported, withdrawn, decided three ways), a comment, the adoption vote, adoption."""
    engine, community = r.engine, r.community
    instance_id = open_drafting(engine, community)
    convention_id = convention_of(engine, instance_id)
    r.clock.advance(timedelta(hours=4))
    reworded = propose_amendment(engine, community, convention_id, "alice", "replace", "a1", "晚上十一点后禁止喧哗。")
    r.execute(SupportAmendment(reworded.id), "bob")
    preamble = propose_amendment(engine, community, convention_id, "bob", "insert", text="本公约由全体居民共同制定。")
    refused = propose_amendment(engine, community, convention_id, "carol", "replace", "a3", "猫也须拴绳。")
    dropped = propose_amendment(engine, community, convention_id, "carol", "delete", "a2")
    r.execute(WithdrawAmendment(dropped.id), "carol")
    r.execute(CommentOnArticle(convention_id, 1, "a2", "Prams too?"), "alice")
    r.clock.advance(timedelta(days=1))
    review_amendments(engine, community, instance_id, [
        (reworded, "accepted_with_changes", "晚上十点半后禁止喧哗。"), (preamble, "accepted", None), (refused, "rejected", None)])
    vote_on_convention(engine, r.clock, community, instance_id, {"alice": "yes", "bob": "yes", "carol": "no"})
    complete_task(engine, community, instance_id, "publish_convention", {"effective_date": r.clock.now().date().isoformat()})
    return instance_id


def record_pdca(r: Recording) -> str:
    """Three quality cycles, each continued as new: one missed (a request answered, corrective actions), one
    closed by its timers, the last one after the committee ended the series."""
    series = Series(r.engine, r.community, pdca_staff(r.engine, r.community), r.clock).define()
    series.serve(hours=(4, 12, 30))
    request = r.execute(FileServiceRequest(series.cycle_id, "complaint", "The tap drips again."), "carol")
    r.engine.execute(AnswerServiceRequest(request.id, "A plumber comes on Tuesday."), series.provider)
    series.rate({"alice": 5, "bob": 4, "carol": 2, "chair": 5})
    series.act()
    series.serve(residents=("alice", "bob"), hours=(3, 6))
    close_by_deadline(r.engine, r.clock, series.instance_id)  # the service period's end
    for who, score in (("alice", 4), ("bob", 5)):
        r.execute(RateService(series.cycle_id, score, "Quick and tidy."), who)
    close_by_deadline(r.engine, r.clock, series.instance_id)  # the rating window's end
    r.execute(EndSeries(series.instance()["data"]["cycle"]["series_id"], "The repairs contract ends."), "chair")
    series.rate({})
    return series.instance_id


def record_retried(r: Recording) -> str:
    """A script fails on bad data; a bare retry fails again; a retry with the admin's correction goes on."""
    r.engine.execute(DeployDefinition("fragile.bpmn", b.linear(
        "fragile", b.user_task("review"), b.script_task("count", "total = len(items) + 1"), b.user_task("after"))), r.community["admin"])
    instance_id = r.execute(StartInstance("fragile", {"items": None}), "chair").id
    for command in (CompleteTask(ready(r.engine, instance_id)["review"]), RetryInstance(instance_id),
                    RetryInstance(instance_id, {"items": [1, 2]})):
        r.clock.advance(timedelta(minutes=10))
        r.execute(command, "admin" if isinstance(command, RetryInstance) else "chair")
    r.execute(CompleteTask(ready(r.engine, instance_id)["after"], {}), "chair")
    return instance_id


HISTORIES: dict[str, Callable[[Recording], str]] = {
    "consultation": record_consultation,
    "vote": record_vote,
    "vote_schulze": record_schulze_vote,
    "vote_owners": record_owners_vote,
    "convention": record_convention,
    "pdca": record_pdca,
    "retried": record_retried,
}
"""File name → how to drive the history; each returns its instance id."""


# --- recording ---------------------------------------------------------------------------------


def record(name: str) -> dict[str, Any]:
    """Drive one history on a fresh database and return its full audit bundle."""
    with tempfile.TemporaryDirectory() as tmp, _seeded(name):
        key = Path(tmp) / "audit-key.pem"
        key.write_bytes(Ed25519PrivateKey.from_private_bytes(KEY_SEED).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        db = Database(f"sqlite:///{tmp}/yishi.sqlite3")
        db.migrate()
        clock = ManualClock(START)
        engine = Engine(db, clock, EngineConfig(audit_key=key))
        try:
            engine.deploy_bundled()
            recording = Recording(engine, clock, make_community(engine, "harmony"))
            instance_id = HISTORIES[name](recording)
            return _bundle(recording, instance_id)
        finally:
            db.dispose()


def _bundle(r: Recording, instance_id: str) -> dict[str, Any]:
    """Sign the final heads, so the bundle's last checkpoint covers the whole history, and export it."""
    r.clock.advance(timedelta(minutes=1))
    r.engine.checkpoint("recorded")
    signer = r.engine.signer
    assert signer is not None
    with r.engine.read() as session:
        return export(session, r.community.id, instance_id=instance_id, now=r.clock.now(),
                      public_keys={signer.key_id: signer.public_pem})


@contextmanager
def _seeded(name: str) -> Iterator[None]:
    """The engine's random draws from a generator seeded by the history's name (see the module's docstring)."""
    rng = random.Random(name)
    with (mock.patch.object(uuid, "uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4)),
          mock.patch.object(secrets, "token_hex", lambda n=32: rng.randbytes(n).hex()),
          mock.patch.object(secrets, "token_urlsafe", lambda n=32: base64.urlsafe_b64encode(rng.randbytes(n)).rstrip(b"=").decode())):
        yield


def write(name: str, bundle: dict[str, Any]) -> Path:
    """Indented for reviewable diffs; keys stay in the stored order, not sorted, because replay today depends
    on the key order of recorded inputs (see test_a_bundle_whose_keys_were_sorted_still_replays)."""
    path = HERE / f"{name}.json"
    path.write_text(json.dumps(bundle, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def main(names: list[str]) -> None:
    for name in names or HISTORIES:
        path = write(name, record(name))
        (instance,) = json.loads(path.read_text(encoding="utf-8"))["instances"]
        print(f"{path.name}: {len(instance['events'])} events, {instance['status']}, {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main(sys.argv[1:])
