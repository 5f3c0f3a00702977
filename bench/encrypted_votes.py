"""Encrypted yes/no/abstain votes for the benchmarks: a keyed vote of N residents without a live ceremony, and
its voters' ballots made once and kept.

The trustees (three members, k = 2) run the real ceremony through the engine's commands, with polynomials drawn
from a seeded generator, and every vote's id is derived from the benchmark's seed: so the election (its key, its
fingerprint) is the same from one run to the next, and so are the voters' credentials and ballots, which are
made in parallel once and cached in ``var/bench/`` under a hash of everything they depend on. Encrypting is the
voter's device's cost, not the server's: the benchmarks make the ballots before the load.

A benchmark's set-up, not a test; the secrets here are deterministic on purpose (never do this in a vote).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

from sqlalchemy import insert, select

from engine.bootstrap import Engine
from engine.identity import actors
from engine.identity import members as identity_members
from engine.identity.models import ApiToken, Member
from engine.kernel.commands import CompleteTask, StartInstance
from engine.kernel.db import Database
from engine.kernel.models import HumanTask
from engine.kernel.unit_of_work import UnitOfWork
from engine.voting import operations
from engine.voting.commands import PublishDealing, PublishEnvelopes, PublishKeyShare
from engine.voting.encryption import encoding, envelopes
from engine.voting.encryption import trustees as et
from engine.voting.encryption.ballots import Election, encrypt_ballot, make_election
from engine.voting.encryption.group import L, Scalar, base_mul
from engine.voting.models import Ceremony, ElectorateEntry, Vote, VoterCredential

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench"
GENERATION = "yishi-bench-ballots/1"
"""Part of every cache key: change it when the way ballots are made changes."""
SEED = "yishi-bench-encrypted/1"
CHOICES = ("yes", "no", "abstain")
TRUSTEES, THRESHOLD = 3, 2


def scalar_from(*parts: Any) -> Scalar:
    """A deterministic non-zero scalar from the seed and ``parts`` (SHA-512, reduced mod ℓ)."""
    digest = hashlib.sha512("\0".join(map(str, (SEED, *parts))).encode()).digest()
    return Scalar(int.from_bytes(digest, "little") % (L - 1) + 1)


def seeded(*parts: Any) -> Callable[[], Scalar]:
    """A deterministic stream of scalars, for the trustees' polynomials and proofs."""
    counter = iter(range(1 << 62))
    return lambda: scalar_from(*parts, next(counter))


def vote_id_for(label: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{SEED}/{label}"))


def credential_secret(vote_id: str, i: int) -> Scalar:
    return scalar_from("credential", vote_id, i)


def choice_of(vote_id: str, i: int) -> str:
    return CHOICES[hashlib.sha256(f"{SEED}/choice/{vote_id}/{i}".encode()).digest()[0] % 3]


# ---- the trustees' public data, computed as their devices compute it ------------------------------

@dataclass
class Trustees:
    vote_id: str
    dealt: list[tuple[list[Scalar], et.Dealing, dict[int, Scalar]]]
    secrets: dict[int, Scalar]
    shares: list[et.KeyShare]
    election: Election


def trustees_of(vote_id: str) -> Trustees:
    dealt = [et.deal(vote_id, j, THRESHOLD, TRUSTEES, rng=seeded("deal", vote_id, j)) for j in range(1, TRUSTEES + 1)]
    secret_keys, shares = {}, []
    for j in range(1, TRUSTEES + 1):
        secret_keys[j], share = et.key_share(vote_id, j, [s[j] for _, _, s in dealt], rng=seeded("share", vote_id, j))
        shares.append(share)
    election = make_election(vote_id, et.election_key([d for _, d, _ in dealt]), "yes_no_abstain", [], THRESHOLD,
                             [s.key for s in shares])
    return Trustees(vote_id, dealt, secret_keys, shares, election)


# ---- ballots, made in parallel once and cached ------------------------------------------------------

def _make(job: tuple[dict[str, Any], list[int]]) -> list[str]:
    descriptor, indexes = job
    election = Election.from_json(descriptor)
    return [json.dumps({"i": i, "choice": choice_of(election.vote, i),
                        "ballot": encrypt_ballot(election, credential_secret(election.vote, i),
                                                 choice_of(election.vote, i))[0].to_json()},
                       separators=(",", ":")) for i in indexes]


def ballots_for(election: Election, voters: Sequence[int], processes: int = os.cpu_count() or 1,
                say: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """These voters' ballots ({i, choice, ballot}, in the order given), from the cache or made on ``processes``."""
    voters = list(voters)
    key = hashlib.sha256(json.dumps([GENERATION, SEED, election.descriptor(), voters]).encode()).hexdigest()[:24]
    path = CACHE / f"encrypted-ballots-{key}.jsonl"
    if path.exists():
        with path.open() as lines:
            return [json.loads(line) for line in lines]
    started = time.perf_counter()
    chunk = 250
    jobs = [(election.descriptor(), voters[start:start + chunk]) for start in range(0, len(voters), chunk)]
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    with get_context("fork").Pool(processes) as pool, partial.open("w") as out:
        for done, lines in enumerate(pool.imap(_make, jobs), 1):
            out.write("\n".join(lines) + "\n")
            if done % 40 == 0:
                say(f"    made {done * chunk:,} of {len(voters):,} ballots ({time.perf_counter() - started:.0f} s)")
    partial.rename(path)
    say(f"    made {len(voters):,} ballots in {time.perf_counter() - started:.1f} s on {processes} processes ({path.name})")
    return ballots_for(election, voters, processes, say)


# ---- the vote in a database -------------------------------------------------------------------

@dataclass
class EncryptedVote:
    vote_id: str
    instance_id: str
    trustees: Trustees
    trustee_actors: list[actors.Actor]


@dataclass
class Community:
    engine: Engine
    chair: actors.Actor
    voters: list[int]
    """Member ids of the N residents, in order: voter i is ``voters[i]``."""
    tokens: list[str]
    trustees: list[actors.Actor]


def community(url: str, size: int, with_tokens: bool) -> Community:
    """A fresh database: the schema, the bundled processes, a chair and two more trustees, N residents (bulk
    inserts), each with an API token when asked."""
    db = Database(url)
    db.migrate()
    engine = Engine(db)
    engine.deploy_bundled()
    with UnitOfWork(db, engine.clock) as uow:
        found = identity_members.create_community(uow.session, "bench", "Bench community", "Asia/Shanghai", uow.now)
        officers = [identity_members.add_member(uow.session, found, name, ["committee"], uow.now)
                    for name in ("chair", "clerk", "auditor")]
        uow.session.flush()
        trustees, community_id = [actors.actor_for(m) for m in officers], found.id
        uow.commit()
    now = engine.clock.now()
    with db.engine.begin() as conn:
        conn.execute(insert(Member.__table__), [
            {"community_id": community_id, "name": f"voter {i:06d}", "roles": ["resident"], "household": None,
             "area": None, "created_at": now} for i in range(size)])
        voters = list(conn.scalars(select(Member.id).where(Member.community_id == community_id,
                                                          Member.name.like("voter %"))
                                   .order_by(Member.id)))
        tokens = [actors.TOKEN_PREFIX + secrets.token_urlsafe(32) for _ in voters] if with_tokens else []
        if with_tokens:
            conn.execute(insert(ApiToken.__table__), [
                {"member_id": member_id, "token_hash": actors.hash_token(token), "label": "bench", "created_at": now,
                 "revoked_at": None} for member_id, token in zip(voters, tokens, strict=True)])
    assert len(voters) == size
    return Community(engine, trustees[0], voters, tokens, trustees)


@contextmanager
def _vote_id(vote_id: str) -> Iterator[None]:
    """The engine names a vote by a random UUID; the benchmark's votes have fixed ids so that their ballots keep."""
    with mock.patch.object(operations, "uuid", SimpleNamespace(uuid4=lambda: uuid.UUID(vote_id))):
        yield


def open_encrypted_vote(place: Community, label: str, size: int) -> EncryptedVote:
    """An encrypted secret yes/no/abstain vote of the residents, opened through the engine, keyed by the real
    ceremony's commands (dealings, envelopes, key shares) with the seeded trustees' data."""
    engine, chair = place.engine, place.chair
    vote_id = vote_id_for(label)
    instance = engine.execute(StartInstance("vote"), chair)
    with engine.read() as session:
        task_id = session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance.id, HumanTask.element_id == "configure_vote", HumanTask.state == "READY"))
    config = {"title": label, "question": "Repaint the courtyard fence?", "method": "yes_no_abstain", "rule": {},
              "secret": True, "electorate": "residents",
              "deadline": (engine.clock.now() + timedelta(days=30)).isoformat(),
              "encryption": {"trustees": [t.member_id for t in place.trustees], "threshold": THRESHOLD}}
    with _vote_id(vote_id):
        engine.execute(CompleteTask(task_id, {"vote": config}), chair)
    keyed = trustees_of(vote_id)
    envelope_secrets = {j: scalar_from("envelope", vote_id, j) for j in range(1, TRUSTEES + 1)}
    for j, (_, dealing, _) in enumerate(keyed.dealt, 1):
        engine.execute(PublishDealing(vote_id, dealing.to_json(), encoding.hx(base_mul(envelope_secrets[j]))),
                       place.trustees[j - 1])
    for j, (_, _, shares) in enumerate(keyed.dealt, 1):
        sealed = {str(i): envelopes.seal(vote_id, j, i, base_mul(envelope_secrets[i]), shares[i])
                  for i in range(1, TRUSTEES + 1) if i != j}
        engine.execute(PublishEnvelopes(vote_id, sealed), place.trustees[j - 1])
    for j, share in enumerate(keyed.shares, 1):
        engine.execute(PublishKeyShare(vote_id, share.to_json()), place.trustees[j - 1])
    with engine.read() as session:
        vote = session.get(Vote, vote_id)
        ceremony = session.get(Ceremony, vote_id)
        assert vote is not None and vote.status == "open", "the encrypted vote did not open"
        assert vote.eligible_heads == size, f"electorate of {vote.eligible_heads}, expected {size}"
        assert ceremony.fingerprint == keyed.election.fingerprint.hex(), "the engine made another election"
    return EncryptedVote(vote_id, instance.id, keyed, place.trustees)


def register_credentials(place: Community, vote: EncryptedVote, count: int) -> None:
    """Voters 0..count-1's credentials, as their devices would register them (bulk insert: the same rows)."""
    db = place.engine.db
    with db.engine.begin() as conn:
        keys = set(conn.scalars(select(ElectorateEntry.voter_key).where(ElectorateEntry.vote_id == vote.vote_id)))
        rows = [{"vote_id": vote.vote_id, "voter_key": f"m:{member_id}",
                 "credential": encoding.hx(base_mul(credential_secret(vote.vote_id, i)))}
                for i, member_id in enumerate(place.voters[:count])]
        assert all(r["voter_key"] in keys for r in rows), "a voter is not in the electorate"
        conn.execute(insert(VoterCredential.__table__), rows)
