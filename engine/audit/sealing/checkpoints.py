"""Signed checkpoints: the deployment vouches, with its Ed25519 key, for every chain head at once.

A checkpoint's statement names its time, reason, a Merkle root over every head and the previous
checkpoint's statement hash; the signature covers that statement. An auditor holding a checkpoint
(from a bundle, or fetched when it was made) catches any later rewrite of a history up to its
head — even one whose hashes were all recomputed — unless the rewriter also holds the signing key,
which lives in a file outside the database.

Every community's members get every checkpoint, so what a checkpoint shows one community must not
depend on another's instances. Format 1 (``yishi-checkpoint/1``) signed one tree over all heads and
its size: each community learnt the deployment's number of instances, and from its proofs' indices
where its own lay among the others'. Format 2 (``yishi-checkpoint/2``, signed since migration 0005)
has two levels:

- per community, a tree over its own heads (by instance id), root r_c and size n_c;
- above them a blinded sparse tree of depth ``TOP_DEPTH``: community c's leaf
  ``["community", c, n_c, r_c, nonce_c]`` sits at position c, and every empty subtree is a hash
  derived from a secret of the checkpoint's own (``blinding``, never shown). Every community in
  the deployment has a leaf, with or without instances.

A community's view carries its own leaf, nonce and path, and its heads' paths within its subtree.
The path has ``TOP_DEPTH`` siblings whatever the number of communities, and each sibling is a hash
of leaves with nonces or of the secret: without the nonces, an empty community's leaf (n = 0, the empty
root) cannot be told from another's, nor a full subtree from an empty one; and as the nonces are new
in every checkpoint, not even whether another community changed since the last one. The statement
signs no size. Format 1 checkpoints stay as they were signed (their size is in their statement),
and verify as before.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit.sealing import merkle
from engine.audit.sealing.chain import GENESIS, timestamp
from engine.bpmn.workflows import canonical_json
from engine.audit.sealing.models import Checkpoint
from engine.identity.models import Community
from engine.kernel.db import CHECKPOINT_LOCK, advisory_xact_lock
from engine.kernel.models import Instance

FORMAT_V1 = "yishi-checkpoint/1"
FORMAT_V2 = "yishi-checkpoint/2"
FORMATS = {1: FORMAT_V1, 2: FORMAT_V2}
"""The ``format`` column's numbers, and the statement format each stands for."""
TOP_DEPTH = 32
"""The community tree's depth: room for every community id a 32-bit key can hold."""
PUBLISHED = "result published"
"""The reason of a checkpoint signed after a published result: every community reads it, so it names
no instance, vote or cycle (format 1's reasons did)."""


def key_id(public_pem: str) -> str:
    public = serialization.load_pem_public_key(public_pem.encode())
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


class Signer:
    """The deployment's signing key, kept in a PEM file readable by its owner only."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.key_id = key_id(self.public_pem)

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        """Load the key, creating it on first use (a fresh deployment has none yet)."""
        if not path.exists():
            _create_key(path)
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return cls(private)

    def sign(self, message: bytes) -> str:
        return self._private.sign(message).hex()

    def derive(self, purpose: str) -> bytes:
        """A secret of its own for ``purpose`` (HKDF over the private key): one file to keep outside the
        database, and a leaked derived secret reveals neither the key nor another purpose's secret."""
        raw = self._private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                          serialization.NoEncryption())
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(raw)


def _create_key(path: Path) -> None:
    """Write a new key, readable by its owner only; if another process won the race, theirs stands."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)


def statement(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """What the signature covers (the heads themselves are covered through their root), by format:
    a checkpoint without one is of format 1 (bundles and kept copies from before format 2)."""
    fields = {"format": checkpoint.get("format", FORMAT_V1), "id": checkpoint["id"], "at": checkpoint["at"],
              "reason": checkpoint["reason"], "root": checkpoint["root"], "previous": checkpoint["previous"]}
    if fields["format"] == FORMAT_V1:
        fields["size"] = checkpoint.get("size")
    return fields


def statement_hash(checkpoint: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(statement(checkpoint)).encode()).hexdigest()


def signature_valid(checkpoint: dict[str, Any], public_pem: str) -> bool:
    """False for a key that is not a readable Ed25519 key, too: a bundle brings its own keys."""
    try:
        public = serialization.load_pem_public_key(public_pem.encode())
    except (ValueError, TypeError):
        return False
    if not isinstance(public, Ed25519PublicKey):
        return False
    try:
        public.verify(bytes.fromhex(checkpoint["signature"]), canonical_json(statement(checkpoint)).encode())
    except (InvalidSignature, ValueError):
        return False
    return True


def as_dict(row: Checkpoint) -> dict[str, Any]:
    """The signed statement with its signature. Format 1 keeps its size: it is in what was signed."""
    signed = {"format": FORMATS[row.format], "id": row.id, "at": timestamp(row.at), "reason": row.reason, "root": row.root,
              "previous": row.previous, "key_id": row.key_id, "signature": row.signature}
    return {**signed, "size": len(row.heads)} if row.format == 1 else signed


def latest(session: Session) -> Checkpoint | None:
    return session.scalars(select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1)).first()


def current_heads(session: Session) -> list[list[Any]]:
    """[community, instance, seq, head] of every instance: with its community named, a leaf says whose
    bundle must prove it, so deleting a whole instance is caught too."""
    rows = session.execute(select(Instance.community_id, Instance.id, Instance.last_seq, Instance.head_hash)
                           .where(Instance.last_seq > 0).order_by(Instance.id))
    return [list(row) for row in rows]


def current_communities(session: Session) -> list[int]:
    """Every community, with instances or not: an empty one's leaf (n = 0) is what shows that it had none."""
    return list(session.scalars(select(Community.id).order_by(Community.id)))


def make(session: Session, signer: Signer, now: datetime, reason: str, *, only_if_changed: bool = False) -> Checkpoint | None:
    """Sign the current heads (format 2); with ``only_if_changed``, nothing when they and the communities
    equal the latest checkpoint's.

    One signer at a time, whichever process signs (the API after a published result, any worker's
    periodic checkpoint): on PostgreSQL the caller's transaction first waits for ``CHECKPOINT_LOCK``,
    held to its commit, and only then reads the previous checkpoint and the heads, so concurrent
    signers chain one after the other instead of both claiming the next id. On SQLite units of work
    take turns already.
    """
    advisory_xact_lock(session.connection(), CHECKPOINT_LOCK)
    previous = latest(session)
    heads, communities = current_heads(session), current_communities(session)
    if only_if_changed and previous is not None and (previous.heads, previous.communities) == (heads, communities):
        return None
    row = Checkpoint(
        id=(previous.id + 1) if previous else 1, format=2, at=now, reason=reason[:200], heads=heads, communities=communities,
        blinding=os.urandom(32).hex(), root="", previous=statement_hash(as_dict(previous)) if previous else GENESIS,
        key_id=signer.key_id, signature="",
    )
    row.root = Tree(row).root
    row.signature = signer.sign(canonical_json(statement(as_dict(row))).encode())
    session.add(row)
    return row


class Tree:
    """A format 2 checkpoint's two levels, rebuilt from its row: every community's subtree, and the
    blinded tree over them."""

    def __init__(self, row: Checkpoint) -> None:
        self._blinding = bytes.fromhex(row.blinding)
        self.heads: dict[int, list[list[Any]]] = {c: [] for c in row.communities}
        for head in row.heads:
            self.heads.setdefault(head[0], []).append(head)
        self.roots = {c: merkle.root([merkle.leaf_hash(h) for h in heads]) for c, heads in self.heads.items()}
        leaves = {c: community_leaf(c, len(self.heads[c]), self.roots[c], self.nonce(c)) for c in self.heads}
        self._levels = merkle.sparse_levels(leaves, TOP_DEPTH, self._filler)
        self.root = merkle.sparse_root(self._levels, self._filler)

    def nonce(self, community_id: int) -> str:
        """The community leaf's nonce: shown to that community only, and new in every checkpoint."""
        return hashlib.sha256(b"nonce" + self._blinding + str(community_id).encode()).hexdigest()

    def _filler(self, level: int, index: int) -> str:
        return hashlib.sha256(b"empty" + self._blinding + f"{level}:{index}".encode()).hexdigest()

    def community_proof(self, community_id: int) -> dict[str, Any] | None:
        """What leads from the community's subtree to the signed root; None if it did not exist yet."""
        if community_id not in self.heads:
            return None
        return {"id": community_id, "size": len(self.heads[community_id]), "root": self.roots[community_id],
                "nonce": self.nonce(community_id), "path": merkle.sparse_path(self._levels, community_id, self._filler)}


def community_leaf(community_id: int, size: int, root: str, nonce: str) -> str:
    return merkle.leaf_hash(["community", community_id, size, root, nonce])


@dataclass(frozen=True)
class HeadProof:
    """One instance's head in a checkpoint, with the path that leads from it to the signed root
    (format 1) or to its community's root (format 2)."""

    head: list[Any]
    index: int
    path: list[str]


def view(row: Checkpoint, community_id: int, instance_id: str | None = None, *, skip: frozenset[tuple[Any, ...]] = frozenset()) -> dict[str, Any]:
    """A checkpoint as bundles and the API show it to a community: its signed statement, the proofs of
    the community's heads (or one instance's) but those in ``skip``, and in format 2 the community's own proof."""
    if row.format == 1:
        return _with_proofs(as_dict(row), _v1_proofs(row, community_id, instance_id), skip)
    tree = Tree(row)
    heads = tree.heads.get(community_id, [])
    _, paths = merkle.inclusion_paths([merkle.leaf_hash(h) for h in heads])
    proofs = [HeadProof(h, i, paths[i]) for i, h in enumerate(heads) if instance_id in (None, h[1])]
    return {**_with_proofs(as_dict(row), proofs, skip), "community": tree.community_proof(community_id)}


def _with_proofs(signed: dict[str, Any], proofs: list[HeadProof], skip: frozenset[tuple[Any, ...]]) -> dict[str, Any]:
    return {**signed, "heads": [{"head": p.head, "index": p.index, "path": p.path} for p in proofs if tuple(p.head) not in skip]}


def _v1_proofs(row: Checkpoint, community_id: int, instance_id: str | None) -> list[HeadProof]:
    """Format 1: the proofs, in the tree of every community's heads, of this community's."""
    wanted = [i for i, head in enumerate(row.heads) if head[0] == community_id and instance_id in (None, head[1])]
    if not wanted:
        return []
    _, paths = merkle.inclusion_paths([merkle.leaf_hash(head) for head in row.heads])
    return [HeadProof(row.heads[i], i, paths[i]) for i in wanted]
