"""Signed checkpoints: the deployment vouches, with its Ed25519 key, for every chain head at once.

A checkpoint's statement names its time, reason, the number of heads, their Merkle root and the
previous checkpoint's statement hash; the signature covers that statement. An auditor holding a
checkpoint (from a bundle, or fetched when it was made) catches any later rewrite of a history up
to its head — even one whose hashes were all recomputed — unless the rewriter also holds the
signing key, which lives in a file outside the database.
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
from engine.kernel.db import CHECKPOINT_LOCK, advisory_xact_lock
from engine.audit.sealing.models import Checkpoint
from engine.kernel.models import Instance

STATEMENT_FORMAT = "yishi-checkpoint/1"
PUBLISH = "yishi.audit.publish"
"""Session flag: this command published a result; the engine signs a checkpoint after the commit."""


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
    """What the signature covers (the heads themselves are covered through their root)."""
    return {"format": STATEMENT_FORMAT, "id": checkpoint["id"], "at": checkpoint["at"], "reason": checkpoint["reason"],
            "size": checkpoint["size"], "root": checkpoint["root"], "previous": checkpoint["previous"]}


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
    return {"id": row.id, "at": timestamp(row.at), "reason": row.reason, "size": len(row.heads), "root": row.root,
            "previous": row.previous, "key_id": row.key_id, "signature": row.signature}


def publish(session: Session, what: str) -> None:
    """Mark the command as publishing a result: a checkpoint follows its commit."""
    session.info[PUBLISH] = what


def latest(session: Session) -> Checkpoint | None:
    return session.scalars(select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1)).first()


def current_heads(session: Session) -> list[list[Any]]:
    """[community, instance, seq, head] of every instance: with its community named, a leaf says whose
    bundle must prove it, so deleting a whole instance is caught too."""
    rows = session.execute(select(Instance.community_id, Instance.id, Instance.last_seq, Instance.head_hash)
                           .where(Instance.last_seq > 0).order_by(Instance.id))
    return [list(row) for row in rows]


def make(session: Session, signer: Signer, now: datetime, reason: str, *, only_if_changed: bool = False) -> Checkpoint | None:
    """Sign the current heads; with ``only_if_changed``, nothing when they equal the latest checkpoint's.

    One signer at a time, whichever process signs (the API after a published result, any worker's
    periodic checkpoint): on PostgreSQL the caller's transaction first waits for ``CHECKPOINT_LOCK``,
    held to its commit, and only then reads the previous checkpoint and the heads, so concurrent
    signers chain one after the other instead of both claiming the next id. On SQLite units of work
    take turns already.
    """
    advisory_xact_lock(session.connection(), CHECKPOINT_LOCK)
    previous = latest(session)
    heads = current_heads(session)
    if only_if_changed and previous is not None and previous.heads == heads:
        return None
    row = Checkpoint(
        id=(previous.id + 1) if previous else 1, at=now, reason=reason[:200], heads=heads,
        root=merkle.root([merkle.leaf_hash(head) for head in heads]),
        previous=statement_hash(as_dict(previous)) if previous else GENESIS, key_id=signer.key_id, signature="",
    )
    row.signature = signer.sign(canonical_json(statement(as_dict(row))).encode())
    session.add(row)
    return row


@dataclass(frozen=True)
class HeadProof:
    """One instance's head in a checkpoint, with the path that leads from it to the signed root."""

    head: list[Any]
    index: int
    path: list[str]


def with_proofs(row: Checkpoint, proofs: list[HeadProof]) -> dict[str, Any]:
    """A checkpoint as bundles and the API show it: its signed statement, and the heads it proves."""
    return {**as_dict(row), "heads": [{"head": p.head, "index": p.index, "path": p.path} for p in proofs]}


def proofs(row: Checkpoint, community_id: int, instance_id: str | None = None) -> list[HeadProof]:
    """The proofs for a community's heads (or one instance's) in a checkpoint."""
    wanted = [i for i, head in enumerate(row.heads) if head[0] == community_id and instance_id in (None, head[1])]
    if not wanted:
        return []
    _, paths = merkle.inclusion_paths([merkle.leaf_hash(head) for head in row.heads])
    return [HeadProof(row.heads[i], i, paths[i]) for i in wanted]
